"""The Welsh interface (issue 10): every page has a twin under /cy/, the switch leads from one to the
other, Welsh pages keep the English evidence marked lang="en", and no page mixes interface languages.

The interface is Welsh; the evidence stays as submitted, in English. These tests read the built HTML
as a clerk's browser (or screen reader) would: by the lang of each element, not by template names.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup, NavigableString

from conftest import CONTENT, ROOT, TEMPLATES

EN = yaml.safe_load((TEMPLATES / "labels" / "en.yaml").read_text(encoding="utf-8"))
CY_RAW = yaml.safe_load((TEMPLATES / "labels" / "cy.yaml").read_text(encoding="utf-8"))
CY = {k: v["text"] for k, v in CY_RAW.items()}
SITE_URL = yaml.safe_load((CONTENT / "site.yaml").read_text(encoding="utf-8"))["site_url"]


def english_pages(site: Path) -> list[str]:
    """Every English page's path below the site root (cy/, the search bundle and 404.html aside)."""
    out = []
    for f in sorted(site.rglob("*.html")):
        rel = f.relative_to(site).as_posix()
        if rel.split("/")[0] in ("cy", "pagefind", "static") or rel == "404.html":
            continue
        out.append(rel)
    return out


@lru_cache(maxsize=None)
def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def url_of(rel: str, lang: str) -> str:
    """The URL a page is served at (the site is built at /)."""
    rel = rel[: -len("index.html")]
    return ("/cy/" if lang == "cy" else "/") + rel


def own_lang(el) -> str:
    """The language an element's text is in: its nearest lang attribute."""
    node = el if not isinstance(el, NavigableString) else el.parent
    while node is not None and getattr(node, "attrs", None) is not None:
        if node.get("lang"):
            return node["lang"]
        node = node.parent
    return ""


def fragments(labels: dict[str, str], other: dict[str, str]) -> set[str]:
    """The words of each label that differ from the other language's, long enough not to collide
    with a name or a short common word (placeholders split a label into fragments)."""
    out = set()
    for key, text in labels.items():
        if text == other.get(key):
            continue
        for part in re.split(r"\{\w*\}", text):
            part = part.strip(" :.,;()“”\"'–-")
            if len(part) >= 12 and part not in other.values():
                out.add(part)
    return out


def test_every_english_page_has_its_welsh_twin_and_back(site_dir):
    pages = english_pages(site_dir)
    assert len(pages) > 100
    for rel in pages:
        twin = site_dir / "cy" / rel
        assert twin.is_file(), f"/{rel} has no Welsh twin at /cy/{rel}"
        for lang, other, path in (("en", "cy", site_dir / rel), ("cy", "en", twin)):
            doc = soup(path)
            assert doc.html["lang"] == lang, f"{path}: <html lang> is {doc.html.get('lang')}"
            switch = doc.select(f'.language-switch a[hreflang="{other}"]')
            assert len(switch) == 1, f"{path}: no language switch to {other}"
            assert switch[0]["href"] == url_of(rel, other), f"{path}: the switch leads to {switch[0]['href']}"
            assert switch[0]["lang"] == other and switch[0].get_text(strip=True) == (CY if lang == "cy" else EN)["language_switch"]
            alternates = {a["hreflang"]: a["href"] for a in doc.select('head link[rel="alternate"][hreflang]')}
            assert alternates == {"en": SITE_URL + url_of(rel, "en")[1:], "cy": SITE_URL + url_of(rel, "cy")[1:],
                                  "x-default": SITE_URL + url_of(rel, "en")[1:]}, f"{path}: {alternates}"
            assert doc.select_one('link[rel="canonical"]')["href"] == alternates[lang]
    # Nothing under /cy/ is without its English page.
    welsh = sorted(f.relative_to(site_dir / "cy").as_posix() for f in (site_dir / "cy").rglob("*.html"))
    assert welsh == pages


def test_the_switch_works_in_chromium_both_ways(page, server):
    page.goto(server.url + "forces/gwent/")
    page.click('.language-switch a[hreflang="cy"]')
    assert urlsplit(page.url).path == "/cy/forces/gwent/"
    assert page.locator("html").get_attribute("lang") == "cy"
    assert page.locator("h1").inner_text().startswith("Heddlu Gwent")
    page.click('.language-switch a[hreflang="en"]')
    assert urlsplit(page.url).path == "/forces/gwent/"


def test_sitemap_lists_both_languages(site_dir):
    locs = re.findall(r"<loc>([^<]+)</loc>", (site_dir / "sitemap.xml").read_text(encoding="utf-8"))
    pages = english_pages(site_dir)
    assert len(locs) == 2 * len(pages)
    assert SITE_URL + "cy/" in locs and SITE_URL + "cy/forces/gwent/" in locs


def test_welsh_pages_keep_every_paragraph_of_evidence_in_english(site_dir):
    checked = 0
    for rel in english_pages(site_dir):
        doc = soup(site_dir / "cy" / rel)
        for el in doc.select(".para-text, .full-response .para > :not(.para-meta, .para-note, .cite), .para-heading h2, "
                             ".para-heading h3, .para-heading h4, .question-text"):
            # Every run of the evidence's words (a Welsh label such as "Cwestiwn 2." may lead it in).
            for s in el.find_all(string=True):
                if len(s.strip()) >= 20:
                    assert own_lang(s) == "en", f"/cy/{rel}: evidence not marked English: {s.strip()[:80]!r}"
                    checked += 1
    assert checked > 500


def test_welsh_evidence_pages_say_in_welsh_that_the_response_is_in_english(site_dir):
    notice = CY["submitted_in_english"]
    assert notice == "Cyflwynwyd yr ymateb hwn yn Saesneg yn unig."
    for rel in english_pages(site_dir):
        if re.match(r"(responses|forces|questions|initiatives|inspections|documents|organisations)/[^/]+/", rel):
            text = soup(site_dir / "cy" / rel).main.get_text(" ", strip=True)
            assert notice in text, f"/cy/{rel} does not say the response was submitted in English"


def test_names_with_a_welsh_form_are_welsh_on_welsh_pages(site_dir):
    home = soup(site_dir / "cy" / "index.html").main.get_text(" ", strip=True)
    for name in ("Heddlu Dyfed-Powys", "Heddlu Gwent", "Heddlu Gogledd Cymru", "Heddlu De Cymru",
                 "Pwyllgor Plant, Pobl Ifanc ac Addysg"):
        assert name in home, f"the Welsh home page does not name {name}"
    record = soup(site_dir / "cy/responses/policing-in-wales/gwent-opcc/strategic-direction/index.html")
    assert record.select_one(".breadcrumbs").get_text(" ", strip=True).count("Heddlu Gwent") == 1
    # Names as the response wrote them stay English, marked so.
    assert own_lang(record.h1.find(string=re.compile("Gwent OPCC"))) == "en"


def test_editorial_text_without_a_welsh_version_shows_english_with_the_notice(site_dir):
    entity = next((site_dir / "cy" / "initiatives").glob("*/index.html"))
    box = soup(entity).select_one(".editorial")
    assert CY["editorial_english_only"] in box.get_text(" ", strip=True)
    summary = box.find("p", class_=lambda c: c != "editorial-label" and c != "sources")
    assert own_lang(summary) == "en"


def _interface_text(doc: BeautifulSoup, foreign: str) -> list[str]:
    """Text and labelling attributes of a page outside any element marked as ``foreign`` language."""
    out = [s for s in doc.find_all(string=True) if s.parent.name not in ("script", "style")
           and not isinstance(s, type(doc.new_string("", None).__class__)) and own_lang(s) != foreign]
    out = [str(s) for s in out]
    for el in doc.find_all(True):
        if own_lang(el) == foreign:
            continue
        out += [v for k, v in el.attrs.items() if isinstance(v, str) and (k in ("aria-label", "title", "alt", "placeholder")
                                                                       or k.startswith("data-label"))]
    return out


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_no_page_mixes_interface_languages(site_dir, lang):
    labels, other = (CY, EN) if lang == "cy" else (EN, CY)
    wrong = fragments(other, labels)  # the other language's interface words
    assert len(wrong) > 50
    foreign = "en" if lang == "cy" else "cy"  # evidence on Welsh pages; Welsh names on English pages
    for rel in english_pages(site_dir):
        path = site_dir / rel if lang == "en" else site_dir / "cy" / rel
        text = "\n".join(_interface_text(soup(path), foreign))
        found = sorted(w for w in wrong if w in text)
        assert not found, f"{path.relative_to(site_dir)} mixes in {'English' if lang == 'cy' else 'Welsh'} interface text: {found}"


# ---- Labels: a missing Welsh label is an error; check lists the unreviewed -----------------------

def test_every_label_is_used_so_translators_review_only_what_readers_see():
    """A label no template or code reads is a string a Welsh reviewer would translate for nothing.
    Keys read by name (t.key, t["key"], labels["key"]) or through a prefix (t["type_" ~ value])."""
    english = yaml.safe_load((TEMPLATES / "labels" / "en.yaml").read_text(encoding="utf-8"))
    code = "\n".join(f.read_text(encoding="utf-8") for pattern in ("*.html", "static/*.js")
                     for f in TEMPLATES.glob(pattern))
    code += "\n".join(f.read_text(encoding="utf-8") for f in (ROOT / "src" / "evidence_site").glob("*.py"))
    prefixes = set(re.findall(r"""["']([a-z_]+_)["']\s*~""", code))
    unused = [k for k in english if not re.search(rf"\b{k}\b", code)
              and not any(k.startswith(prefix) for prefix in prefixes)]
    assert not unused, f"labels nothing reads (remove them from en.yaml and cy.yaml): {unused}"


def _check(templates: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build.py", "check", "--templates", str(templates)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def templates_copy(tmp_path) -> Path:
    out = tmp_path / "templates"
    shutil.copytree(TEMPLATES, out, ignore=shutil.ignore_patterns(".cache"))
    return out


def test_a_missing_welsh_label_is_a_build_error_naming_cy_yaml(templates_copy):
    cy = templates_copy / "labels" / "cy.yaml"
    text = cy.read_text(encoding="utf-8")
    cy.write_text(re.sub(r"(?m)^nav_glossary:\n(  .*\n)+", "", text), encoding="utf-8")
    run = _check(templates_copy)
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"cy\.yaml:\d+:\d+: error: label 'nav_glossary' is missing", run.stderr), run.stderr


@pytest.mark.parametrize("change, message", [
    (lambda t: t + "nav_extra:\n  text: Ychwanegol\n  reviewed: false\n", "label 'nav_extra' is not in en.yaml"),
    (lambda t: re.sub(r"(?m)^nav_home:\n  text: .*\n  reviewed: false", "nav_home: Hafan", t), "label 'nav_home' must be a mapping"),
    (lambda t: t.replace('text: "Cwestiwn {n}"', 'text: "Cwestiwn {rhif}"'), "label 'question_n' must use the placeholders"),
])
def test_a_malformed_welsh_label_is_a_build_error(templates_copy, change, message):
    cy = templates_copy / "labels" / "cy.yaml"
    changed = change(cy.read_text(encoding="utf-8"))
    assert changed != cy.read_text(encoding="utf-8")
    cy.write_text(changed, encoding="utf-8")
    run = _check(templates_copy)
    assert run.returncode == 1 and "cy.yaml:" in run.stderr and message in run.stderr, run.stderr


def test_check_lists_the_welsh_labels_not_yet_reviewed(templates_copy):
    unreviewed = [k for k, v in CY_RAW.items() if not v["reviewed"]]
    run = _check(TEMPLATES)
    assert run.returncode == 0, run.stderr
    line = next(ln for ln in run.stdout.splitlines() if "Welsh labels not yet reviewed" in ln)
    assert line.startswith(f"{len(unreviewed)} Welsh labels not yet reviewed by a Welsh speaker")
    assert "0 Welsh editorial texts not yet reviewed" in run.stdout
    # A Welsh speaker reviews one label: it leaves the list.
    cy = templates_copy / "labels" / "cy.yaml"
    cy.write_text(re.sub(r"(?m)^(nav_home:\n  text: .*\n  reviewed:) false", r"\1 true", cy.read_text(encoding="utf-8")),
                  encoding="utf-8")
    run = _check(templates_copy)
    line = next(ln for ln in run.stdout.splitlines() if "Welsh labels not yet reviewed" in ln)
    assert line.startswith(f"{len(unreviewed) - 1} Welsh labels") and "nav_home" not in line.split(":", 1)[1].split(", ")


# ---- Search from the Welsh side ------------------------------------------------------------------

def test_search_from_a_welsh_page_finds_the_evidence_and_links_into_the_welsh_interface(page, server):
    page.goto(server.url + "cy/search/?q=Operation%20Mamba")
    page.wait_for_function("""loading => {
        const s = document.getElementById("search-status").textContent;
        return s && s !== loading;
    }""", arg=CY["search_loading"])
    status = page.inner_text("#search-status")
    assert "canlyniad" in status, status  # announced in Welsh
    legends = page.locator(".search-filter legend").all_inner_texts()
    assert CY["filter_force"] in legends and CY["filter_type"] in legends
    assert "Heddlu Gogledd Cymru" in page.locator('.search-filter[data-filter="force"]').inner_text()
    hrefs = page.locator("#search-results > li h2 a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("/cy/") for h in hrefs), hrefs
    record = "/cy/responses/policing-in-wales/north-wales-police/resource-allocation/"
    assert any(h.startswith(record) for h in hrefs[:3]), hrefs
    assert page.locator("#search-results > li h2").first.get_attribute("lang") == "en"
    page.locator(f'#search-results > li h2 a[href^="{record}"]').first.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/cy/responses/policing-in-wales/north-wales-police/resource-allocation/"
    assert page.locator("html").get_attribute("lang") == "cy"
    anchor = urlsplit(page.url).fragment
    assert anchor and "Mamba" in page.locator(f"#{anchor}").inner_text()


def test_welsh_pages_are_not_indexed_twice(site_dir):
    for f in (site_dir / "cy").rglob("*.html"):
        assert "data-pagefind-body" not in f.read_text(encoding="utf-8"), f


def test_the_root_404_page_leads_to_both_homes(site_dir):
    doc = soup(site_dir / "404.html")
    assert doc.select_one('main a[href="/"]') and doc.select_one('main a[href="/cy/"][hreflang="cy"]')
    assert own_lang(doc.select_one('main a[href="/cy/"]')) == "cy"
    assert not (site_dir / "cy" / "404.html").exists()


def test_the_accessibility_statement_says_how_the_welsh_interface_was_made(site_dir):
    for rel, labels in (("accessibility/index.html", EN), ("cy/accessibility/index.html", CY)):
        main = soup(site_dir / rel).main
        headings = [h.get_text(" ", strip=True) for h in main.find_all("h2")]
        assert labels["a11y_welsh_h"] in headings, rel
        text = main.get_text(" ", strip=True)
        assert labels["a11y_welsh"] in text, rel
    assert "without review by a Welsh speaker" in EN["a11y_welsh"] and "in English" in EN["a11y_welsh"]
