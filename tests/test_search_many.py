"""Search filters of many values: a filter with more values than views.FILTER_CHECKBOX_LIMIT (an
inquiry's hundreds of forces and bodies) is one drop-down instead of a checkbox each.

The real content has 4 forces and 8 bodies, so these tests build it with the limit lowered to 3:
its force, body and type filters become drop-downs and its question filter (2 values) stays
checkboxes. Real Chromium over http, Pagefind's own bundle, as in test_search.py.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from bs4 import BeautifulSoup

from conftest import CONTENT, TEMPLATES, Server, build_site
from evidence_site import views
from test_html_valid import nu_errors
from test_search import LABELS, results, run_search, tab_to, wait_for_status

pytestmark = pytest.mark.browser

LIMIT = 3
CY = {k: v["text"] for k, v in yaml.safe_load((TEMPLATES / "labels" / "cy.yaml").read_text(encoding="utf-8")).items()}
FORCES = yaml.safe_load((CONTENT / "forces.yaml").read_text(encoding="utf-8"))["forces"]
BODIES = yaml.safe_load((CONTENT / "bodies.yaml").read_text(encoding="utf-8"))["bodies"]
QUESTIONS = yaml.safe_load((CONTENT / "questions.yaml").read_text(encoding="utf-8"))["questions"]


@pytest.fixture(scope="module")
def many_dir(tmp_path_factory):
    """The real content built with search and the checkbox limit lowered to 3."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "FILTER_CHECKBOX_LIMIT", LIMIT)
        return build_site(tmp_path_factory.mktemp("many") / "_site")


@pytest.fixture(scope="module")
def many(many_dir):
    s = Server(many_dir)
    yield s
    s.close()


@pytest.fixture(scope="module")
def many_tab(many, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def soup_of(site, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path / "index.html").read_text(encoding="utf-8"), "html.parser")


def option_texts(pg, name: str) -> list[str]:
    return pg.eval_on_selector(f"#search-{name}", "s => [...s.options].map(o => o.text)")


def shown_count(text: str) -> int:
    return int(re.search(r"\((\d+)\)$", text)[1])


# ---- The markup ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["search", "cy/search"])
def test_with_the_default_limit_every_filter_of_the_real_site_is_checkboxes(site_dir, path):
    soup = soup_of(site_dir, path)
    assert soup.select(".search-filters select") == []
    for name, n in (("force", len(FORCES)), ("body", len(BODIES)), ("question", len(QUESTIONS))):
        assert n <= views.FILTER_CHECKBOX_LIMIT
        boxes = soup.select(f'.search-filter[data-filter="{name}"] .search-option input[type="checkbox"]')
        assert len(boxes) == n, name
    assert soup.select('.search-filter[data-filter="type"] input[type="checkbox"]')


def test_a_filter_over_the_limit_is_one_compact_drop_down_and_a_small_one_stays_checkboxes(many_dir):
    soup = soup_of(many_dir, "search")
    force = soup.select_one('.search-filter[data-filter="force"]')
    assert force.name == "fieldset" and force.legend.get_text() == LABELS["filter_force"]
    assert force.select(".search-option") == [] and force.select("input") == []
    select = force.select_one("select#search-force")
    assert select["name"] == "force" and select["form"] == "search-form"
    assert force.select_one("legend label")["for"] == "search-force"  # the legend names the list
    options = select.find_all("option")
    assert (options[0]["value"], options[0].get_text()) == ("", LABELS["search_filter_all"])
    assert [o.get_text() for o in options[1:]] == [f["name"] for f in FORCES]
    assert all(not o.has_attr("value") for o in options[1:]), "a value attribute repeating the text"
    assert all(o.parent is select for o in options), "options wrapped in other elements"
    bodies = soup.select_one("select#search-body").find_all("option")
    assert [o.get_text() for o in bodies[1:]] == [b["name"] for b in BODIES]
    # The type's names are labels, its values the index's: there the value attribute is needed.
    types = soup.select_one("select#search-type").find_all("option")
    assert types[1]["value"] == "record" and types[1].get_text() == LABELS["type_record"]
    questions = soup.select('.search-filter[data-filter="question"] .search-option input[type="checkbox"]')
    assert [q["value"] for q in questions] == [q["title"] for q in QUESTIONS]


def test_in_welsh_the_drop_down_shows_welsh_force_names_with_the_english_values(many_dir):
    soup = soup_of(many_dir, "cy/search")
    options = soup.select_one("select#search-force").find_all("option")
    assert options[0].get_text() == CY["search_filter_all"]
    assert [(o["value"], o.get_text()) for o in options[1:]] == [(f["name"], f["name_cy"]) for f in FORCES]
    # Body names are English evidence: the list is marked English, its "All" Welsh.
    body = soup.select_one("select#search-body")
    assert body["lang"] == "en" and body.option["lang"] == "cy" and body.option.get_text() == CY["search_filter_all"]


def test_the_drop_down_search_pages_are_valid_html(many_dir):
    files = [many_dir / "search" / "index.html", many_dir / "cy" / "search" / "index.html"]
    assert nu_errors(files, many_dir) == []


# ---- In the browser -----------------------------------------------------------------------------

def test_choosing_a_force_in_the_drop_down_narrows_the_results_and_stays_in_the_url(many_tab, many):
    tab = many_tab
    run_search(tab, many.url, "exploitation")
    everything = tab.inner_text("#search-status")
    total = int(re.search(r"\d+", everything)[0])
    assert tab.locator('.search-filter[data-filter="question"] input[type="checkbox"]').count() == len(QUESTIONS)
    force = tab.locator("#search-force")
    assert force.input_value() == ""
    texts = option_texts(tab, "force")
    assert texts[0] == LABELS["search_filter_all"]
    gwent = next(t for t in texts if t.startswith("Gwent "))
    assert gwent == "Gwent " + LABELS["search_filter_count"].format(n=shown_count(gwent))
    promised = shown_count(gwent)
    before = tab.inner_text("#search-status")
    force.select_option("Gwent")
    status = wait_for_status(tab, not_text=before)
    assert status == LABELS["search_results_count"].format(n=promised, q="exploitation")
    assert 0 < promised < total
    narrowed = results(tab)
    assert narrowed and all("Gwent" in r["kind"] for r in narrowed), [r["kind"] for r in narrowed]
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["exploitation"], "force": ["Gwent"]}
    # The counts are written again on every search, never added to the last ones.
    assert all(len(re.findall(r"\(\d+\)", t)) == 1 for t in option_texts(tab, "force")[1:])
    assert any(t == gwent for t in option_texts(tab, "force")), "Gwent's count changed with its own choice"
    # The address alone brings the same search back.
    again = run_search(tab, many.url, "exploitation", force="Gwent")
    assert force.input_value() == "Gwent"
    assert [r["href"] for r in again] == [r["href"] for r in narrowed]
    # Clear filters puts the list back to All, and the results back to everything.
    clear = tab.locator("#search-clear")
    assert clear.is_visible()
    now = tab.inner_text("#search-status")
    clear.click()
    assert wait_for_status(tab, not_text=now) == everything
    assert force.input_value() == "" and tab.eval_on_selector("#search-force", "s => s.selectedOptions[0].text") == LABELS["search_filter_all"]
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["exploitation"]}
    assert not clear.is_visible()


def test_a_drop_down_and_checkboxes_combine(many_tab, many):
    tab = many_tab
    run_search(tab, many.url, "exploitation", force="Gwent")
    question = QUESTIONS[0]["title"]
    box = tab.locator(f'input[name="question"][value="{question}"]')
    promised = int(re.search(r"\d+", tab.locator(f"label[for='{box.get_attribute('id')}'] .search-count").inner_text())[0])
    before = tab.inner_text("#search-status")
    box.check()
    assert wait_for_status(tab, not_text=before) == LABELS["search_results_count"].format(n=promised, q="exploitation")
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["exploitation"], "force": ["Gwent"], "question": [question]}
    assert tab.locator("#search-force").input_value() == "Gwent"


def test_a_link_naming_a_force_not_in_the_list_shows_all_forces(many_tab, many):
    tab = many_tab
    run_search(tab, many.url, "exploitation")
    everything = tab.inner_text("#search-status")
    run_search(tab, many.url, "exploitation", force="Atlantis")
    assert tab.locator("#search-force").input_value() == ""
    assert tab.inner_text("#search-status") == everything
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["exploitation"]}


def test_the_drop_down_is_operable_by_keyboard_with_visible_focus(many_tab, many):
    tab = many_tab
    run_search(tab, many.url, "exploitation")
    tab.focus("#search-input")
    tab_to(tab, "search-force")
    assert tab.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "no focus ring"
    gwent = shown_count(next(t for t in option_texts(tab, "force") if t.startswith("Gwent ")))
    before = tab.inner_text("#search-status")
    tab.keyboard.type("G")  # as a reader picks from a list: the first letter of the name
    assert wait_for_status(tab, not_text=before) == LABELS["search_results_count"].format(n=gwent, q="exploitation")
    assert tab.locator("#search-force").input_value() == "Gwent"
    assert parse_qs(urlsplit(tab.url).query)["force"] == ["Gwent"]
    before = tab.inner_text("#search-status")
    tab.keyboard.press("ArrowDown")
    wait_for_status(tab, not_text=before)
    assert tab.locator("#search-force").input_value() == "North Wales"
    assert all("North Wales" in r["kind"] for r in results(tab))


def test_the_welsh_drop_down_filters_by_the_english_value(many_tab, many):
    tab = many_tab
    tab.goto(many.url + "cy/search/?q=exploitation")
    tab.wait_for_function("""loading => {
        const s = document.getElementById("search-status").textContent;
        return s && s !== loading;
    }""", arg=CY["search_loading"])
    gwent = next(t for t in option_texts(tab, "force") if t.startswith("Heddlu Gwent "))
    before = tab.inner_text("#search-status")
    tab.locator("#search-force").select_option(label=gwent)
    tab.wait_for_function("old => document.getElementById('search-status').textContent !== old", arg=before)
    assert tab.inner_text("#search-status") == CY["search_results_count"].format(n=shown_count(gwent), q="exploitation")
    assert parse_qs(urlsplit(tab.url).query)["force"] == ["Gwent"]
    kinds = tab.locator("#search-results .search-result-kind").all_inner_texts()
    assert kinds and all("Heddlu Gwent" in k for k in kinds), kinds


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["", "cy/"])
def test_the_search_page_with_drop_downs_is_axe_clean(many_tab, many, scheme, lang):
    tab = many_tab
    tab.emulate_media(color_scheme=scheme)
    try:
        tab.goto(many.url + lang + "search/?q=exploitation&force=Gwent")
        tab.wait_for_function("""() => {
            const s = document.getElementById("search-results");
            return s.children.length > 0;
        }""")
        assert tab.locator("#search-force").input_value() == "Gwent"
        tab.locator("#search-force").focus()  # a visible focus ring in the check too
        violations = Axe().run(tab).response["violations"]
    finally:
        tab.emulate_media(color_scheme="light")
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]


def test_without_javascript_the_drop_downs_stay_hidden_with_the_search(browser, many):
    context = browser.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.goto(many.url + "search/")
        assert pg.locator("#search").get_attribute("hidden") is not None
        assert not pg.locator("#search-force").is_visible()
        assert pg.locator("main noscript p").inner_text() == LABELS["search_noscript"]
    finally:
        context.close()
