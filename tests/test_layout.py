"""Layout in real Chromium as readers meet it: no sideways scrolling on a phone or at 400% zoom, the
comparison stacking, numbers in the margin, dark and print versions, no JavaScript needed, light pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import page_urls

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CSS = ROOT / "templates" / "static" / "site.css"
RECORD = "responses/policing-in-wales/dyfed-powys-police/resource-allocation/"
QUESTION = "questions/resource-allocation/"
RESPONSE = "responses/policing-in-wales/"


# ---- Reflow ----

OVERFLOW = """() => {
  const w = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('main *, header *, footer *')]
    .filter(e => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== 'absolute')
    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, wide};
}"""


def test_no_page_scrolls_sideways_at_320_or_1280_css_pixels(tab, server, site_dir):
    """320 CSS px is WCAG 1.4.10's reflow width: a phone, or 400% zoom on a 1280 px screen."""
    urls = page_urls(site_dir)
    kinds = {"", RECORD, QUESTION, RESPONSE, "forces/gwent/", "search/", "accessibility/"}
    assert kinds <= set(urls)
    bad = []
    for url in urls:
        tab.set_viewport_size({"width": 1280, "height": 900})
        tab.goto(server.url + url)
        for width in (1280, 320):
            tab.set_viewport_size({"width": width, "height": 900})
            m = tab.evaluate(OVERFLOW)
            if m["scroll"] > m["inner"]:
                bad.append(f"/{url} at {width}px: {m['scroll']}px wide ({', '.join(m['wide'])})")
    # Search results quote the evidence, long addresses included.
    tab.goto(server.url + "search/?q=exploitation")
    tab.wait_for_selector("#search-results li")
    for width in (1280, 320):
        tab.set_viewport_size({"width": width, "height": 900})
        m = tab.evaluate(OVERFLOW)
        if m["scroll"] > m["inner"]:
            bad.append(f"/search/?q=exploitation at {width}px: {m['scroll']}px wide ({', '.join(m['wide'])})")
    assert not bad, "pages scroll sideways:\n" + "\n".join(bad)


def test_a_long_address_in_a_paragraph_wraps_at_320_pixels(tab, server):
    tab.set_viewport_size({"width": 320, "height": 800})
    tab.goto(server.url + RECORD)
    tab.evaluate("""() => { const p = document.querySelector('main .para-text');
        p.textContent = 'https://www.example.gov.uk/a/very/long/address/' + 'without-any-spaces-'.repeat(12) + '.pdf'; }""")
    m = tab.evaluate(OVERFLOW)
    assert m["scroll"] <= m["inner"], f"a long address pushes the page to {m['scroll']}px: {m['wide']}"


def test_question_page_shows_bodies_side_by_side_when_wide_and_stacked_when_narrow(tab, server):
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.goto(server.url + QUESTION)
    first, second = tab.locator(".side-by-side").first.locator(":scope > .column").all()[:2]
    a, b = first.bounding_box(), second.bounding_box()
    assert abs(a["y"] - b["y"]) < 2 and b["x"] >= a["x"] + a["width"], "columns are not side by side at 1280px"
    tab.set_viewport_size({"width": 320, "height": 900})
    a, b = first.bounding_box(), second.bounding_box()
    assert b["y"] >= a["y"] + a["height"] - 1, "columns do not stack at 320px"
    assert a["width"] <= 320 and b["width"] <= 320


# ---- Reading ----

MEASURE = """() => {
  const p = document.querySelector('main .answer div.para > .para-text');
  const probe = document.createElement('span');
  probe.textContent = 'abcdefghijklmnopqrstuvwxyz'.repeat(4);
  probe.style.whiteSpace = 'nowrap';
  p.appendChild(probe);
  const perChar = probe.getBoundingClientRect().width / 104;
  probe.remove();
  return p.getBoundingClientRect().width / perChar;
}"""


def test_text_lines_are_a_comfortable_length_on_a_wide_screen(tab, server):
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.goto(server.url + RECORD)
    chars = tab.evaluate(MEASURE)
    assert 55 <= chars <= 90, f"a line of evidence holds about {chars:.0f} characters"
    size = tab.evaluate("parseFloat(getComputedStyle(document.querySelector('main .para-text')).fontSize)")
    height = tab.evaluate("parseFloat(getComputedStyle(document.querySelector('main .para-text')).lineHeight)")
    assert size >= 16 and height / size >= 1.4


@pytest.mark.parametrize("url,para_sel,text_sel", [
    (RECORD, "main .answer div.para:has(.para-num)", ".para-text"),
    # The full response's shorter markup: the number a <b>, the text a bare <p> (fragments.py).
    (RESPONSE, "main .full-response section div.para:has(.para-meta > b)", "p"),
])
def test_paragraph_numbers_sit_in_the_margin_when_wide_and_above_the_text_when_narrow(tab, server, url, para_sel,
                                                                                      text_sel):
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.goto(server.url + url)
    para = tab.locator(para_sel).first
    meta, text = para.locator(".para-meta"), para.locator(text_sel).first
    assert meta.bounding_box()["x"] + meta.bounding_box()["width"] <= text.bounding_box()["x"], \
        "the paragraph number is not in the margin at 1280px"
    assert meta.is_visible() and "p." in meta.inner_text()
    tab.set_viewport_size({"width": 375, "height": 900})
    assert meta.bounding_box()["y"] + meta.bounding_box()["height"] <= text.bounding_box()["y"] + 1, \
        "the paragraph number is not above the text at 375px"
    assert abs(meta.bounding_box()["x"] - text.bounding_box()["x"]) < 2


def test_editorial_text_is_visibly_marked_apart_from_the_evidence(tab, server, site_dir):
    candidates = sorted(f for f in site_dir.glob("*/*/index.html") if f.relative_to(site_dir).parts[0] != "cy")
    with_editorial = [f for f in candidates if 'class="editorial"' in f.read_text(encoding="utf-8")]
    if not with_editorial:
        pytest.skip("the content has no editorial text yet")
    rel = with_editorial[0].parent.relative_to(site_dir).as_posix()
    tab.set_viewport_size({"width": 1280, "height": 900})
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        tab.goto(server.url + rel + "/")
        box = tab.locator("main .editorial").first
        assert box.locator(".editorial-label").inner_text().lower().startswith("editorial")
        style = box.evaluate("""e => { const s = getComputedStyle(e);
            return {border: parseFloat(s.borderLeftWidth), bg: s.backgroundColor,
                    page: getComputedStyle(document.documentElement).backgroundColor}; }""")
        assert style["border"] >= 4 and style["bg"] != style["page"], f"editorial block not set apart in {scheme}: {style}"
    tab.emulate_media(color_scheme="light")


# ---- Colour schemes and motion ----

def _luminance(css: str) -> float:
    r, g, b = (float(x) for x in re.findall(r"[\d.]+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_scheme_follows_the_system_setting(tab, server):
    tab.set_viewport_size({"width": 1280, "height": 900})
    colours = {}
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        tab.goto(server.url + RECORD)
        colours[scheme] = tab.evaluate("""() => { const s = getComputedStyle(document.documentElement);
            return [s.backgroundColor, getComputedStyle(document.querySelector('main .para-text')).color]; }""")
    tab.emulate_media(color_scheme="light")
    assert _luminance(colours["light"][0]) > 0.9 and _luminance(colours["light"][1]) < 0.2
    assert _luminance(colours["dark"][0]) < 0.15 and _luminance(colours["dark"][1]) > 0.8


def test_reduced_motion_turns_off_the_highlight_animation(tab, server):
    target = RECORD + "#dyfed-powys-police-q2-02"
    names = {}
    for motion in ("no-preference", "reduce"):
        tab.emulate_media(reduced_motion=motion)
        tab.goto(server.url + "accessibility/")
        tab.goto(server.url + target)
        names[motion] = tab.evaluate("getComputedStyle(document.querySelector(':target')).animationName")
    tab.emulate_media(reduced_motion="no-preference")
    assert names["no-preference"] != "none", "the target paragraph has no highlight to test"
    assert names["reduce"] == "none"


# ---- Print ----

PRINT_STATE = """() => {
  const shown = e => e && getComputedStyle(e).display !== 'none';
  const ext = [...document.querySelectorAll('main a[href^="http"]')];
  return {
    chrome: ['.skip-link', '.site-header', '.site-nav', '.site-footer', '.breadcrumbs', 'form']
      .filter(s => shown(document.querySelector(s))),
    cite: [...document.querySelectorAll('details.cite')].some(shown),
    // The full response's numbers are plain <b> in its shorter markup (fragments.py).
    numbers: [...document.querySelectorAll('main .para-num, main .para-meta > b')].filter(shown).length,
    pages: [...document.querySelectorAll('main .para-page')].filter(shown).length,
    paras: document.querySelectorAll('main .para-num, main .para-meta > b').length,
    after: ext.map(a => [a.getAttribute('href'), getComputedStyle(a, '::after').content]),
  };
}"""


def test_print_drops_the_site_chrome_and_keeps_numbers_pages_and_addresses(tab, server):
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.emulate_media(media="print")
    try:
        tab.goto(server.url + "responses/policing-in-wales/dyfed-powys-opcc/resource-allocation/")
        state = tab.evaluate(PRINT_STATE)
        assert state["chrome"] == [], f"printed with the site's {state['chrome']}"
        assert not state["cite"], "the 'cite' controls are printed"
        assert state["numbers"] == state["paras"] > 0 and state["pages"] >= state["paras"]
        assert state["after"], "this page should have a web address in its evidence"
        for href, content in state["after"]:
            assert href in content, f"the address {href} is not printed after its link ({content})"

        tab.goto(server.url + RESPONSE)
        state = tab.evaluate(PRINT_STATE)
        assert state["chrome"] == [] and state["numbers"] == state["paras"] > 50
        outside = tab.evaluate("""() => [...document.body.children].filter(e => e.tagName !== 'MAIN'
            && e.tagName !== 'SCRIPT' && getComputedStyle(e).display !== 'none').map(e => e.tagName)""")
        assert outside == [], f"the full response prints with {outside} around it"
        pdf = tab.pdf(format="A4")
        assert pdf[:4] == b"%PDF" and len(pdf) > 20_000
    finally:
        tab.emulate_media(media="screen")


# ---- Without JavaScript ----

def one_per_kind(urls: list[str]) -> list[str]:
    """The first page of each kind (template): same first folder and depth."""
    kinds: dict[tuple[str, int], str] = {}
    for url in urls:
        parts = [p for p in url.split("/") if p]
        kinds.setdefault((parts[0] if parts else "", len(parts)), url)
    return list(kinds.values())


def test_every_kind_of_page_but_search_reads_without_javascript(browser, server, site_dir):
    """JavaScript only ever comes from the templates, so one page of each kind stands for the rest."""
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    try:
        empty = []
        urls = one_per_kind(page_urls(site_dir))
        assert "" in urls and QUESTION in urls and RESPONSE in urls and len(urls) >= 8, urls
        for url in urls:
            pg.goto(server.url + url)
            h1 = pg.locator("main h1")
            if h1.count() != 1 or not h1.is_visible() or len(pg.locator("main").inner_text()) < 60:
                empty.append("/" + url)
        assert not empty, f"pages that do not read without JavaScript: {empty}"
        pg.goto(server.url + "search/")
        assert "JavaScript" in pg.locator("main").inner_text(), "the search page does not say it needs JavaScript"
    finally:
        context.close()


# ---- Weight ----

def test_pages_and_stylesheet_stay_light(site_dir):
    over = []
    for f in sorted(site_dir.rglob("*.html")):
        rel = f.relative_to(site_dir).as_posix()
        # The full response is exempt from the 60 KB budget, in both interface languages.
        limit = 150_000 if rel.removeprefix("cy/") == RESPONSE + "index.html" else 60_000
        if f.stat().st_size > limit:
            over.append(f"{rel}: {f.stat().st_size} bytes (limit {limit})")
    assert not over, "pages over budget:\n" + "\n".join(over)
    css = CSS.read_text(encoding="utf-8")
    assert len(CSS.read_bytes()) < 20_000, f"site.css is {len(CSS.read_bytes())} bytes"
    assert "@font-face" not in css and "@import" not in css, "the site must need no web fonts"
