"""Search, as a clerk uses it: real Chromium over http, the real content, Pagefind's own bundle.

A clerk types a few words they remember from the evidence and expects the answer that says them
among the first results, with the link going to the paragraph and the words marked there.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from bs4 import BeautifulSoup

from conftest import CONTENT, TEMPLATES, Server, build_site

from evidence_site import index

pytestmark = pytest.mark.browser

LABELS = yaml.safe_load((TEMPLATES / "labels" / "en.yaml").read_text(encoding="utf-8"))
SUB = "/some-repo/"
HIGHLIGHT = "pagefind-highlight"
RECORD = "responses/policing-in-wales/{}/"

# What a clerk would type, and the answer (body/question) they mean.
CLERK_QUERIES = [
    ("Operation Mamba", "north-wales-police/resource-allocation"),
    ("school exclusion", "north-wales-opcc/strategic-direction"),
    ("466", "south-wales-opcc/resource-allocation"),
    ("Positive Futures", "gwent-opcc/strategic-direction"),
    ("INTACT", "dyfed-powys-police/resource-allocation"),
]

# Pagefind's API as a new user would call it, straight from the bundle.
PAGEFIND_SEARCH = """async ([bundle, q]) => {
  const pagefind = await import(bundle + "pagefind.js");
  const found = await pagefind.search(q);
  const data = await Promise.all(found.results.slice(0, 3).map(r => r.data()));
  return data.map(d => ({url: d.url, title: d.meta.title}));
}"""


def words(text: str) -> list[str]:
    return text.casefold().split()


@pytest.fixture(scope="module")
def sub_site(tmp_path_factory):
    """The site built with --base-url /some-repo/ and served only under that path."""
    out = build_site(tmp_path_factory.mktemp("sub") / "_site", base_url=SUB)
    s = Server(out, SUB)
    yield s
    s.close()


def run_search(pg, base: str, query: str = "", **filters: str) -> list[dict]:
    """Open the search page with ?q= (as the header box does) and wait for the announced count."""
    params = [("q", query)] + list(filters.items())
    pg.goto(base + "search/?" + "&".join(f"{k}={quote(v)}" for k, v in params))
    wait_for_status(pg)
    return results(pg)


def wait_for_status(pg, not_text: str | None = None) -> str:
    pg.wait_for_function("""([loading, old]) => {
        const s = document.getElementById("search-status").textContent;
        return s && s !== loading && s !== old;
    }""", arg=[LABELS["search_loading"], not_text])
    return pg.inner_text("#search-status")


def tab_to(pg, element_id: str, presses: int = 60) -> None:
    """Press Tab, as a keyboard user does, until the element has focus; fail if it never does."""
    for _ in range(presses):
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement.id") == element_id:
            return
    pytest.fail(f"#{element_id} is not reachable by Tab")


def results(pg) -> list[dict]:
    return pg.eval_on_selector_all("#search-results > li", """items => items.map(li => ({
        href: li.querySelector("h2 a").getAttribute("href"),
        title: li.querySelector("h2 a").textContent,
        kind: (li.querySelector(".search-result-kind") || {}).textContent || "",
        excerpt: (li.querySelector(".search-excerpt") || {}).textContent || "",
        marks: [...li.querySelectorAll(".search-excerpt mark")].map(m => m.textContent),
    }))""")


def paragraph_text(site_dir, path: str, anchor: str) -> str:
    html = (site_dir / path.strip("/") / "index.html").read_text(encoding="utf-8")
    el = BeautifulSoup(html, "html.parser").find(id=anchor)
    assert el is not None, f"{path} has no element #{anchor}"
    return el.get_text(" ")


# ---- What is indexed, and how --------------------------------------------------------------------

def test_only_record_entity_and_figures_pages_are_indexed(site_dir):
    indexed = []
    for f in sorted(site_dir.rglob("*.html")):
        if f.relative_to(site_dir).parts[0] == "pagefind":
            continue
        if re.search(r"<[^>]*\sdata-pagefind-body[\s>=]", f.read_text(encoding="utf-8")):
            indexed.append(f.relative_to(site_dir).as_posix())
    kinds = re.compile(r"^(responses/[^/]+/[^/]+/[^/]+/|(initiatives|inspections|documents|organisations)/[^/]+/|figures/)index\.html$")
    assert [p for p in indexed if not kinds.match(p)] == []
    assert sum(p.startswith("responses/") for p in indexed) == 16  # 8 bodies × 2 questions
    entry = json.loads((site_dir / "pagefind" / "pagefind-entry.json").read_text())
    assert sum(lang["page_count"] for lang in entry["languages"].values()) == len(indexed)


def test_pagefind_reads_only_the_folders_of_indexed_pages_and_makes_the_same_index(site_dir, tmp_path):
    """The build points Pagefind at the folders that hold the pages it indexes: the Welsh interface's
    twins and the force and question pages are not read at all, and the index is the one Pagefind
    makes reading every page (fragments are named by a hash of each page's indexed words and data)."""
    whole = tmp_path / "whole"
    shutil.copytree(site_dir, whole, ignore=lambda folder, names: ["pagefind"] if Path(folder) == site_dir else [])
    index.build_index(whole)  # no list of pages: Pagefind reads every page of the folder

    def made(root: Path) -> tuple[list[str], int]:
        entry = json.loads((root / "pagefind" / "pagefind-entry.json").read_text())
        return (sorted(p.name for p in (root / "pagefind" / "fragment").iterdir()),
                sum(lang["page_count"] for lang in entry["languages"].values()))

    assert made(site_dir) == made(whole)
    searched = [f.relative_to(site_dir).as_posix() for f in site_dir.rglob("*.html")
                if "data-pagefind-body" in f.read_text(encoding="utf-8")]
    glob = index.glob_of(searched)
    assert "cy/" not in glob and "forces/" not in glob and "responses/**/*.html" in glob


def test_the_search_bundle_is_whole(site_dir):
    """Pagefind 1.5.2 can be stopped before its last writes land; index.py waits and rewrites."""
    bundle = site_dir / "pagefind"
    for f in bundle.rglob("*.pf_*"):
        gzip.decompress(f.read_bytes())  # raises on a cut-short file
    entry = json.loads((bundle / "pagefind-entry.json").read_text())
    for lang in entry["languages"].values():
        gzip.decompress((bundle / f"pagefind.{lang['hash']}.pf_meta").read_bytes())
        gzip.decompress((bundle / f"wasm.{lang['wasm']}.pagefind").read_bytes())
    assert "export{" in (bundle / "pagefind.js").read_text()[-300:], "pagefind.js is cut short"
    for name in ("pagefind-worker.js", "pagefind-highlight.js"):
        assert (bundle / name).stat().st_size > 10_000, name


def test_pagefind_bundle_has_the_four_filters_with_the_sites_names(tab, server):
    tab.goto(server.url + "search/")
    filters = tab.evaluate("""async (bundle) => {
        const pagefind = await import(bundle + "pagefind.js");
        return await pagefind.filters();
    }""", "/pagefind/")
    assert {"force", "body", "question", "type"} <= set(filters)
    forces = {f["name"] for f in yaml.safe_load((CONTENT / "forces.yaml").read_text())["forces"]}
    bodies = {b["name"] for b in yaml.safe_load((CONTENT / "bodies.yaml").read_text())["bodies"]}
    questions = {q["title"] for q in yaml.safe_load((CONTENT / "questions.yaml").read_text())["questions"]}
    assert set(filters["force"]) == forces
    assert set(filters["body"]) == bodies
    assert set(filters["question"]) == questions
    assert filters["type"]["record"] == 16
    assert set(filters["type"]) <= {"record", "initiative", "inspection", "document", "organisation", "figures"}


@pytest.mark.parametrize("query,record", CLERK_QUERIES)
def test_pagefind_itself_ranks_the_record_in_the_first_three(tab, server, query, record):
    """As the issue checks it: pagefind.js with its default ranking, no help from our page."""
    tab.goto(server.url + "search/")
    found = tab.evaluate(PAGEFIND_SEARCH, ["/pagefind/", query])
    assert "/" + RECORD.format(record) in [r["url"] for r in found], found
    body, question = record.split("/")
    title = next(r["title"] for r in found if r["url"] == "/" + RECORD.format(record))
    assert title == f"{_body_name(body)} — {_question_title(question)}"


def _body_name(body_id: str) -> str:
    return next(b["name"] for b in yaml.safe_load((CONTENT / "bodies.yaml").read_text())["bodies"] if b["id"] == body_id)


def _question_title(q_id: str) -> str:
    return next(q["title"] for q in yaml.safe_load((CONTENT / "questions.yaml").read_text())["questions"] if q["id"] == q_id)


def test_full_response_force_and_question_pages_never_come_up(tab, server):
    tab.goto(server.url + "search/")
    urls = tab.evaluate("""async () => {
        const pagefind = await import("/pagefind/pagefind.js");
        const found = await pagefind.search("exploitation");
        return Promise.all(found.results.map(r => r.data().then(d => d.url)));
    }""")
    assert len(urls) > 16
    assert not [u for u in urls if re.match(r"^/(responses/[^/]+/|forces/[^/]+/|questions/[^/]+/|)$", u)]


# ---- The search page ----------------------------------------------------------------------------

@pytest.mark.parametrize("query,record", CLERK_QUERIES)
def test_clerk_query_leads_to_the_paragraph_that_says_it(tab, server, site_dir, query, record):
    found = run_search(tab, server.url, query)
    top = [r for r in found[:3] if urlsplit(r["href"]).path == "/" + RECORD.format(record)]
    assert top, f"{record} not in the first three results for {query!r}: {[r['href'] for r in found[:3]]}"
    link = urlsplit(top[0]["href"])
    assert link.fragment, f"the result links to the page, not the paragraph: {top[0]['href']}"
    said = words(paragraph_text(site_dir, link.path, link.fragment))
    assert all(any(w.startswith(q) for w in said) for q in words(query)), (link.fragment, said)
    assert parse_qs(link.query)[HIGHLIGHT] == query.split()
    assert {m.casefold() for m in top[0]["marks"]} >= set(words(query)), top[0]
    assert top[0]["title"] == f"{_body_name(record.split('/')[0])} — {_question_title(record.split('/')[1])}"


def test_result_count_is_announced_politely(tab, server):
    status = tab.locator("#search-status")
    found = run_search(tab, server.url, "Operation Mamba")
    assert status.get_attribute("aria-live") == "polite"
    assert status.inner_text() == LABELS["search_results_count"].format(n=len(found), q="Operation Mamba")
    run_search(tab, server.url, "school exclusion")
    assert status.inner_text() == LABELS["search_result_count_one"].format(q="school exclusion")
    run_search(tab, server.url, "qwertyuiop")
    assert status.inner_text() == LABELS["search_no_results_for"].format(q="qwertyuiop")
    assert results(tab) == []


def test_a_force_filter_narrows_the_results_and_stays_in_the_url(tab, server):
    everything = run_search(tab, server.url, "exploitation")
    legends = tab.locator(".search-filters fieldset legend").all_inner_texts()
    assert legends == [LABELS["filter_force"], LABELS["filter_body"], LABELS["filter_question"], LABELS["filter_type"]]
    gwent = tab.locator('input[name="force"][value="Gwent"]')
    promised = int(re.search(r"\d+", tab.locator("label[for='%s'] .search-count" % gwent.get_attribute("id")).inner_text())[0])
    before = tab.inner_text("#search-status")
    gwent.check()
    status = wait_for_status(tab, not_text=before)
    assert status == LABELS["search_results_count"].format(n=promised, q="exploitation")
    assert 0 < promised < int(re.search(r"\d+", before)[0])
    narrowed = results(tab)
    assert narrowed and len(narrowed) <= len(everything)
    assert all("Gwent" in r["kind"] for r in narrowed), [r["kind"] for r in narrowed]
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["exploitation"], "force": ["Gwent"]}
    # The address alone brings the same search back (back button, a link sent to a colleague).
    again = run_search(tab, server.url, "exploitation", force="Gwent")
    assert tab.locator('input[name="force"][value="Gwent"]').is_checked()
    assert [r["href"] for r in again] == [r["href"] for r in narrowed]


def test_header_search_box_leads_to_the_search_page_with_the_query(tab, server):
    tab.goto(server.url + RECORD.format("gwent-police/strategic-direction"))
    tab.fill("#header-search-input", "466")
    with tab.expect_navigation():
        tab.press("#header-search-input", "Enter")
    assert urlsplit(tab.url).path == "/search/" and parse_qs(urlsplit(tab.url).query)["q"] == ["466"]
    wait_for_status(tab)
    assert tab.input_value("#search-input") == "466"
    assert any(urlsplit(r["href"]).path == "/" + RECORD.format("south-wales-opcc/resource-allocation") for r in results(tab))


def test_back_button_returns_to_the_search_and_to_the_query_before(tab, server):
    run_search(tab, server.url, "466")
    before = tab.inner_text("#search-status")
    tab.fill("#search-input", "Positive Futures")
    tab.press("#search-input", "Enter")
    wait_for_status(tab, not_text=before)
    assert parse_qs(urlsplit(tab.url).query)["q"] == ["Positive Futures"]
    with tab.expect_navigation():
        tab.click("#search-results > li:first-child h2 a")
    tab.go_back()
    wait_for_status(tab)
    assert tab.input_value("#search-input") == "Positive Futures" and results(tab)
    now = tab.inner_text("#search-status")
    tab.go_back()
    assert wait_for_status(tab, not_text=now) == LABELS["search_results_count"].format(n=len(results(tab)), q="466")
    assert tab.input_value("#search-input") == "466"


def test_keyboard_only_search_reaches_the_paragraph_with_the_words_marked(tab, server):
    tab.goto(server.url + "search/")
    tab_to(tab, "search-input", 40)
    tab.keyboard.type("school exclusion")
    tab.keyboard.press("Enter")
    wait_for_status(tab)
    first = tab.locator("#search-results > li h2 a").first
    for presses in range(1, 4):
        tab.keyboard.press("Tab")
        if first.evaluate("a => a === document.activeElement"):
            break
    else:
        pytest.fail("Tab from the search box does not reach the first result within three presses")
    outline = first.evaluate("a => getComputedStyle(a).outlineStyle")
    assert outline != "none", "the focused result shows no focus ring"
    target = urlsplit(first.get_attribute("href"))
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    assert urlsplit(tab.url).path == target.path and urlsplit(tab.url).fragment == target.fragment
    tab.wait_for_selector("mark.pagefind-highlight")
    marked = tab.locator(f"#{target.fragment} mark.pagefind-highlight").all_inner_texts()
    assert {m.casefold() for m in marked} >= {"school", "exclusion"}, marked


# ---- Under a sub-path ---------------------------------------------------------------------------

def test_search_works_under_a_sub_path(tab, sub_site):
    asked = []

    def note(request):
        asked.append(urlsplit(request.url).path)

    tab.on("request", note)
    try:
        found = run_search(tab, sub_site.url, "Operation Mamba")
    finally:
        tab.remove_listener("request", note)
    assert [p for p in asked if not p.startswith(SUB)] == [], "a request left the sub-path"
    assert any(p == SUB + "pagefind/pagefind.js" for p in asked)
    assert found and all(r["href"].startswith(SUB) for r in found), [r["href"] for r in found]
    record = next(r for r in found if urlsplit(r["href"]).path == SUB + RECORD.format("north-wales-police/resource-allocation"))
    with tab.expect_navigation():
        tab.click(f"#search-results a[href='{record['href']}']")
    assert tab.inner_text("h1") == f"{_body_name('north-wales-police')}: {_question_title('resource-allocation')}"
    tab.wait_for_selector("mark.pagefind-highlight")
    assert "Mamba" in tab.locator(f"#{urlsplit(record['href']).fragment} mark").all_inner_texts()


# ---- No search code elsewhere; no JavaScript; the Content Security Policy ---------------------------

def test_other_pages_load_no_search_code_until_a_result_asks_for_highlighting(browser, server):
    context = browser.new_context()
    pg = context.new_page()
    asked = []
    pg.on("request", lambda r: asked.append(urlsplit(r.url).path))
    for path in ("", RECORD.format("gwent-opcc/strategic-direction"), "forces/gwent/", "initiatives/intact/"):
        pg.goto(server.url + path)
        pg.wait_for_load_state("networkidle")
    assert [p for p in asked if "/pagefind/" in p] == []
    pg.goto(server.url + RECORD.format("gwent-opcc/strategic-direction") + f"?{HIGHLIGHT}=Futures#gwent-opcc-q1-03")
    pg.wait_for_selector("mark.pagefind-highlight")
    assert "/pagefind/pagefind-highlight.js" in asked
    assert "/pagefind/pagefind.js" not in asked
    context.close()


def test_search_and_highlighting_run_under_the_content_security_policy(browser, server):
    """Nothing refused by the policy, and no complaint from Pagefind (its worker starts)."""
    context = browser.new_context()
    pg = context.new_page()
    refused = []
    pg.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text or "Pagefind" in m.text else None)
    csp = pg.goto(server.url + "search/?q=INTACT")
    assert "script-src 'self' 'wasm-unsafe-eval'" in (csp.text() if csp else "")
    wait_for_status(pg)
    with pg.expect_navigation():
        pg.click("#search-results > li:first-child h2 a")
    pg.wait_for_selector("mark.pagefind-highlight")
    assert refused == []
    context.close()


def test_a_site_built_without_search_says_search_is_not_available(browser, tmp_path):
    out = build_site(tmp_path / "_site", search=False)
    s = Server(out)
    context = browser.new_context()
    try:
        pg = context.new_page()
        pg.goto(s.url + "search/?q=466")
        assert wait_for_status(pg) == LABELS["search_unavailable"]
    finally:
        context.close()
        s.close()


def test_search_page_has_no_inline_script_or_style(site_dir):
    soup = BeautifulSoup((site_dir / "search/index.html").read_text(encoding="utf-8"), "html.parser")
    assert [s for s in soup.find_all("script") if not s.get("src")] == []
    assert soup.find_all("style") == [] and soup.find_all(style=True) == []
    root = soup.find(id="search")
    assert root["data-bundle"] == "/pagefind/"
    assert all(root.get("data-label-" + k) for k in ("results", "result-one", "no-results", "filter-count"))


def test_without_javascript_the_search_page_says_so_and_offers_the_browse_pages(browser, server, site_dir):
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(server.url + "search/")
    note = pg.locator("main noscript p")  # (Playwright's text search skips <noscript>)
    assert note.is_visible() and note.inner_text() == LABELS["search_noscript"]
    assert not pg.locator("#search-input").is_visible(), "a search box that cannot work is shown"
    links = pg.locator("main a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert "/responses/policing-in-wales/" in links and "/forces/gwent/" in links
    for href in links:
        assert (site_dir / href.strip("/") / "index.html").is_file(), href
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_search_page_with_results_and_filters_is_axe_clean(tab, server, scheme):
    tab.emulate_media(color_scheme=scheme)
    try:
        run_search(tab, server.url, "exploitation", force="Gwent")
        assert results(tab) and tab.locator(".search-excerpt mark").count() > 0
        tab.locator('input[name="type"][value="record"]').focus()  # a visible focus ring in the check too
        violations = Axe().run(tab).response["violations"]
    finally:
        tab.emulate_media(color_scheme="light")
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
