"""Screenshots of the site for reviewers: home, a record, a question comparison, an entity page and
search (with a query), at 1280 and 375 CSS pixels wide, saved to docs/screenshots/.

    .venv/bin/python scripts/screenshots.py            # build into a temporary folder, then shoot
    .venv/bin/python scripts/screenshots.py --site _site   # use a site already built at base "/"

Uses Debian's Chromium (or CHROMIUM_PATH) through Playwright, like the tests.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

WIDTHS = (1280, 375)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def first(site: Path, pattern: str) -> str | None:
    """The URL path of the first page matching a glob, in sorted order (stable across builds)."""
    found = sorted(site.glob(pattern))
    return "/" + found[0].parent.relative_to(site).as_posix() + "/" if found else None


def shots(site: Path) -> list[tuple[str, str]]:
    """(name, URL path) of each screenshot; entity pages only when the site has them."""
    out = [("home", "/")]
    record = first(site, "responses/*/*/*/index.html")
    if record:
        out.append(("record", record))
    question = first(site, "questions/*/index.html")
    if question:
        out.append(("question", question))
    for folder in ("initiatives", "inspections", "documents", "organisations"):
        entity = first(site, f"{folder}/*/index.html")
        if entity:
            out.append(("entity", entity))
            break
    out.append(("search", "/search/?q=exploitation"))
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a site already built at base '/' (default: build one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)

    tmp = None
    site = args.site
    if site is None:
        from evidence_site import pipeline

        tmp = Path(tempfile.mkdtemp(prefix="screenshots-"))
        site = tmp / "_site"
        pipeline.build(pipeline.Settings(content=ROOT / "content", templates=ROOT / "templates", out=site,
                                         base_url="/", search=True), log=lambda *a: None)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("Chromium not found: install Debian's chromium or set CHROMIUM_PATH", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme="light",
                                              reduced_motion="reduce")
                page = context.new_page()
                for name, path in shots(site):
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    if name == "search":  # let the results appear, if the search script shows any
                        page.wait_for_timeout(1000)
                    target = args.out / f"{name}-{width}.png"
                    # Long pages: the first two screens say enough and keep the repository small.
                    height = min(page.evaluate("document.documentElement.scrollHeight"), 1600 if width < 800 else 1100)
                    page.screenshot(path=str(target), full_page=True,
                                    clip={"x": 0, "y": 0, "width": width, "height": height})
                    print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
                context.close()
            browser.close()
    finally:
        httpd.shutdown()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
