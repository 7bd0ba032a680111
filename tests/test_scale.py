"""An inquiry's evidence: many responses, hundreds of answers. Every page stays one a phone can open.

The benchmark's corpus at 100 records is five responses (one per force, police and OPCC answering
ten questions together), 200 paragraphs a question and 400 a force: past the point where a question
or force page can show its answers' text in full. The real response stays below it (tests elsewhere
check its question and force pages show the answers side by side).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import CONTENT, ROOT, TEMPLATES, build_site, full_response_misattributed
from test_html_valid import nu_errors
from evidence_site import pipeline, views
from evidence_site.urls import Urls

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus  # noqa: E402

BUDGET = 60_000  # bytes of HTML a page may weigh; the full response of a submission is exempt


@pytest.fixture(scope="module")
def inquiry(tmp_path_factory) -> tuple[Path, Path]:
    """(content, built site) of five responses."""
    root = tmp_path_factory.mktemp("inquiry")
    bench_corpus.write_ours(bench_corpus.generate(100), root)
    content = root / "content"
    with (content / "site.yaml").open("a", encoding="utf-8") as f:  # the Welsh interface too
        f.write("languages: [en, cy]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVIDENCE_SITE_CACHE", "off")
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        build_site(root / "site", "/", content, search=False)
    return content, root / "site"


@pytest.fixture(scope="module")
def site(inquiry):
    return pipeline.load_site(inquiry[0])


@pytest.fixture(scope="module")
def lists_in_parts(inquiry, tmp_path_factory) -> Path:
    """The five responses built as a site of hundreds would be: question pages in parts of two
    responses, the entity index past its limit of forces to group by."""
    out = tmp_path_factory.mktemp("parts") / "site"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "QUESTION_PART_SIZE", 2)
        mp.setattr(views, "ENTITY_GROUPS_LIMIT", 2)
        mp.setenv("EVIDENCE_SITE_CACHE", "off")
        build_site(out, "/", inquiry[0], search=False)
    return out


def soup(out: Path, url: str) -> BeautifulSoup:
    return BeautifulSoup((out / Urls("/").output_path(url)).read_text(encoding="utf-8"), "html.parser")


def test_every_page_but_a_full_response_stays_within_the_budget(inquiry, site):
    out = inquiry[1]
    responses = {Urls("/", lang).output_path(Urls("/", lang).response(s.id)) for s in site.submissions
                 for lang in ("en", "cy")}
    over = [f"{f.relative_to(out)}: {f.stat().st_size} bytes" for f in sorted(out.rglob("*.html"))
            if f.relative_to(out).as_posix() not in responses and f.stat().st_size > BUDGET]
    assert not over, "pages over 60 KB:\n" + "\n".join(over)


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_a_full_response_of_400_paragraphs_weighs_under_150_kb_and_says_who_said_each(inquiry, site, lang):
    """DECISIONS.md: the full response is exempt from the page budget and stays under 150 KB. Each
    of the five holds a force's police and commissioner answering ten questions, some 400 paragraphs
    (twice the real response), and keeps every paragraph's number, page and body."""
    out, urls = inquiry[1], Urls("/", lang)
    assert max(len(s.sequence) for s in site.submissions) >= 400  # the case this tests
    for s in site.submissions:
        size = (out / urls.output_path(urls.response(s.id))).stat().st_size
        assert size < 150_000, f"{urls.response(s.id)}: {size} bytes"
        assert full_response_misattributed(out, site, s.id, lang) == []


def test_one_navigation_link_leads_to_every_response(inquiry, site):
    out = inquiry[1]
    urls = Urls("/")
    for url in (urls.home(), urls.question("question-03"), urls.record("bench-2", "force-002-opcc", "question-01")):
        nav = soup(out, url).select_one("nav.site-nav")
        hrefs = [a["href"] for a in nav.find_all("a")]
        assert urls.responses() in hrefs, url
        assert not [h for h in hrefs if h != urls.responses() and h.startswith("/responses/")], \
            f"{url}: the navigation should not list the responses one by one"
    index = soup(out, urls.responses())
    assert index.select_one("nav.site-nav a[aria-current=page]")["href"] == urls.responses()
    listed = [a["href"] for a in index.select("main ul.responses a")]
    assert listed == [urls.response(s.id) for s in site.submissions]
    for s, item in zip(site.submissions, index.select("main ul.responses li")):
        answers = sum(1 for r in site.records if r.submission == s.id)
        assert f"({answers} answers)" in item.get_text(), item.get_text()
    home = soup(out, urls.home())
    assert home.select_one(f'main a[href="{urls.responses()}"]'), "the home page should lead to the responses"
    assert [a["href"] for a in home.select("main ol.questions a")] == [urls.question(q.id) for q in site.questions]


def _listed(page: BeautifulSoup) -> dict[str, str]:
    return {a["href"]: a.parent.get_text(" ", strip=True) for a in page.select("main ul.answer-list a")}


def test_the_navigation_lists_only_the_kinds_of_entity_the_site_has(inquiry, site):
    """Five responses naming initiatives and nothing else: every page's navigation leads to the
    initiatives and to no empty index of inspections, documents or organisations."""
    from evidence_site.render import TYPE_ORDER

    out = inquiry[1]
    urls = Urls("/")
    assert {e.type for e in site.entities} == {"initiative"}
    indexes = {urls.entity_index(t) for t in TYPE_ORDER}
    for url in (urls.home(), urls.record("bench-2", "force-002-opcc", "question-01"), urls.named("search")):
        hrefs = [a["href"] for a in soup(out, url).select("nav.site-nav a")]
        assert [h for h in hrefs if h in indexes] == [urls.entity_index("initiative")], url


def test_a_large_question_page_links_every_answer_with_its_length(inquiry, site):
    urls = Urls("/")
    q = site.questions[3]
    answers = [r for r in site.records if r.question == q.id]
    assert sum(len(r.paragraphs) for r in answers) > views.FULL_TEXT_LIMIT  # the case this tests
    page = soup(inquiry[1], urls.question(q.id))
    listed = _listed(page)
    assert set(listed) == {urls.record(r.submission, r.body, r.question) for r in answers}
    for r in answers:
        assert f"({len(r.paragraphs)} paragraphs)" in listed[urls.record(r.submission, r.body, r.question)]
    total = f"{sum(len(r.paragraphs) for r in answers):,}"
    assert f"These answers hold {total} paragraphs" in page.select_one("main").get_text()
    assert not page.select("main .para"), "no answer's text on a page listing them"


def test_a_large_force_page_links_each_of_its_answers_once(inquiry, site):
    urls = Urls("/")
    force = site.forces[1]
    bodies = {b.id for b in site.bodies if b.force == force.id}
    answers = [r for r in site.records if r.body in bodies]
    page = soup(inquiry[1], urls.force(force.id))
    links = [a["href"] for a in page.select("main ul.answer-list a")]
    assert sorted(links) == sorted(urls.record(r.submission, r.body, r.question) for r in answers)
    # Only the response holding the force's bodies has sections here, one per question.
    assert len(page.select("main section.force-question")) == len(site.questions)


def test_a_question_answered_in_many_responses_is_listed_in_parts(lists_in_parts, site):
    """Each part lists its share of the responses in their order, every answer once across the
    parts; every part links to every part, marks its own and leads to the one before and after."""
    urls, q = Urls("/"), site.questions[0]
    answering = [s for s in site.submissions if q.id in s.questions]
    assert len(answering) == 5  # the case this tests: three parts of at most two
    parts = [soup(lists_in_parts, urls.question(q.id, n)) for n in (1, 2, 3)]
    assert not (lists_in_parts / urls.output_path(urls.question(q.id, 4))).exists()
    assert [[h.get_text() for h in page.select("main h2")] for page in parts] == \
        [[s.author for s in answering[i:i + 2]] for i in (0, 2, 4)]
    links = [a["href"] for page in parts for a in page.select("main ul.answer-list a")]
    assert links == [urls.record(s.id, b, q.id) for s in answering for b in s.bodies]
    titles = [page.title.get_text() for page in parts]
    assert len(set(titles)) == 3 and all(f"(part {n} of 3)" in t for n, t in enumerate(titles, 1)), titles
    for n, page in enumerate(parts, 1):
        navs = page.select("main nav.parts")
        assert len(navs) == 2, "the parts are linked above and below the list"
        nav = navs[0]
        assert nav["aria-label"] == "Parts of the list"
        numbered = [a for a in nav.find_all("a") if not a.get("rel")]
        assert [a["href"] for a in numbered] == [urls.question(q.id, k) for k in (1, 2, 3)]
        assert [a.get_text() for a in numbered] == ["Part 1", "Part 2", "Part 3"]
        assert [a.get("aria-current") for a in numbered] == ["page" if k == n else None for k in (1, 2, 3)]
        prev, nxt = nav.find("a", rel="prev"), nav.find("a", rel="next")
        assert (prev["href"] if prev else None) == (urls.question(q.id, n - 1) if n > 1 else None)
        assert (nxt["href"] if nxt else None) == (urls.question(q.id, n + 1) if n < 3 else None)
        assert f"this is part {n}" in page.select_one("main").get_text()


def test_a_question_answered_in_few_responses_stays_one_page(inquiry, site):
    urls = Urls("/")
    page = soup(inquiry[1], urls.question(site.questions[0].id))
    assert not page.select("nav.parts") and "part" not in page.title.get_text()
    assert not (inquiry[1] / urls.output_path(urls.question(site.questions[0].id, 2))).exists()


def test_an_entity_index_of_many_forces_lists_each_entry_once(lists_in_parts, inquiry, site):
    """Past the limit of forces the index is its table alone, each initiative once with its force;
    below it, the same table and a section per force."""
    urls = Urls("/")
    initiatives = [e for e in site.entities if e.type == "initiative"]
    many = soup(lists_in_parts, urls.entity_index("initiative"))
    rows = many.select("main table.entities tbody tr")
    assert [r.th.a["href"] for r in rows] == [urls.entity(e) for e in initiatives]
    assert [r.find_all("td")[-1].get_text() for r in rows] == [
        ", ".join(site.force_by_id[f].name for f in e.forces) for e in initiatives]
    assert len(many.select("main a[href]")) == len(initiatives) + 1  # the breadcrumb's
    few = soup(inquiry[1], urls.entity_index("initiative"))
    assert len(few.select("main section[id^=force-]")) == len(site.forces)


@pytest.mark.parametrize("limit_offset, shows_text", [(0, True), (-1, False)])
def test_a_question_page_shows_the_text_up_to_the_limit(tmp_path, monkeypatch, limit_offset, shows_text):
    """At the limit the answers are shown in full; one paragraph past it, listed."""
    site = pipeline.load_site(CONTENT)
    q = max(site.questions, key=lambda q: views.question_paragraphs(site, q.id))
    monkeypatch.setattr(views, "FULL_TEXT_LIMIT", views.question_paragraphs(site, q.id) + limit_offset)
    files = pipeline.render_site(site, TEMPLATES, "/")
    page = BeautifulSoup(files[Urls("/").output_path(Urls("/").question(q.id))], "html.parser")
    assert bool(page.select("main .para-text")) is shows_text
    assert bool(page.select("main ul.answer-list")) is not shows_text


def test_the_glossary_links_the_first_uses_and_counts_the_rest(inquiry, site):
    uses = pipeline.glossary_uses(site)
    term, found = max(uses.items(), key=lambda kv: len(kv[1]))
    assert len(found) > views.GLOSSARY_USES_SHOWN  # the case this tests
    row = soup(inquiry[1], Urls("/").named("glossary")).find("tr", id=re.compile(".")).find_parent("tbody").find(
        lambda tag: tag.name == "tr" and tag.th and tag.th.get_text() == term)
    cell = row.find_all("td")[-1]
    links = cell.find_all("a")
    assert [a["href"] for a in links[:-1]] == [Urls("/").paragraph(p) for p in found[:views.GLOSSARY_USES_SHOWN]]
    assert f"and {len(found) - views.GLOSSARY_USES_SHOWN} more" in cell.get_text()
    assert links[-1]["href"] == f"/search/?q={term}"


def test_the_pages_made_for_many_responses_are_valid_html(inquiry, lists_in_parts):
    urls, out = Urls("/"), inquiry[1]
    files = [out / urls.output_path(u) for u in (urls.home(), urls.responses(), urls.question("question-01"),
                                                 urls.force("force-002"), urls.named("glossary"), urls.named("search"))]
    errors = nu_errors(files, out)
    errors += nu_errors([lists_in_parts / urls.output_path(u) for u in (
        urls.question("question-01", 2), urls.entity_index("initiative"), urls.named("search"))], lists_in_parts)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("batch", [1, 3, 4096])
def test_the_glossary_finds_a_term_only_where_it_stands_as_a_word(batch, monkeypatch):
    """The glossary looks for every term in many paragraphs at once (a batch of them: however they
    are cut, the same uses); a paragraph counts when the term stands as a word anywhere in it (not
    inside a word or a hyphenated name), and once only."""
    from types import SimpleNamespace as NS

    monkeypatch.setattr(pipeline, "GLOSSARY_BATCH", batch)
    texts = {
        "start": "CCE at the start.", "end": "ends with CCE", "twice": "CCE and CCE again",
        "inside": "CCEs and xCCE and CCE-led and pre-CCE", "late": "aCCE first, then CCE alone",
        "bold": "the **CCE** team", "linked": "see [CCE work](https://example.org/)", "none": "nothing here",
        "vru": "VRU, CCE", "other": "VRU2 and VRU_x",
    }
    paragraphs = {pid: NS(id=pid, text=text, submission="s", body="b") for pid, text in texts.items()}
    sequence = tuple(reversed(list(texts)))  # reading order differs from the order of the files
    sub = NS(id="s", introduction=(), sequence=sequence)
    site = NS(submissions=[sub], submission_by_id={"s": sub}, paragraph_by_id=paragraphs,
              acronyms=[NS(term="CCE"), NS(term="VRU")])
    uses = pipeline.glossary_uses(site)
    assert [p.id for p in uses["CCE"]] == ["vru", "linked", "bold", "late", "twice", "end", "start"]
    assert [p.id for p in uses["VRU"]] == ["vru"]


@pytest.mark.browser
@pytest.mark.parametrize("built", ["inquiry", "lists_in_parts"])
def test_the_pages_made_for_many_responses_pass_axe_and_fit_a_phone(built, request, browser):
    """In Chromium: axe-core finds no WCAG 2.2 A/AA violation on the home page, the responses index,
    a question and a force page listing their answers, and the capped glossary (and, built as a site
    of hundreds would be, a question page's second part and the ungrouped initiatives index), in
    light and dark; at a phone's width none of them scrolls sideways."""
    from axe_playwright_python.sync_playwright import Axe

    from conftest import Server
    from test_accessibility import WCAG_TAGS

    urls = Urls("/")
    if built == "inquiry":
        out = request.getfixturevalue("inquiry")[1]
        pages = [urls.home(), urls.responses(), urls.question("question-01"), urls.force("force-002"),
                 urls.named("glossary")]
    else:
        out = request.getfixturevalue("lists_in_parts")
        pages = [urls.question("question-01", 2), urls.entity_index("initiative")]
    server = Server(out)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        tab = context.new_page()
        axe = Axe().axe_script
        problems = []
        for url in pages:
            tab.goto(server.url + url.lstrip("/"))
            assert tab.locator("main ul.answer-list, main .para-text, main table, main ul").count(), url
            wide = tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if wide > 0:
                problems.append(f"{url} scrolls sideways by {wide}px at 360px wide")
            tab.evaluate(axe)
            for scheme in ("light", "dark"):
                tab.emulate_media(color_scheme=scheme)
                found = tab.evaluate("o => axe.run(document, o)",
                                     {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
                problems += [f"{url} [{scheme}] {v['id']}: {v['help']}" for v in found["violations"]]
        assert not problems, "\n".join(problems)
    finally:
        context.close()
        server.close()


def test_the_work_of_a_question_page_listing_its_answers_is_reckoned_as_a_list(site):
    """A build forks workers only for enough work (parallel.MIN_PARALLEL_COST): a question page that
    lists hundreds of answers is a few links, not the paragraphs it does not show, or a rebuild after
    one edit would fork for pages that take milliseconds."""
    from types import SimpleNamespace

    from evidence_site import parallel, render

    entries = [(p.url, p) for p in render.pages(site, Urls("/")) if p.template == "question.html"]
    costs = parallel._costs(parallel.Job(SimpleNamespace(site=site), entries))
    assert all(views.question_paragraphs(site, p.context["question"].id) > views.FULL_TEXT_LIMIT for _, p in entries)
    assert costs == [5 + len(p.context["submissions"]) for _, p in entries]
    real = pipeline.load_site(CONTENT)  # its question pages show every answer's text: the paragraphs
    entries = [(p.url, p) for p in render.pages(real, Urls("/")) if p.template == "question.html"]
    assert parallel._costs(parallel.Job(SimpleNamespace(site=real), entries)) == [
        5 + views.question_paragraphs(real, p.context["question"].id) for _, p in entries]


def test_each_response_groups_its_bodies_under_their_forces_in_the_sites_order(site):
    """The home and question pages list each response's bodies under their forces, forces and bodies
    in the order forces.yaml and bodies.yaml give them, and only the response's own."""
    import dataclasses

    real = pipeline.load_site(CONTENT)
    # bodies.yaml (and each submission) listing bodies in an order other than their forces'
    shuffled = dataclasses.replace(real, bodies=real.bodies[::-1], submissions=tuple(
        dataclasses.replace(sub, bodies=sub.bodies[::-1]) for sub in real.submissions))
    for s in (site, real, shuffled):
        for sub in s.submissions:
            members = set(sub.bodies)
            expected = [(f, [b for b in s.bodies if b.force == f.id and b.id in members]) for f in s.forces]
            assert views.forces_of_submission(s, sub.id) == [(f, found) for f, found in expected if found]
            assert views.forces_of_submission(s, sub.id)  # every response has a body


def test_each_record_page_links_its_bodys_other_answers_in_question_order(inquiry, site):
    """Every answer page lists the same body's answers to the other questions of its submission (in
    the submission's order, each titled as its question) and the full response; never itself, never
    another body's or submission's answer. The list is worked out once per body, so each of its
    pages must still leave out its own question."""
    urls = Urls("/")
    titles = {q.id: f"Question {q.number}: {q.title}" for q in site.questions}
    checked = 0
    for sub in site.submissions:
        for body in sub.bodies:
            for qid in sub.questions:
                nav = soup(inquiry[1], urls.record(sub.id, body, qid)).find("nav", class_="related")
                links = [(a["href"], a.get_text()) for a in nav.find_all("a")]
                expected = [(urls.record(sub.id, body, q), titles[q]) for q in sub.questions if q != qid]
                assert links[:-1] == expected
                assert links[-1][0] == urls.response(sub.id)
                checked += 1
    assert checked == len(site.records) == 100


def test_the_glossary_lists_each_terms_uses_in_reading_order_across_responses(site, monkeypatch):
    """Across the five responses: each term's paragraphs are those whose words hold it as a word,
    ordered by their place in their response (its introduction first), then introductions before
    answers, then the responses' order: searched a batch of paragraphs at a time, whatever the batch."""
    from evidence_site import markdown

    rank = {s.id: i for i, s in enumerate(site.submissions)}
    place = {}
    for s in site.submissions:
        place.update({p.id: i for i, p in enumerate(s.introduction)})
        place.update({pid: 1000 + i for i, pid in enumerate(s.sequence)})
    every = sorted(site.paragraph_by_id.values(), key=lambda p: (place[p.id], p.body is not None, rank[p.submission]))
    expected = {a.term: [p.id for p in every
                         if markdown.acronym_pattern([a.term]).search(markdown.plain_text(p.text))]
                for a in site.acronyms}
    assert sum(map(len, expected.values())) > 100
    for batch in (1, 50, 10**6):
        monkeypatch.setattr(pipeline, "GLOSSARY_BATCH", batch)
        assert pipeline.glossary_ids(pipeline.glossary_uses(site)) == expected


def test_a_responses_pages_are_the_same_made_from_that_response_alone(inquiry, site, tmp_path):
    """The premise of a build that makes one response at a time (docs/performance.md, the eighteenth
    session): a response's answer pages and full response, in both interface languages, come out
    byte for byte the same when made from a site holding that response's records alone, the other
    responses hollow (no introduction, no sequence). ``bench/probe_streamed.py`` makes them so,
    two processes taking a response each in turn, and compares them with the built site."""
    content, built = inquiry
    env = {**os.environ, "EVIDENCE_SITE_CACHE": "off", "SOURCE_DATE_EPOCH": "1700000000",
           "EVIDENCE_SITE_LOAD_SPLIT": "never"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "probe_streamed.py"), str(content),
                           str(tmp_path / "probe"), "--compare", str(built)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    own = sum(1 + len(s.bodies) * len(s.questions) for s in site.submissions) * len(site.config.languages)
    made = sorted(p.relative_to(tmp_path / "probe").as_posix() for p in (tmp_path / "probe").rglob("*.html"))
    assert len(made) == own == 210
    assert f"{own} pages byte for byte those of {built}; 0 not" in done.stdout
