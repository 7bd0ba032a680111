"""Shared fixtures: the real site built once (with search), served over http, and real Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from evidence_site import pipeline  # noqa: E402
from evidence_site.urls import Urls  # noqa: E402

CONTENT = ROOT / "content"
TEMPLATES = ROOT / "templates"
SOURCE = ROOT / "tests" / "source" / "policing-in-wales-response.md"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def build_site(out: Path, base_url: str = "/", content: Path = CONTENT, search: bool = True) -> Path:
    pipeline.build(pipeline.Settings(content=content, templates=TEMPLATES, out=out, base_url=base_url,
                                     search=search), log=lambda *a: None)
    return out


def full_response_misattributed(out: Path, site, submission: str, lang: str = "en") -> list[str]:
    """What a reader of a full response would find wrong about who said each paragraph of the
    submission's answers, and where: every paragraph is there (by its id), with its number and its
    page label, under the name of the body that said it, linked to that body's answer to the
    question. An empty list when all is well."""
    urls = Urls("/", lang)
    labels = yaml.safe_load((TEMPLATES / "labels" / f"{lang}.yaml").read_text(encoding="utf-8"))
    page_n = labels["page_n"] if lang == "en" else labels["page_n"]["text"]
    doc = BeautifulSoup((out / urls.output_path(urls.response(submission))).read_text(encoding="utf-8"),
                        "html.parser")
    under = {}  # each paragraph's id -> the link of the body name it sits under
    current = None
    for el in doc.select("main .response-body a, main .response-section .para"):
        if el.name == "a":
            current = el
        else:
            under[el["id"]] = current
    wrong = []
    sub = site.submission_by_id[submission]
    for pid in sub.sequence:
        p = site.paragraph_by_id[pid]
        if p.body is None or p.question is None:
            continue
        el = doc.find(id=pid)
        if el is None:
            wrong.append(f"{pid}: not on the full response")
            continue
        meta = el.select_one(".para-meta").get_text(" ", strip=True)
        shown = (f"¶{p.number} " if p.number else "") + page_n.format(pages=p.pages)
        if meta != shown:
            wrong.append(f"{pid}: shows {meta!r}, not {shown!r}")
        link = under.get(pid)
        body = site.body_by_id[p.body]
        if link is None or link["href"] != urls.record(submission, p.body, p.question) \
                or body.name not in link.get_text():
            wrong.append(f"{pid}: under {link}, not a link to {body.name}'s answer")
    return wrong


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    """The real content built at / with the search index."""
    return build_site(tmp_path_factory.mktemp("site") / "_site")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `directory` under `prefix` (like GitHub Pages under /repo/), 404 elsewhere."""

    prefix = "/"

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if not clean.startswith(self.prefix):
            return "/nonexistent-path"
        return super().translate_path("/" + clean[len(self.prefix):])

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


class Server:
    def __init__(self, directory: Path, prefix: str = "/"):
        handler = type("H", (_Handler,), {"prefix": prefix})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{prefix}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def server(site_dir):
    s = Server(site_dir)
    yield s
    s.close()


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium not found: install Debian's chromium or set CHROMIUM_PATH")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def page_urls(site: Path) -> list[str]:
    """Every built HTML page as the path a browser asks for ('forces/gwent/', '404.html')."""
    urls = []
    for f in sorted(site.rglob("*.html")):
        rel = f.relative_to(site).as_posix()
        if not rel.startswith("pagefind/"):
            urls.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return urls


@pytest.fixture(scope="module")
def tab(server, browser):
    """One context and page per module, like one reader moving through the site.

    It asks for ``server`` before ``browser`` so the site (and Pagefind's own event loop) is built
    before Playwright's loop starts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()
