"""Publishing on GitHub Pages: the site works under a sub-path, link for link, as a visitor finds it.

The site is built the way the Pages workflow builds it (the command line, a base path without its
trailing slash as actions/configure-pages reports it, an absolute site URL, SOURCE_DATE_EPOCH),
served under /some-repo/ and crawled over http.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from conftest import CONTENT, ROOT, TEMPLATES, Server, build_site
from evidence_site.urls import Urls, absolute, normalise_base

PREFIX = "/some-repo/"
SITE_URL = "https://example.github.io/some-repo/"
EPOCH = "1718000000"  # 2024-06-10 06:13:20 UTC
EPOCH_DATE = "10 June 2024"
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
# Attributes that carry a URL the browser fetches or follows.
URL_ATTRS = (("a", "href"), ("link", "href"), ("script", "src"), ("img", "src"), ("source", "src"),
             ("iframe", "src"), ("form", "action"), ("object", "data"))


def labels() -> dict[str, str]:
    return yaml.safe_load((TEMPLATES / "labels" / "en.yaml").read_text(encoding="utf-8"))


def cli_build(out: Path, epoch: str | None = EPOCH) -> Path:
    """Build as the workflow does: `build.py build --base-url /repo --site-url https://…/repo`."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--out", str(out),
                        "--base-url", PREFIX.rstrip("/"), "--site-url", SITE_URL.rstrip("/")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def page_url_of(rel: str) -> str:
    """The path a browser requests for an output file ('forces/gwent/index.html' → '/some-repo/forces/gwent/')."""
    return PREFIX + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def html_pages(site: Path) -> list[str]:
    """Every HTML page of the site (relative paths), 404.html apart."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] != "pagefind" and p.name != "404.html")


def fetch(url: str) -> tuple[int, str, bytes, str]:
    """(status, content type, body, final URL) without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get_content_type(), r.read(), r.geturl()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_content_type(), e.read(), url


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return cli_build(tmp_path_factory.mktemp("publish") / "_site")


@pytest.fixture(scope="module")
def sub_server(published):
    s = Server(published, PREFIX)
    yield s
    s.close()


@dataclass
class Crawl:
    """What a crawl of every page found: each internal reference and what its target answered."""

    origin: str
    site: Path
    pages: list[str] = field(default_factory=list)  # page URLs (paths)
    page_status: dict[str, int] = field(default_factory=dict)
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # (page path, raw value, resolved URL)
    prefixed_attrs: list[tuple[str, str, str]] = field(default_factory=list)  # (page, attribute, value)
    canonical: dict[str, list[str]] = field(default_factory=dict)
    _fetched: dict[str, tuple[int, str, bytes, str]] = field(default_factory=dict)
    _ids: dict[str, set[str]] = field(default_factory=dict)

    def get(self, path: str) -> tuple[int, str, bytes, str]:
        if path not in self._fetched:
            self._fetched[path] = fetch(self.origin + path)
        return self._fetched[path]

    def ids(self, path: str) -> set[str]:
        if path not in self._ids:
            soup = BeautifulSoup(self.get(path)[2].decode("utf-8"), "html.parser")
            self._ids[path] = {el["id"] for el in soup.find_all(id=True)} | \
                {el["name"] for el in soup.find_all("a", attrs={"name": True})}
        return self._ids[path]

    def on_disk(self, path: str) -> bool:
        """Whether GitHub Pages would serve this path from the built files (no directory listings)."""
        rel = unquote(path[len(PREFIX):]) if path.startswith(PREFIX) else None
        if rel is None:
            return False
        target = self.site / rel
        return (target / "index.html").is_file() if rel == "" or rel.endswith("/") else target.is_file()


def internal(origin: str, url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" == origin


@pytest.fixture(scope="module")
def crawl(published, sub_server) -> Crawl:
    origin = sub_server.url[: -len(PREFIX)]
    c = Crawl(origin, published)
    for rel in html_pages(published):
        path = page_url_of(rel)
        c.pages.append(path)
        status, ctype, body, _ = c.get(path)
        c.page_status[path] = status
        if status != 200 or ctype != "text/html":
            continue
        soup = BeautifulSoup(body.decode("utf-8"), "html.parser")
        c.canonical[path] = [link.get("href", "") for link in soup.find_all("link", rel="canonical")]
        for el in soup.find_all(True):
            for name, value in el.attrs.items():
                if name.startswith("data-") and isinstance(value, str) and value.startswith("/"):
                    c.prefixed_attrs.append((path, name, value))
        for tag, attr in URL_ATTRS:
            for el in soup.find_all(tag, attrs={attr: True}):
                if tag == "link" and "canonical" in (el.get("rel") or []):
                    continue  # absolute on purpose; checked on its own
                value = el[attr]
                resolved = urljoin(origin + path, value)
                if internal(origin, resolved):
                    c.refs.append((path, value, resolved))
    # Stylesheets may pull in fonts and images of their own.
    for css in sorted({r for _, _, r in c.refs if urlsplit(r).path.endswith(".css")}):
        text = c.get(urlsplit(css).path)[2].decode("utf-8", "replace")
        for value in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if not value.startswith("data:"):
                resolved = urljoin(css, value)
                if internal(origin, resolved):
                    c.refs.append((urlsplit(css).path, value, resolved))
    return c


# --- The crawl --------------------------------------------------------------------------------------

def test_the_crawl_covers_the_whole_site(crawl):
    paths = set(crawl.pages)
    assert PREFIX in paths and PREFIX + "responses/policing-in-wales/" in paths
    assert len(paths) >= 20 and crawl.refs


def test_every_page_answers_200_under_the_sub_path(crawl):
    bad = {p: s for p, s in crawl.page_status.items() if s != 200}
    assert not bad, bad


def test_every_link_stylesheet_script_and_image_stays_under_the_sub_path(crawl):
    escaped = sorted({f"{page}: {value}" for page, value, resolved in crawl.refs
                      if not urlsplit(resolved).path.startswith(PREFIX)})
    escaped += sorted({f"{page}: {name}={value}" for page, name, value in crawl.prefixed_attrs
                       if not value.startswith(PREFIX)})
    assert not escaped, "\n".join(escaped)


def test_every_link_stylesheet_script_and_image_answers_200(crawl):
    broken = []
    for page, value, resolved in crawl.refs:
        path = urlsplit(resolved).path
        status, _, _, final = crawl.get(path)
        if status != 200:
            broken.append(f"{page}: {value} answers {status}")
        elif not crawl.on_disk(path):
            broken.append(f"{page}: {value} has no file behind it (GitHub Pages lists no folders: 404)")
        elif urlsplit(final).path != path:
            broken.append(f"{page}: {value} redirects to {final}")
    assert not sorted(set(broken)), "\n".join(sorted(set(broken)))


def test_every_anchor_a_page_links_to_exists_on_its_target(crawl):
    missing = []
    for page, value, resolved in crawl.refs:
        parts = urlsplit(resolved)
        if not parts.fragment:
            continue
        if crawl.get(parts.path)[0] != 200:
            continue  # reported as a broken link
        if unquote(parts.fragment) not in crawl.ids(parts.path):
            missing.append(f"{page}: {value}")
    assert not missing, "\n".join(sorted(set(missing)))


def test_a_visitor_reaches_every_page_by_following_links_from_home(crawl):
    seen, todo = {PREFIX}, [PREFIX]
    links = {}
    for page, _, resolved in crawl.refs:
        links.setdefault(page, set()).add(urlsplit(resolved).path)
    while todo:
        for target in links.get(todo.pop(), ()):
            if target not in seen and target in crawl.page_status:
                seen.add(target)
                todo.append(target)
    assert sorted(set(crawl.pages) - seen) == []


def test_the_data_files_give_urls_under_the_sub_path_that_resolve(crawl):
    data = json.loads(crawl.get(PREFIX + "data/evidence.json")[2])
    urls = [p["url"] for p in data["paragraphs"]] + [e["url"] for e in data.get("entities", [])]
    csv_text = crawl.get(PREFIX + "data/evidence.csv")[2].decode("utf-8")
    assert urls and all(u.startswith(PREFIX) for u in urls)
    assert all(f",{p['url']}\n" in csv_text or f",{p['url']}\r" in csv_text for p in data["paragraphs"])
    unresolved = [u for u in urls
                  if crawl.get(u.split("#")[0])[0] != 200 or ("#" in u and u.split("#")[1] not in crawl.ids(u.split("#")[0]))]
    assert not unresolved, unresolved


# --- Canonical links, sitemap, robots.txt, .nojekyll -----------------------------------------------

def test_every_page_has_one_absolute_canonical_link_to_itself(crawl):
    wrong = {p: c for p, c in crawl.canonical.items() if c != [SITE_URL + p[len(PREFIX):]]}
    assert not wrong, wrong


def test_sitemap_lists_every_page_once_with_absolute_sub_path_urls_that_answer(crawl):
    status, ctype, body, _ = crawl.get(PREFIX + "sitemap.xml")
    assert status == 200
    locs = re.findall(r"<loc>([^<]+)</loc>", body.decode("utf-8"))
    assert len(locs) == len(set(locs)), "a page is listed twice"
    assert all(loc.startswith(SITE_URL) for loc in locs), locs
    paths = [PREFIX + loc[len(SITE_URL):] for loc in locs]
    assert sorted(paths) == sorted(crawl.pages)  # every page, the full response included; not 404.html
    assert PREFIX + "responses/policing-in-wales/" in paths
    assert not any("404" in p for p in paths)
    assert [p for p in paths if crawl.get(p)[0] != 200] == []


def test_robots_txt_points_at_the_sitemap(crawl):
    status, _, body, _ = crawl.get(PREFIX + "robots.txt")
    assert status == 200
    assert f"Sitemap: {SITE_URL}sitemap.xml" in body.decode("utf-8").splitlines()


def test_nojekyll_is_published(published, crawl):
    # Without it, a Pages site built by the classic (branch) route would hide folders starting with "_".
    assert (published / ".nojekyll").is_file()
    assert crawl.get(PREFIX + ".nojekyll")[0] == 200


# --- 404.html ---------------------------------------------------------------------------------------

def test_404_page_links_work_from_a_missing_deep_path(crawl, published):
    """GitHub Pages answers any missing path, at any depth, with 404.html: its links must not be relative."""
    soup = BeautifulSoup((published / "404.html").read_text(encoding="utf-8"), "html.parser")
    deep = crawl.origin + PREFIX + "a/b/c/"
    bad = []
    values = [el[attr] for tag, attr in URL_ATTRS for el in soup.find_all(tag, attrs={attr: True})]
    for value in values:
        if value.startswith("#"):
            continue  # the same document wherever it is served
        if not value.startswith(PREFIX):
            bad.append(f"{value}: not an absolute path under {PREFIX}")
            continue
        path = urlsplit(urljoin(deep, value)).path
        if crawl.get(path)[0] != 200:
            bad.append(f"{value}: answers {crawl.get(path)[0]}")
    assert values and not bad, bad
    assert not soup.find_all("link", rel="canonical"), "404.html must not claim a canonical address"


def test_404_page_offers_a_search_box_and_the_way_home(published):
    soup = BeautifulSoup((published / "404.html").read_text(encoding="utf-8"), "html.parser")
    main = soup.find("main")
    assert main is not None and main.find("h1").get_text(strip=True) == labels()["not_found_title"]
    assert main.find("a", href=PREFIX) is not None, "no link home inside the page's main text"
    search_forms = [f for f in soup.find_all("form") if f.get("action") == PREFIX + "search/"]
    assert search_forms and search_forms[0].find("input", attrs={"name": "q"}) is not None


@pytest.mark.browser
def test_404_page_renders_and_searches_from_a_missing_deep_path_in_chromium(page, sub_server, published):
    deep = sub_server.url + "a/b/c/"
    body = (published / "404.html").read_bytes()
    # Emulate GitHub Pages: the missing path is answered with 404.html and status 404.
    page.route(deep, lambda route: route.fulfill(status=404, body=body, content_type="text/html"))
    failed = []
    page.on("response", lambda r: failed.append(f"{r.url} {r.status}") if r.url != deep and r.status >= 400 else None)
    # A request cut short because the test navigates on (net::ERR_ABORTED) is not a broken link.
    page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else failed.append(f"{r.url} {r.failure}"))
    response = page.goto(deep)
    assert response is not None and response.status == 404
    page.wait_for_load_state("load")
    sheets = page.evaluate("Array.from(document.styleSheets, s => s.href)")
    assert sheets and all(urlsplit(h).path.startswith(PREFIX) for h in sheets), sheets
    assert failed == []
    page.fill("#header-search-input", "Mamba")
    with page.expect_navigation():
        page.press("#header-search-input", "Enter")
    assert urlsplit(page.url).path == PREFIX + "search/" and "q=Mamba" in page.url
    page.go_back()
    page.get_by_role("main").get_by_role("link", name=labels()["not_found_home"]).click()
    page.wait_for_url(sub_server.url)
    assert failed == []


# --- Search under the sub-path ----------------------------------------------------------------------

@pytest.mark.browser
def test_pagefind_search_works_under_the_sub_path_in_chromium(page, sub_server, crawl):
    page.goto(sub_server.url)  # same origin, and under the site's own Content Security Policy
    found = page.evaluate("""async (bundle) => {
        const pagefind = await import(bundle + "pagefind.js");
        const search = await pagefind.search("Operation Mamba");
        const data = await Promise.all(search.results.slice(0, 3).map(r => r.data()));
        return data.map(d => ({url: d.url, subs: d.sub_results.map(s => s.url)}));
    }""", PREFIX + "pagefind/")
    assert found, "no results for Operation Mamba"
    assert found[0]["url"].startswith(PREFIX), found[0]
    urls = [r["url"] for r in found] + [u for r in found for u in r["subs"]]
    assert all(u.startswith(PREFIX) for u in urls), urls
    for u in urls:
        target = urlsplit(u)
        assert crawl.get(target.path)[0] == 200, u
        assert not target.fragment or target.fragment in crawl.ids(target.path), u


# --- Reproducible output ----------------------------------------------------------------------------

def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] != "pagefind")


def test_two_builds_are_identical_byte_for_byte_outside_pagefind(published, tmp_path):
    again = cli_build(tmp_path / "_site")
    files = tree(published)
    assert files == tree(again)
    _, mismatch, errors = filecmp.cmpfiles(published, again, files, shallow=False)
    assert mismatch == [] and errors == [], f"differ: {mismatch}, unreadable: {errors}"
    assert (again / "pagefind" / "pagefind.js").is_file()


def footer(html: str) -> str:
    return html[html.index("<footer"):html.index("</footer>")]


def test_footer_shows_the_date_from_source_date_epoch(published):
    built = labels()["footer_built"].format(date=EPOCH_DATE)
    # The Welsh interface (cy/) gives the date in Welsh.
    cy = yaml.safe_load((TEMPLATES / "labels" / "cy.yaml").read_text(encoding="utf-8"))
    built_cy = cy["footer_built"]["text"].format(date=EPOCH_DATE.replace("June", "Mehefin"))
    without = [rel for rel in html_pages(published) + ["404.html"]
               if (built_cy if rel.startswith("cy/") else built) not in footer((published / rel).read_text(encoding="utf-8"))]
    assert without == []


def pipeline_date_cy(now: datetime) -> str:
    """Today as the Welsh pages would print it."""
    from evidence_site.pipeline import WELSH_MONTHS

    return f"{now.day} {WELSH_MONTHS[now.month - 1]} {now.year}"


def test_without_source_date_epoch_no_date_is_printed(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = build_site(tmp_path / "_site", base_url=PREFIX, search=False)
    built = labels()["footer_built"].split("{date}")[0].strip()
    now = datetime.now(timezone.utc)
    today = [now.strftime("%-d %B %Y"), now.strftime("%Y-%m-%d"), pipeline_date_cy(now)]
    dated = []
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        text = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".html" and built in footer(text):
            dated.append(f"{f.relative_to(out)}: {built}")
        dated += [f"{f.relative_to(out)}: {d}" for d in today if d in text]
    assert dated == []


# --- The base path as configure-pages gives it ------------------------------------------------------

@pytest.mark.parametrize("given", ["/some-repo", "/some-repo/", "some-repo", "some-repo/", " /some-repo/ "])
def test_base_path_with_or_without_slashes_gives_the_same_urls(given):
    urls = Urls(normalise_base(given))
    assert urls.home() == PREFIX
    assert urls.asset("site.css") == PREFIX + "static/site.css"
    assert urls.named("search") == PREFIX + "search/"


@pytest.mark.parametrize("given", ["", "/"])
def test_an_empty_base_path_is_the_root(given):
    # configure-pages reports "" for a user site or a custom domain; the workflow passes "$BASE_PATH/".
    assert normalise_base(given) == "/" and normalise_base(given + "/") == "/"


# --- The workflow -----------------------------------------------------------------------------------

def workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
    return wf


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def test_workflow_publishes_on_push_to_main_and_checks_pull_requests():
    on = workflow()["on"]
    assert on["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in on and "pull_request" in on


def test_workflow_has_least_permissions():
    wf = workflow()
    assert wf["permissions"] == {"contents": "read"}
    assert wf["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "write" not in wf["jobs"]["build"]["permissions"].values()


def test_workflow_pins_every_action_to_a_commit():
    uses = [s["uses"] for job in workflow()["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)] == []
    text = WORKFLOW.read_text(encoding="utf-8")
    assert all(re.search(re.escape(u) + r" # v\d+\.\d+\.\d+", text) for u in uses), "each pin names its version"


def test_workflow_builds_with_the_pages_base_path_and_deploys():
    jobs = workflow()["jobs"]
    build, deploy = jobs["build"], jobs["deploy"]
    configure = steps_using(build, "actions/configure-pages")
    assert len(configure) == 1 and configure[0]["id"] == "pages"
    run = [s for s in build["steps"] if "build.py build" in s.get("run", "")]
    assert len(run) == 1
    env_and_run = json.dumps(run[0])
    assert "steps.pages.outputs.base_path" in env_and_run and "steps.pages.outputs.base_url" in env_and_run
    assert "--base-url" in run[0]["run"] and "--site-url" in run[0]["run"]
    assert "SOURCE_DATE_EPOCH" in run[0]["run"] and "git log -1 --format=%ct" in run[0]["run"]
    upload = steps_using(build, "actions/upload-pages-artifact")
    assert len(upload) == 1 and upload[0]["with"]["path"] == "_site"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert len(steps_using(deploy, "actions/deploy-pages")) == 1


def test_workflow_runs_tests_and_check_on_pull_requests_but_never_deploys_them():
    jobs = workflow()["jobs"]
    build = jobs["build"]
    always = [s for s in build["steps"] if "if" not in s]
    assert any("pytest" in s.get("run", "") for s in always)
    assert any("build.py check" in s.get("run", "") for s in always)
    assert "pull_request" in jobs["deploy"]["if"]
    for s in build["steps"]:
        if "uses" in s and "pages" in s["uses"] or "build.py build" in s.get("run", ""):
            assert "github.event_name != 'pull_request'" in s["if"], s


def test_absolute_urls_follow_the_site_url_whatever_its_form():
    assert absolute("https://owner.github.io/repo", "/repo/forces/gwent/", "/repo/") == \
        "https://owner.github.io/repo/forces/gwent/"
    assert absolute("https://owner.github.io/repo/", "/repo/", "/repo/") == "https://owner.github.io/repo/"
    # A custom domain: configure-pages reports no path at all.
    assert absolute("https://evidence.example.org", "/sitemap.xml", "/") == "https://evidence.example.org/sitemap.xml"
    with pytest.raises(ValueError):
        absolute("https://owner.github.io/repo/", "/elsewhere/", "/repo/")


@pytest.mark.browser
def test_the_search_page_links_results_under_the_sub_path_in_chromium(page, sub_server, crawl):
    failed = []
    page.on("response", lambda r: failed.append(f"{r.url} {r.status}") if r.status >= 400 else None)
    page.goto(sub_server.url + "search/?q=Operation+Mamba")
    page.wait_for_selector("main a[href*='#']")  # (wait_for_function would need eval, which the CSP forbids)
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(a => a.getAttribute('href'))")
    results = [h for h in hrefs if "#" in h and not h.startswith("#")]
    assert results and all(h.startswith(PREFIX) for h in results), results
    page.click(f"main a[href='{results[0]}']")
    page.wait_for_load_state("load")
    target = urlsplit(results[0])  # the link may carry ?pagefind-highlight=… for the target page
    assert urlsplit(page.url).path == target.path and target.fragment in crawl.ids(target.path)
    assert failed == []


def test_the_sitemap_is_well_formed_xml_whatever_the_site_address_holds():
    """A site address with characters XML reserves (``&`` in a query, ``<``) is escaped in the
    sitemap: a search engine reads back the addresses as given."""
    import xml.etree.ElementTree as ET

    from evidence_site import data, pipeline

    site_url = "https://example.org/evidence?x=1&y=<2>/"
    site = pipeline.load_site(CONTENT, site_url)
    root = ET.fromstring(data.sitemap(site, ["/", "/forces/gwent/"], "/"))
    assert [e.text for e in root.iter() if e.tag.endswith("loc")] == [site_url, site_url + "forces/gwent/"]
