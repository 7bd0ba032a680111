"""Hostile input: nothing an editor types runs, and no id or folder can make the build write or
delete where it must not. See tests/hostile/README.md for the cases and what each must produce.

The injection tests poison a copy of the real content: every free-text field the schema knows
(names, titles, summaries, paragraph text, figure descriptions, comparison answers, the site's
title …) gets payloads appended, the site is built with search, and every page is loaded in
Chromium under its Content Security Policy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from conftest import CONTENT, ROOT, TEMPLATES, Server, build_site, page_urls

from evidence_site import pipeline, write
from evidence_site.content import classify
from evidence_site.errors import ContentError, ContentErrors
from evidence_site.schema import FILE_SCHEMAS, Schema

# --- payloads ------------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JINJA = "ZQ{{ 7*7 }}QZ"  # evaluated, it would read ZQ49QZ
RAW = "{% raw %}RAWQ{% endraw %}"


def payload(tag: str) -> str:
    """What is appended to one field; ``§tag§`` tells where a payload came from."""
    return (f" §{tag}§ {SCRIPT} {IMG} <svg onload=alert(1)> \" onmouseover=\"alert(1)\" x=\" "
            f"' onfocus='alert(1)' autofocus x=' {JINJA} {RAW} "
            # Markdown that tries to smuggle attributes through a link (shown as text elsewhere)
            '[m1](<https://example.org/" onmouseover="alert(1)>) '
            '[m2](https://example.org "t\\" onmouseover=\\"alert(1)") '
            f"`{SCRIPT}`")


# Fields whose words must also occur in a paragraph (checked by validation), so not appended to.
MUST_MATCH = {("figure", "value"), ("acronym", "term"), ("mention", "text")}
# Addresses: tested one by one below (an unsafe scheme must be refused, not rendered).
URLS = {("site", "site_url"), ("site", "contact_url"), ("site", "contact_email"), ("address", "url")}
# Shown on pages, so each must be seen there as text (proves the poison reached the pages).
SHOWN = {"site.title", "paragraph.text", "body.name", "force.name", "question.title", "question.text",
         "submission.title", "submission.committee", "entity.name", "entity.summary", "figure.counts",
         "topic.title", "cell.answer"}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # content may not use anchors or aliases
        return True


def _poison(value: dict, schema: Schema, tags: set[str]) -> None:
    for f in schema.fields:
        if f.name not in value:
            continue
        key = (schema.name, f.name)
        v = value[f.name]
        if f.type in ("str", "text") and not f.enum and key not in MUST_MATCH | URLS and isinstance(v, str):
            tag = f"{schema.name}.{f.name}"
            value[f.name] = v + payload(tag)
            tags.add(tag)
        elif f.type == "list" and isinstance(f.items, Schema) and isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    _poison(item, f.items, tags)
        elif f.type == "object" and f.schema and isinstance(v, dict):
            _poison(v, f.schema, tags)


def poison_content(dst: Path) -> set[str]:
    """Copy the real content to ``dst`` with payloads in every free-text field; returns the tags.

    Also makes mentions name the payload's ``<img …>`` words, so a mention link wraps them.
    """
    shutil.copytree(CONTENT, dst)
    tags: set[str] = set()
    mentions = 0
    for file in sorted(dst.rglob("*.yaml")):
        kind = classify(file.relative_to(dst).as_posix())
        if kind is None:
            continue
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        _poison(data, FILE_SCHEMAS[kind], tags)
        for p in data.get("paragraphs", []) if kind == "record" else []:
            if p.get("mentions") and mentions < 10:
                p["mentions"][0]["text"] = IMG
                mentions += 1
        file.write_text(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**9),
                        encoding="utf-8")
    if mentions:
        tags.add("mention.text")
    return tags


# --- checks in the browser -----------------------------------------------------------------------

# Everything a payload could have planted, looked for in the live DOM after scripts ran.
DOM_PROBLEMS = r"""(base) => {
  const problems = [];
  const bad = /^[\s\u0000-\u001f]*(javascript|data|vbscript):/i;
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      if (a.name.startsWith("on")) problems.push(`<${el.localName}> has ${a.name}="${a.value}"`);
      if (["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster"].includes(a.name)
          && bad.test(a.value)) problems.push(`<${el.localName}> ${a.name}="${a.value}"`);
    }
  }
  for (const el of document.querySelectorAll('img[src="x"], iframe, frame, object, embed, base, meta[http-equiv="refresh" i]'))
    problems.push(`injected <${el.localName}>`);
  const own = [location.origin + base + "static/", location.origin + base + "pagefind/"];
  for (const s of document.scripts) {
    if (!s.src) problems.push("inline <script>: " + s.textContent.slice(0, 60));
    else if (!own.some((p) => s.src.startsWith(p))) problems.push("foreign <script src>: " + s.src);
  }
  return {problems, text: document.body.innerText, title: document.title};
}"""

CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile || location.href}`));
"""


class Watch:
    """One browser tab that records dialogs, page errors and CSP reports."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.context.add_init_script(CSP_LISTENER)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.console.append(m.text)
                     if "Content Security Policy" in m.text or "Refused to" in m.text else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def csp(self) -> list[str]:
        return self.page.evaluate("window.__csp") + self.console

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    root = tmp_path_factory.mktemp("poisoned")
    tags = poison_content(root / "content")
    out = build_site(root / "site", content=root / "content")
    server = Server(out)
    yield out, server, tags
    server.close()


@pytest.mark.browser
def test_no_payload_runs_on_any_page_and_each_is_shown_as_text(poisoned, browser):
    out, server, tags = poisoned
    urls = page_urls(out)
    assert len(urls) > 20
    watch = Watch(browser)
    seen_tags: set[str] = set()
    try:
        for url in urls:
            watch.page.goto(server.url + url)
            # Hover and focus everything a payload might have hooked, then look.
            watch.page.keyboard.press("Tab")
            found = watch.page.evaluate(DOM_PROBLEMS, "/")
            assert found["problems"] == [], f"{url}: {found['problems'][:5]}"
            text = found["text"]
            assert JINJA in text and "ZQ49QZ" not in text, f"{url}: Jinja syntax in content was evaluated"
            assert RAW in text, f"{url}: {{% raw %}} in content was not shown as written"
            assert SCRIPT in text and IMG in text, f"{url}: the payload is not shown as text"
            escaped_twice = re.findall(r".{0,40}&(?:lt|gt|quot|amp|#\d+);.{0,20}", text)
            assert not escaped_twice, f"{url}: escaped twice, a reader sees {escaped_twice[:3]}"
            assert f"§site.title§ {SCRIPT}" in found["title"], f"{url}: <title> lost the site title as text"
            seen_tags |= set(re.findall(r"§([a-z_]+\.[a-z_]+)§", text))
            assert watch.csp() == [], f"{url}: {watch.csp()}"
        assert watch.dialogs == [], watch.dialogs
        assert watch.errors == [], watch.errors
    finally:
        watch.close()
    missing = sorted((SHOWN & tags) - seen_tags)
    assert not missing, f"fields poisoned but never seen on a page: {missing}"


@pytest.mark.browser
def test_mention_links_wrap_the_payload_as_text(poisoned, browser):
    out, server, tags = poisoned
    assert "mention.text" in tags
    watch = Watch(browser)
    try:
        hits = 0
        for url in page_urls(out):
            if not url.startswith("responses/"):
                continue
            watch.page.goto(server.url + url)
            texts = watch.page.eval_on_selector_all("a.mention", "els => els.map((a) => a.textContent)")
            hits += texts.count(IMG)
        assert hits > 0, "no mention link carries the payload's words"
        assert watch.dialogs == []
    finally:
        watch.close()


@pytest.mark.browser
def test_search_results_show_poisoned_names_as_text(poisoned, browser):
    """Pagefind stores the poisoned words; our results list must insert them as text."""
    out, server, _ = poisoned
    watch = Watch(browser)
    try:
        watch.page.goto(server.url + "search/?q=onerror")
        watch.page.wait_for_selector("#search-results li", timeout=20_000)
        found = watch.page.evaluate(DOM_PROBLEMS, "/")
        assert found["problems"] == [], found["problems"][:5]
        assert IMG in watch.page.inner_text("#search-results")
        # Excerpts from Pagefind itself carry no markup but its own <mark>.
        excerpts = watch.page.evaluate("""async () => {
            const pf = await import("/pagefind/pagefind.js");
            const r = await pf.search("onerror");
            return Promise.all(r.results.slice(0, 10).map(async (x) => (await x.data()).excerpt));
        }""")
        assert excerpts
        for e in excerpts:
            assert re.sub(r"</?mark>", "", e).count("<") == 0, e
        # The highlighter marks the words on the target page, without running them.
        record = next(u for u in page_urls(out) if u.startswith("responses/") and u.count("/") == 4)
        watch.page.goto(server.url + record + "?pagefind-highlight=onerror")
        watch.page.wait_for_selector("mark", timeout=20_000)
        found = watch.page.evaluate(DOM_PROBLEMS, "/")
        assert found["problems"] == [], found["problems"][:5]
        assert watch.dialogs == [] and watch.errors == []
        assert watch.csp() == []
    finally:
        watch.close()


# --- links and addresses -------------------------------------------------------------------------

def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


ERROR_LINE = re.compile(r"^(?P<path>[^\s:]+\.yaml):(?P<line>\d+):(?P<col>\d+): error: ", re.MULTILINE)


def _errors(content: Path) -> list[ContentError]:
    """The content errors of a content folder ([] when it is valid), as the build reports them."""
    try:
        pipeline.load_site(content)
    except ContentErrors as exc:
        assert all(ERROR_LINE.match(e.format()) for e in exc.errors), exc
        return exc.errors
    return []


def _dump(file: Path, data: dict) -> None:
    file.write_text(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**9),
                    encoding="utf-8")


@pytest.fixture
def content(tmp_path) -> Path:
    dst = tmp_path / "content"
    shutil.copytree(CONTENT, dst)
    return dst


UNSAFE_LINKS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#115;cript:alert(1)", "%6Aavascript:alert(1)",
                "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)",
                "//evil.example/", "/\\evil.example/"]


@pytest.mark.parametrize("link,form", [(link, "inline") for link in UNSAFE_LINKS] + [
    (link, "autolink") for link in UNSAFE_LINKS if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link)])
def test_an_unsafe_link_in_paragraph_text_is_refused_at_its_line(content, link, form):
    record = sorted((content / "responses").rglob("*.yaml"))[0]
    text = record.read_text(encoding="utf-8")
    written = f"[click here]({link})" if form == "inline" else f"<{link}>"
    new = re.sub(r"(\n    text: \|-\n      )", lambda m: m.group(1) + written + " ", text, count=1)
    assert new != text
    record.write_text(new, encoding="utf-8")
    line = new[: new.index(written)].count("\n")  # the `text: |-` line above the words
    errors = [e for e in _errors(content) if e.path.endswith(record.name)]
    assert [e.line for e in errors] == [line], errors
    assert "is not allowed" in errors[0].message


UNSAFE_URLS = ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
               "vbscript:msgbox(1)", "//evil.example/", 'https://example.org/" onmouseover="alert(1)']


def _refused_or_harmless(content: Path, file_name: str, unsafe: int) -> None:
    """Either refused with a path:line:col error for each unsafe address, or built with nothing unsafe."""
    errors = _errors(content)
    if errors:
        assert all(e.path.endswith(file_name) for e in errors), errors
        assert len({(e.line, e.col) for e in errors}) >= unsafe, errors
        return
    site = pipeline.load_site(content)
    files = pipeline.render_site(site, TEMPLATES, "/")
    for rel, html in files.items():
        if not rel.endswith(".html"):
            continue
        for el in BeautifulSoup(html, "html.parser").find_all(True):
            for name, value in el.attrs.items():
                value = " ".join(value) if isinstance(value, list) else value
                assert not name.startswith("on"), f"{rel}: <{el.name} {name}>"
                if name in ("href", "src", "action"):
                    v = value.strip().lower()
                    assert not v.startswith(("javascript:", "data:", "vbscript:", "//")), f"{rel}: {name}={value!r}"


def test_an_unsafe_entity_address_is_refused_or_never_a_link(content):
    file, data, entity = _entity_with_address(content)
    entity["addresses"] = [{"text": f"address {i}", "url": url} for i, url in enumerate(UNSAFE_URLS)]
    _dump(file, data)
    _refused_or_harmless(content, file.name, len(UNSAFE_URLS))


def _entity_with_address(content: Path) -> tuple[Path, dict, dict]:
    for file in sorted((content / "entities").glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for items in data.values():
            for e in items:
                if e.get("addresses"):
                    return file, data, e
    pytest.fail("no entity gives an address to poison")


def test_an_unsafe_link_in_editorial_text_is_refused_or_shown_as_text(content):
    """Summaries and comparison answers are Markdown too."""
    file, data, entity = _entity_with_address(content)
    entity["summary"] += " [a](javascript:alert(1)) [b](data:text/html,x) <javascript:alert(2)>"
    _dump(file, data)
    comparison = content / "comparison.yaml"
    if comparison.exists():
        cdata = yaml.safe_load(comparison.read_text(encoding="utf-8"))
        cell = next(c for t in cdata["topics"] for c in t["cells"] if c.get("answer"))
        cell["answer"] += " [c](javascript:alert(3))"
        _dump(comparison, cdata)
    errors = _errors(content)
    if errors:
        assert all(e.path.endswith((file.name, "comparison.yaml")) for e in errors), errors
    else:
        _refused_or_harmless(content, file.name, 0)


@pytest.mark.parametrize("contact_url", UNSAFE_URLS)
def test_an_unsafe_site_address_is_refused_or_never_a_link(content, contact_url):
    site = content / "site.yaml"
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    data["contact_url"] = contact_url
    data["site_url"] = "javascript:alert(1)//" if "javascript" in contact_url.lower() else \
        'https://example.org/"><script>alert(1)</script>/'
    data["contact_email"] = 'x@example.org" onmouseover="alert(1)'
    _dump(site, data)
    _refused_or_harmless(content, "site.yaml", 2)


# --- Content Security Policy ---------------------------------------------------------------------

def _policy(soup: BeautifulSoup) -> dict[str, list[str]]:
    metas = [m for m in soup.find_all("meta") if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1, f"{len(metas)} CSP meta tags"
    return {d.split()[0]: d.split()[1:] for d in metas[0]["content"].split(";") if d.strip()}


def test_every_page_carries_a_strict_policy_before_any_script_or_style(site_dir):
    pages = [f for f in sorted(site_dir.rglob("*.html")) if "pagefind" not in f.relative_to(site_dir).parts]
    assert len(pages) > 20
    for f in pages:
        soup = BeautifulSoup(f.read_text(encoding="utf-8"), "html.parser")
        p = _policy(soup)
        assert p["default-src"] in (["'self'"], ["'none'"]), f
        assert p["script-src"] == ["'self'", "'wasm-unsafe-eval'"], f  # no inline script, no eval
        assert set(p["worker-src"]) <= {"'self'", "blob:"}, f
        assert p["object-src"] == ["'none'"] and p["base-uri"] in (["'none'"], ["'self'"]), f
        assert "'unsafe-inline'" not in p.get("style-src", []) and "form-action" in p, f
        # The policy applies only to what follows it: it must come before every script and style.
        head = soup.head
        first = head.find(["script", "link", "style"])
        meta = head.find("meta", attrs={"http-equiv": re.compile("content-security-policy", re.I)})
        assert first is None or meta.sourceline < first.sourceline or (
            meta.sourceline == first.sourceline and meta.sourcepos < first.sourcepos), f
        # Nothing in the page needs what the policy forbids.
        assert not soup.find("script", src=False), f"{f}: inline script"
        assert not soup.find("style") and not soup.find(style=True), f"{f}: inline style"
        for el in soup.find_all(True):
            assert not any(a.startswith("on") for a in el.attrs), f"{f}: <{el.name}> event handler"


@pytest.mark.browser
def test_the_policy_blocks_an_injected_handler_and_the_check_sees_it(server, browser):
    """Proves the listener used above reports a violation, and that the policy is enforced."""
    watch = Watch(browser)
    try:
        watch.page.goto(server.url)
        watch.page.evaluate("""() => {
            document.body.insertAdjacentHTML("beforeend", '<img src="/static/none.png" onerror="alert(1)">');
            const s = document.createElement("script"); s.textContent = "alert(2)"; document.body.append(s);
        }""")
        # A function, not a bare expression: Playwright evaluates a bare expression with eval() on
        # every poll after the first, which this very policy forbids (an EvalError whenever the
        # reports come later than the first look, as on a slow machine).
        watch.page.wait_for_function("() => window.__csp.length >= 2")
        assert watch.dialogs == []
        assert any("script-src" in v for v in watch.csp())
    finally:
        watch.close()


@pytest.mark.browser
def test_search_works_under_the_policy_with_no_violation(server, browser):
    watch = Watch(browser)
    try:
        watch.page.goto(server.url + "search/")
        found = watch.page.evaluate("""async (bundle) => {
            const pagefind = await import(bundle + "pagefind.js");
            await pagefind.init();
            const search = await pagefind.search("exploitation");
            const first = search.results.length ? await search.results[0].data() : null;
            return {count: search.results.length, url: first && first.url};
        }""", server.url + "pagefind/")
        assert found["count"] > 0 and found["url"].startswith("/")
        # The site's own search page and the highlighter on a result's page, under the same policy.
        watch.page.goto(server.url + "search/?q=exploitation")
        watch.page.wait_for_selector("#search-results li", timeout=20_000)
        href = watch.page.get_attribute("#search-results li a", "href")
        watch.page.goto(server.url.rstrip("/") + href if href.startswith("/") else href)
        watch.page.wait_for_selector("mark", timeout=20_000)
        assert watch.csp() == [] and watch.errors == []
    finally:
        watch.close()


@pytest.mark.browser
def test_search_falls_back_to_the_main_thread_under_the_policy(server, browser):
    """Where Pagefind's worker cannot start, it compiles its WebAssembly in the page itself, which
    the page's policy must allow ('wasm-unsafe-eval'); a worker script is not bound by a <meta> policy."""
    watch = Watch(browser)
    try:
        watch.page.route("**/pagefind-worker.js", lambda route: route.abort())
        watch.page.goto(server.url + "search/")
        count = watch.page.evaluate("""async (bundle) => {
            const pagefind = await import(bundle + "pagefind.js");
            await pagefind.init();
            return (await pagefind.search("exploitation")).results.length;
        }""", server.url + "pagefind/")
        assert count > 0
        assert not [v for v in watch.csp() if "wasm" in v], watch.csp()
    finally:
        watch.close()


# --- paths ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rel", [
    "../outside.html", "a/../../outside.html", "a/..", "/etc/passwd", "C:/Windows/x.html", "a\\..\\x.html",
    "", ".", "a//b.html", "a/./b.html", "nul/index.html", "initiatives/CON/index.html", "aux.txt",
    "forces/com1/index.html", write.MARKER, ".git/config", "a/b\x00c.html", "trailing./index.html",
])
def test_an_output_path_that_could_leave_the_folder_is_refused(tmp_path, rel):
    with pytest.raises(write.OutputError, match="refusing to write"):
        write.safe_join(tmp_path, rel)
    with pytest.raises(write.OutputError):
        write.write_files(tmp_path / "new", {"index.html": "fine", rel: "x"})
    assert not (tmp_path / "new" / "index.html").exists(), "a path was written before all were checked"


@pytest.mark.parametrize("rel", ["index.html", "forces/gwent/index.html", ".nojekyll", "static/site.css",
                                 "pagefind/pagefind.js", "a-b/c-1/index.html"])
def test_an_ordinary_output_path_is_allowed(tmp_path, rel):
    assert write.safe_join(tmp_path, rel) == tmp_path / rel


def test_a_symlink_cannot_lead_a_write_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "forces").symlink_to(outside)
    with pytest.raises(write.OutputError):
        write.safe_join(root, "forces/gwent/index.html")


@pytest.mark.parametrize("bad_id", ["../../escaped", "/tmp/escaped", "a/b", "..", "Gwent", "a_b", "a--b"])
def test_an_id_that_is_not_a_plain_slug_is_refused_at_its_line(content, bad_id):
    forces = content / "forces.yaml"
    text = forces.read_text(encoding="utf-8")
    new = re.sub(r"(?m)^(  - id: )gwent$", lambda m: m.group(1) + f'"{bad_id}"', text, count=1)
    assert new != text
    forces.write_text(new, encoding="utf-8")
    line = new[: new.index(f'"{bad_id}"')].count("\n") + 1
    assert any(e.path.endswith("forces.yaml") and e.line == line for e in _errors(content))


def test_an_id_that_is_a_reserved_file_name_is_refused(tmp_path):
    """`aux` is a valid slug, but Windows cannot hold a folder of that name."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    for f in content.rglob("*.yaml"):
        f.write_text(re.sub(r"\bgwent\b", "aux", f.read_text(encoding="utf-8")), encoding="utf-8")
    out = tmp_path / "site"
    r = _cli("build", "--content", str(content), "--out", str(out), "--no-search")
    assert r.returncode == 1
    assert "'aux' is a reserved name" in r.stderr
    assert not out.exists()


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if not p.is_dir()}


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project (content and templates) to point --out at without risk."""
    proj = tmp_path / "project"
    shutil.copytree(CONTENT, proj / "content")
    shutil.copytree(TEMPLATES, proj / "templates")
    (proj / "notes").mkdir()
    (proj / "notes" / "minutes.txt").write_text("not the builder's", encoding="utf-8")
    (proj / "a-file").write_text("a file", encoding="utf-8")
    (proj / "link-to-content").symlink_to(proj / "content")
    return proj


@pytest.mark.parametrize("out,why", [
    ("content", "it is the content folder"),
    ("templates", "it is the templates folder"),
    ("link-to-content", "it is the content folder"),
    (".", "it is the project folder"),
    ("..", "it contains the content folder"),
    ("content/site", "it is inside the content folder"),
    ("templates/static/site", "it is inside the templates folder"),
    ("notes", "it is not empty and was not made by this builder"),
    ("a-file", "it is not a folder"),
])
def test_the_build_refuses_an_output_folder_it_must_not_replace(project, out, why):
    before = _tree(project.parent)
    r = _cli("build", "--out", out, "--no-search", cwd=project)
    assert r.returncode == 1
    assert f"refusing to build into {out}: {why}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert _tree(project.parent) == before, "the refused build created, changed or deleted something"


def test_the_build_replaces_a_folder_it_made_and_an_empty_one(project):
    (project / "empty").mkdir()
    r = _cli("build", "--out", "empty", "--no-search", cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / "empty" / write.MARKER).is_file()
    r = _cli("build", "--out", "empty", "--no-search", cwd=project)
    assert r.returncode == 0, r.stderr
