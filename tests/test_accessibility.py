"""Accessibility in real Chromium: axe-core (WCAG 2.0/2.1/2.2 A and AA) on every page in both colour
schemes, and the keyboard: skip link, tab order and visible focus on a record page and the search page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from conftest import page_urls

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RECORD = "responses/policing-in-wales/dyfed-powys-police/resource-allocation/"


def test_axe_finds_no_wcag_violation_on_any_page_in_light_or_dark(tab, server, site_dir):
    urls = page_urls(site_dir)
    assert "" in urls and RECORD in urls and "accessibility/" in urls and "search/" in urls, urls
    assert "cy/" in urls and "cy/" + RECORD in urls and "cy/search/" in urls, "the Welsh pages are not checked"
    axe_source = Axe().axe_script
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    tab.goto(server.url)
    tab.evaluate(axe_source)
    rules = tab.evaluate("tags => axe.getRules(tags).map(r => r.ruleId)", WCAG_TAGS)
    assert {"color-contrast", "link-in-text-block", "target-size", "label"} <= set(rules), "axe runs too few rules"
    # Two tabs of the one context check two pages at once (axe.run is started in both, then awaited).
    tabs = [tab] + [tab.context.new_page() for _ in range(min(2, os.cpu_count() or 1) - 1)]
    problems = []
    for i in range(0, len(urls), len(tabs)):
        batch = list(zip(tabs, urls[i:i + len(tabs)]))
        for pg, url in batch:
            pg.goto(server.url + url)
            pg.evaluate(axe_source)
        for scheme in ("light", "dark"):
            # The Welsh interface (cy/) shares the English pages' stylesheet and colours: its pages are
            # checked in the light scheme, the dark scheme once on their English twins (a third less time).
            run = [(pg, url) for pg, url in batch if scheme == "light" or not url.startswith("cy/")]
            for pg, _ in run:
                pg.emulate_media(color_scheme=scheme)
                pg.evaluate("options => { window.__axeRun = axe.run(document, options); }", options)
            for pg, url in run:
                for v in pg.evaluate("() => window.__axeRun")["violations"]:
                    targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                    problems.append(f"/{url} [{scheme}] {v['id']} ({v['impact']}): {v['help']} — {targets}")
    for pg in tabs[1:]:
        pg.close()
    tab.emulate_media(color_scheme="light")
    assert not problems, f"{len(problems)} axe violations:\n" + "\n".join(problems)


# ---- Keyboard ----

FOCUS_STATE = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const bg = getComputedStyle(document.documentElement).backgroundColor;
  const all = [...document.querySelectorAll('*')];
  return {tag: el.tagName.toLowerCase(), id: el.id, cls: el.className || '', text: (el.textContent || '').trim().slice(0, 40),
          outline: s.outlineStyle, width: parseFloat(s.outlineWidth), offset: parseFloat(s.outlineOffset),
          ring: s.outlineColor, page: bg, order: all.indexOf(el),
          inMain: !!el.closest('main'), summary: el.tagName === 'SUMMARY' && !!el.closest('details.cite'),
          visible: (() => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; })()};
}"""


def _rgb(css: str) -> tuple[float, ...]:
    parts = css[css.index("(") + 1: css.index(")")].replace("/", ",").split(",")
    return tuple(float(p) for p in parts[:3])


def contrast(a: str, b: str) -> float:
    def lum(c):
        ch = [x / 255 for x in _rgb(c)]
        ch = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def tab_through(pg, limit: int) -> list[dict]:
    """Press Tab until focus leaves the page or `limit` presses; the state of each focused element."""
    seen = []
    for _ in range(limit):
        pg.keyboard.press("Tab")
        state = pg.evaluate(FOCUS_STATE)
        if state["tag"] == "body":
            break
        seen.append(state)
    return seen


def assert_focus_visible(states: list[dict]) -> None:
    bad = [s for s in states if not (s["visible"] and s["outline"] != "none" and s["width"] >= 3
                                     and contrast(s["ring"], s["page"]) >= 3)]
    assert not bad, "focus not clearly visible on: " + ", ".join(f"<{s['tag']} {s['cls']}> {s['text']!r}" for s in bad)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_keyboard_reaches_skip_link_first_then_every_paragraph_link_and_citation(tab, server, scheme):
    tab.emulate_media(color_scheme=scheme)
    tab.goto(server.url + RECORD)
    tab.keyboard.press("Tab")
    first = tab.evaluate(FOCUS_STATE)
    assert "skip-link" in first["cls"], f"the first Tab stop is {first}, not the skip link"
    box = tab.locator(".skip-link").bounding_box()
    assert box and box["y"] >= 0 and box["height"] > 10, "the focused skip link is not on screen"
    assert_focus_visible([first])

    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "main-content"
    states = tab_through(tab, 400)
    assert states and states[0]["inMain"], f"after the skip link, Tab went to {states[:1]} instead of the main content"
    orders = [s["order"] for s in states]
    assert orders == sorted(orders), "the tab order does not follow the reading order"
    n_numbers = tab.locator("main .para-num").count()
    n_cites = tab.locator("main details.cite > summary").count()
    assert n_numbers > 5 and n_cites > 5
    assert sum("para-num" in s["cls"] for s in states) == n_numbers, "some paragraph numbers are not reachable by Tab"
    assert sum(s["summary"] for s in states) == n_cites, "some 'cite' controls are not reachable by Tab"
    assert_focus_visible(states)

    # A citation opens from the keyboard.
    summary = tab.locator("main details.cite > summary").first
    summary.focus()
    tab.keyboard.press("Enter")
    assert tab.locator("main details.cite").first.get_attribute("open") is not None
    assert tab.locator("main details.cite .cite-text").first.is_visible()
    tab.emulate_media(color_scheme="light")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_keyboard_reaches_the_search_form_with_visible_focus(tab, server, scheme):
    tab.emulate_media(color_scheme=scheme)
    tab.goto(server.url + "search/")
    states = tab_through(tab, 60)
    ids = [s["id"] for s in states]
    assert "skip-link" in states[0]["cls"]
    assert "search-input" in ids, f"the search box is not reachable by Tab: {ids}"
    i = ids.index("search-input")
    assert states[i + 1]["tag"] == "button" or any(s["tag"] == "button" and s["inMain"] for s in states[i:]), \
        "the search button is not reachable by Tab after the search box"
    assert_focus_visible(states)
    tab.emulate_media(color_scheme="light")


def test_welsh_words_are_marked_as_welsh(tab, server):
    tab.goto(server.url)
    welsh = tab.locator('[lang="cy"]').all_inner_texts()
    assert "Plismona yng Nghymru" in welsh
    tab.goto(server.url + "forces/gwent/")
    assert tab.locator('h1 [lang="cy"]').inner_text().strip() != ""


# ---- The accessibility statement ----

def _statement(site: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup((site / "accessibility" / "index.html").read_text(encoding="utf-8"), "html.parser").main


def test_accessibility_statement_follows_the_model_and_says_how_it_was_tested(site_dir):
    main = _statement(site_dir)
    headings = [h.get_text(" ", strip=True) for h in main.find_all(["h2", "h3"])]
    for needed in ("How accessible this website is", "Feedback and contact information", "Enforcement procedure",
                   "Compliance status", "Known limitations", "How we tested this website"):
        assert needed in headings, f"the statement has no '{needed}' section: {headings}"
    text = main.get_text(" ", strip=True)
    assert "axe-core" in text and "Nu HTML Checker" in text and "320" in text and "keyboard" in text
    assert "Equality Advisory and Support Service" in text
    assert main.find("a", href="https://www.equalityadvisoryservice.com/")


def test_accessibility_statement_uses_the_configured_contact_and_build_date(tmp_path, site_dir, monkeypatch):
    from conftest import CONTENT, build_site

    # The real content gives no contact: the statement says so, and where to ask instead.
    main = _statement(site_dir)
    assert not main.find("a", href=lambda h: h and h.startswith("mailto:"))
    assert "does not give a contact address" in main.get_text(" ", strip=True)
    assert "Preparation of this accessibility statement" not in main.get_text(" ", strip=True)

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    with open(content / "site.yaml", "a", encoding="utf-8") as f:
        f.write("contact_email: |-\n  evidence@example.org\ncontact_url: |-\n  https://example.org/report\n")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1718000000")
    main = _statement(build_site(tmp_path / "site", content=content, search=False))
    assert main.find("a", href="mailto:evidence@example.org")
    assert main.find("a", href="https://example.org/report")
    assert "This statement was last updated on 10 June 2024" in main.get_text(" ", strip=True)
