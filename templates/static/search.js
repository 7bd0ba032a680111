// The search page: a thin results list of our own over Pagefind's pagefind.js.
//
// Pagefind ranks pages; we take each page's matched word positions and the paragraph anchors it
// records (every element with an id, with the word position it starts at) and link each result to
// the paragraph that says the words, with Pagefind's highlight parameter so that page marks them.
// Every string shown comes from the page's data-label-* attributes (the labels files); everything
// taken from the index is inserted as text, never as HTML.

const HIGHLIGHT_PARAM = "pagefind-highlight"; // site.js loads the highlighter when it sees this
const GROUPS = ["force", "body", "question", "type"];
const PAGE_SIZE = 10; // results shown at once; "Show more" adds the next ones
const EXCERPT_WORDS = 30;
const MORE_PER_PAGE = 2; // other matching paragraphs listed under a result
const TYPING_PAUSE_MS = 250; // search as the reader types, once they pause

const root = document.getElementById("search");
if (root) start(root);

function start(root) {
  const form = document.getElementById("search-form");
  const input = document.getElementById("search-input");
  const status = document.getElementById("search-status");
  const list = document.getElementById("search-results");
  const more = document.getElementById("search-more");
  const clear = document.getElementById("search-clear");
  const boxes = [...root.querySelectorAll('.search-filters input[type="checkbox"]')];
  // A filter of many values (an inquiry's hundreds of forces) is a drop-down of one choice instead;
  // its options carry a value attribute only where it differs from the text, so fix each value, and
  // keep each name, before the counts change the text.
  const selects = [...root.querySelectorAll(".search-filters select")];
  const choices = selects.flatMap((s) => [...s.options].filter((o) => o.value !== ""));
  for (const o of choices) {
    o.value = o.value;
    o.dataset.name = o.text;
  }
  const evidenceLang = root.dataset.evidenceLang || "";
  const forceNames = JSON.parse(root.dataset.forceNames || "{}");
  const label = (name, vars = {}) =>
    (root.getAttribute("data-label-" + name) || "").replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));

  let api = null; // pagefind.js, imported on first use (a promise of it)
  let loaded = false;
  let totals = null; // filter counts over the whole index
  let run = 0; // the latest search; older ones drop their answers
  let results = [];
  let shown = 0;
  let terms = [];
  let typing = 0;
  let typedSince = false; // a history entry already made for the query being typed

  root.hidden = false; // the page shows the search only when this script runs (see <noscript>)

  function pagefind() {
    api ||= (async () => {
      const bundle = root.dataset.bundle; // from urls.pagefind(), so it carries --base-url
      const pf = await import(bundle + "pagefind.js");
      await pf.options({ basePath: bundle, baseUrl: root.dataset.base, excerptLength: EXCERPT_WORDS });
      await pf.init();
      totals = await pf.filters();
      for (const box of boxes) {
        const known = totals[box.name] && box.value in totals[box.name];
        box.closest(".search-option").hidden = !known; // a value no indexed page carries
      }
      for (const o of choices) {
        const group = o.parentElement.name;
        o.hidden = o.disabled = !(totals[group] && o.value in totals[group]);
      }
      return pf;
    })();
    return api;
  }

  function readState() {
    const sel = {};
    for (const g of GROUPS) {
      sel[g] = boxes.filter((b) => b.name === g && b.checked).map((b) => b.value);
      for (const s of selects) if (s.name === g && s.value) sel[g].push(s.value);
    }
    return { q: input.value.trim(), sel };
  }

  function stateFromUrl() {
    const params = new URLSearchParams(location.search);
    input.value = params.get("q") || "";
    for (const box of boxes) box.checked = params.getAll(box.name).includes(box.value);
    for (const s of selects) {
      const wanted = params.getAll(s.name);
      s.value = ([...s.options].find((o) => o.value && wanted.includes(o.value)) || { value: "" }).value;
    }
  }

  function urlFor(state) {
    const params = new URLSearchParams();
    if (state.q) params.set("q", state.q);
    for (const g of GROUPS) for (const v of state.sel[g]) params.append(g, v);
    const query = params.toString();
    return location.pathname + (query ? "?" + query : "");
  }

  function pfFilters(sel) {
    const out = {};
    for (const g of GROUPS) if (sel[g].length) out[g] = { any: sel[g] }; // any within a group, all across
    return out;
  }

  // The search lives in the address (?q=…&force=…), so a result's Back button, a bookmark or a link
  // sent to a colleague bring it back. A new query makes one history entry (on its first keystroke or
  // on Enter), not one per letter; ticking filters refines the entry in place.
  async function search({ push = false } = {}) {
    const mine = ++run;
    const state = readState();
    const url = urlFor(state);
    if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
    clear.hidden = !GROUPS.some((g) => state.sel[g].length);
    if (!loaded && state.q) status.textContent = label("loading");
    try {
      await searchWith(await pagefind(), state, mine);
      loaded = true;
    } catch (err) {
      if (mine === run) status.textContent = label("unavailable");
      throw err; // and in the console, for whoever looks after the site
    }
  }

  async function searchWith(pf, state, mine) {
    if (mine !== run) return;
    if (!state.q && clear.hidden) {
      results = [];
      list.replaceChildren();
      more.hidden = true;
      status.textContent = "";
      showCounts(totals);
      return;
    }
    const term = state.q || null; // null: every page the filters allow
    terms = highlightTerms(state.q);
    const main = await pf.search(term, { filters: pfFilters(state.sel) });
    // A value's count is what ticking it would give: the query and the other groups' choices.
    const counts = {};
    for (const g of GROUPS) {
      if (state.sel[g].length) {
        const others = await pf.search(term, { filters: pfFilters({ ...state.sel, [g]: [] }) });
        counts[g] = others.filters[g] || {};
      } else {
        counts[g] = main.filters[g] || {};
      }
    }
    if (mine !== run) return;
    results = main.results;
    shown = 0;
    list.replaceChildren();
    await showMore(mine);
    if (mine !== run) return;
    showCounts(counts);
    const n = results.length;
    if (state.q) status.textContent = n === 0 ? label("no-results", { q: state.q }) : label(n === 1 ? "result-one" : "results", { n, q: state.q });
    else status.textContent = n === 0 ? label("filtered-none") : label(n === 1 ? "filtered-one" : "filtered", { n });
  }

  async function showMore(mine) {
    const batch = results.slice(shown, shown + PAGE_SIZE);
    const data = await Promise.all(batch.map((r) => r.data()));
    if (mine !== run) return null;
    const items = data.map((d) => resultItem(d));
    list.append(...items);
    shown += batch.length;
    more.hidden = shown >= results.length;
    return items[0] || null;
  }

  function showCounts(counts) {
    for (const box of boxes) {
      const n = (counts[box.name] || {})[box.value] || 0;
      box.closest(".search-option").querySelector(".search-count").textContent = label("filter-count", { n });
    }
    for (const o of choices) {
      const n = (counts[o.parentElement.name] || {})[o.value] || 0;
      o.text = o.dataset.name + " " + label("filter-count", { n });
    }
  }

  function resultItem(d) {
    const words = contentWords(d);
    // The page opens with its title (the h1); a match there alone says nothing the title does not.
    const titleWords = ((d.meta && d.meta.title) || "").split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
    const groups = paragraphMatches(d, words, titleWords);
    const li = el("li", "search-result");
    const h = el("h2", "search-result-title");
    const a = el("a");
    a.href = linkTo(d.url, groups[0] && groups[0].anchor);
    a.textContent = (d.meta && d.meta.title) || d.url;
    h.append(a);
    li.append(h);
    const title = a.textContent;
    // On a page of another interface language, the evidence (titles, excerpts) stays marked English,
    // and force names are shown in that language (data-force-names, from the labels' language).
    if (evidenceLang) { h.lang = evidenceLang; }
    const kind = [...(d.filters.type || []).map((t) => label("type-" + t) || t), ...(d.filters.force || []).map((f) => forceNames[f] || f)]
      .filter((k) => k !== title); // the key figures page is titled by its type
    if (kind.length) li.append(el("p", "search-result-kind", kind.join(" · ")));
    if (!groups.length || !groups[0].titleOnly) {
      const excerpt = el("p", "search-excerpt");
      if (evidenceLang) excerpt.lang = evidenceLang;
      excerpt.append(...(groups.length ? excerptNodes(words, groups[0]) : [document.createTextNode(ellipsed(words, titleWords))]));
      li.append(excerpt);
    }
    const others = groups.slice(1, 1 + MORE_PER_PAGE).filter((g) => !g.titleOnly);
    if (others.length) {
      li.append(el("p", "search-also", label("also")));
      const ul = el("ul", "search-also-list");
      if (evidenceLang) ul.lang = evidenceLang;
      for (const g of others) {
        const link = el("a");
        link.href = linkTo(d.url, g.anchor);
        link.append(...excerptNodes(words, g));
        const item = el("li");
        item.append(link);
        ul.append(item);
      }
      li.append(ul);
    }
    return li;
  }

  // The page's words as Pagefind counts them (its excerpts split the same way).
  function contentWords(d) {
    if (d.raw_content && d.raw_content.includes("\u200B")) {
      return d.raw_content.split("\u200B").map((w) => w.replace(/&lt;/g, "<").replace(/&gt;/g, ">"));
    }
    return d.content.split(/[\r\n\s]+/g);
  }

  // Matches grouped by the anchor before them (a paragraph, list item or heading of the evidence),
  // best first: the paragraph that has the most of the searched words, then the most matches (so
  // the paragraph about INTACT wins over the bare heading "INTACT" above it).
  function paragraphMatches(d, words, titleWords) {
    const anchors = (d.anchors || []).filter((x) => x.id).sort((x, y) => x.location - y.location);
    const byAnchor = new Map();
    for (const w of d.weighted_locations || []) {
      let i = -1;
      while (i + 1 < anchors.length && anchors[i + 1].location <= w.location) i++;
      if (!byAnchor.has(i)) {
        byAnchor.set(i, {
          anchor: i >= 0 ? anchors[i] : null,
          start: i >= 0 ? anchors[i].location : 0,
          end: i + 1 < anchors.length ? anchors[i + 1].location : words.length,
          locations: [],
          score: 0,
          matched: new Set(),
        });
      }
      const g = byAnchor.get(i);
      g.locations.push(w.location);
      g.score += w.balanced_score || w.weight || 1;
      g.matched.add(termOf(words[w.location] || ""));
    }
    for (const g of byAnchor.values()) g.titleOnly = !g.anchor && g.locations.every((l) => l < titleWords);
    return [...byAnchor.values()].sort((x, y) =>
      x.titleOnly - y.titleOnly || y.matched.size - x.matched.size || y.locations.length - x.locations.length ||
      y.score - x.score || x.start - y.start);
  }

  // Which searched word a matched word stands for ("exclusions" for "exclusion"), so a paragraph
  // with both words of "school exclusion" outranks one that says "school" five times.
  function termOf(word) {
    const w = normalise(word);
    let best = w;
    let bestLen = 0;
    for (const t of terms.map(normalise)) {
      let n = 0;
      while (n < t.length && n < w.length && t[n] === w[n]) n++;
      if (n >= Math.min(t.length, w.length, Math.max(3, t.length - 3)) && n > bestLen) {
        best = t;
        bestLen = n;
      }
    }
    return best;
  }

  function excerptNodes(words, g) {
    const marked = new Set(g.locations);
    const span = Math.min(EXCERPT_WORDS, g.end - g.start);
    // Start a few words before the densest run of matches, inside the paragraph.
    let start = g.start;
    let best = -1;
    for (const loc of g.locations) {
      const s = Math.max(g.start, Math.min(loc - 4, g.end - span));
      const hits = g.locations.filter((l) => l >= s && l < s + span).length;
      if (hits > best) {
        best = hits;
        start = s;
      }
    }
    const end = Math.min(g.end, start + span);
    const nodes = [];
    let text = start > g.start ? "… " : "";
    for (let i = start; i < end; i++) {
      const sep = i + 1 < end ? " " : "";
      if (marked.has(i)) {
        if (text) nodes.push(document.createTextNode(text));
        nodes.push(el("mark", null, words[i]));
        text = sep;
      } else {
        text += words[i] + sep;
      }
    }
    text += end < g.end ? " …" : "";
    if (text) nodes.push(document.createTextNode(text));
    return nodes;
  }

  function ellipsed(words, start) {
    const end = Math.min(words.length, start + EXCERPT_WORDS);
    return words.slice(start, end).join(" ") + (end < words.length ? " …" : "");
  }

  function linkTo(url, anchor) {
    const u = new URL(url, location.href);
    // The index holds the English interface's pages; another interface language has the same pages
    // below its own prefix (urls.py), so a search from there links to its own pages.
    const { base, root: home } = root.dataset;
    if (home && home !== base && u.pathname.startsWith(base)) u.pathname = home + u.pathname.slice(base.length);
    for (const t of terms) u.searchParams.append(HIGHLIGHT_PARAM, t);
    if (anchor) u.hash = anchor.id;
    return u.origin === location.origin ? u.pathname + u.search + u.hash : u.href;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(typing);
    const changed = (new URLSearchParams(location.search).get("q") || "") !== input.value.trim();
    search({ push: changed && !typedSince });
    typedSince = false;
  });
  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      search({ push: !typedSince });
      typedSince = true;
    }, TYPING_PAUSE_MS);
  });
  input.addEventListener("blur", () => {
    typedSince = false; // coming back to the box starts a new query
  });
  for (const control of [...boxes, ...selects]) control.addEventListener("change", () => search());
  clear.addEventListener("click", () => {
    for (const box of boxes) box.checked = false;
    for (const s of selects) s.value = "";
    search();
    input.focus(); // the button hides itself; send focus somewhere useful
  });
  more.addEventListener("click", async () => {
    const first = await showMore(run);
    if (first) first.querySelector("a").focus();
  });
  window.addEventListener("popstate", () => {
    clearTimeout(typing);
    typedSince = false;
    stateFromUrl();
    search();
  });

  stateFromUrl();
  search();
}

function highlightTerms(q) {
  return q.replace(/"/g, " ").split(/\s+/).filter(Boolean);
}

function normalise(word) {
  return word.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
