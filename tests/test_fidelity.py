"""The encoded text is the evidence: every word of the source, in order, on the built pages."""

from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from conftest import SOURCE

HEADER = re.compile(r"^(#+\s*)?OFFICIAL - Swyddogol\s*$")


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def source_blocks() -> list[str]:
    """The source's text, block by block, as a reader sees it (page headers dropped).

    Blocks cut by a page break are joined again, as the encoding joins them. ``\\_`` in the
    precept link is shown as ``_`` (see DECISIONS.md)."""
    lines = [ln for ln in SOURCE.read_text(encoding="utf-8").splitlines() if not HEADER.match(ln)]
    md = MarkdownIt("commonmark", {"html": True})
    html = md.render("\n".join(lines))
    soup = BeautifulSoup(html, "html.parser")
    blocks = [norm(el.get_text("")) for el in soup.find_all(["p", "li", "h1", "h2", "h3", "h4"])
              if not (el.name == "li" and el.find("p"))]  # a loose list item's text is in its <p>
    blocks = [b.replace("\\_", "_") for b in blocks if b]
    return blocks


def page_text(path) -> str:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return norm(soup.get_text(""))


def six_word_runs(block: str):
    words = block.split(" ")
    if len(words) < 6:
        yield block
        return
    for i in range(len(words) - 5):
        yield " ".join(words[i:i + 6])


def test_source_copy_has_fourteen_pages():
    text = SOURCE.read_text(encoding="utf-8")
    # 12 headers (page 1's included) and two breaks the conversion lost: 14 pages.
    assert sum(1 for ln in text.splitlines() if HEADER.match(ln)) == 12


def test_every_six_word_run_of_the_source_is_on_the_full_response_page(site_dir):
    text = page_text(site_dir / "responses/policing-in-wales/index.html")
    missing = [run for block in source_blocks() if block != "OFFICIAL - Swyddogol" for run in six_word_runs(block)
               if run not in text]
    assert not missing, f"{len(missing)} runs of the source are missing, e.g. {missing[:5]}"


def test_record_pages_hold_every_paragraph_of_the_source(site_dir):
    text = " ".join(page_text(p) for p in sorted((site_dir / "responses").glob("*/*/*/index.html")))
    body_blocks = [b for b in source_blocks() if len(b.split()) >= 8]
    missing = [b[:80] for b in body_blocks if b not in text
               and not b.startswith(("Policing in Wales Response", "The Children, Young People and Education",
                                     "1. Strategic", "2. Resource", "Strategic Direction:", "Resource Allocation:"))]
    assert not missing, missing[:5]


def test_words_keep_their_order_across_the_whole_response(site_dir):
    """Not only present: in the source's order, none repeated or moved."""
    text = page_text(site_dir / "responses/policing-in-wales/index.html")
    pos = 0
    for block in source_blocks():
        if block in ("OFFICIAL - Swyddogol",) or len(block.split()) < 4:
            continue
        found = text.find(block, pos)
        assert found >= 0, f"out of order or missing: {block[:80]!r}"
        pos = found + len(block)


def test_typos_are_kept(site_dir):
    text = page_text(site_dir / "responses/policing-in-wales/index.html")
    for typo in ("not standard practise nationally", "who delivery sessions", "Organise Immigration and Drugs",
                 "evidenced based interventions with are frequently evaluated", "The teams' remit"):
        assert typo in text


@pytest.mark.parametrize("body, question, words", [
    ("north-wales-police", "resource-allocation", "Operation Tylluan which saw people charged"),
    ("south-wales-opcc", "resource-allocation", "South Wales Victim Focus supported 466 individuals"),
    ("gwent-opcc", "strategic-direction", "Through Positive Futures"),
    ("gwent-police", "strategic-direction", "forms part of the force control strategy"),
    ("gwent-opcc", "resource-allocation", "Through the Serious Violence Duty the Gwent OPCC"),
    ("dyfed-powys-police", "resource-allocation", "INTACT team has offered targeted interventions"),
    ("dyfed-powys-opcc", "resource-allocation", "holds Chief Constable Dr Richard Lewis to account"),
    ("south-wales-police", "strategic-direction", "Missing Children Summit hosted by South Wales Police"),
    ("north-wales-opcc", "strategic-direction", "higher school exclusion rates in North Wales"),
    ("dyfed-powys-opcc", "strategic-direction", "organisational partners of the regional safeguarding board"),
])
def test_statements_sit_in_the_record_of_the_body_that_made_them(site_dir, body, question, words):
    page = site_dir / f"responses/policing-in-wales/{body}/{question}/index.html"
    assert words in page_text(page)


def test_north_wales_opcc_gave_no_answer_to_question_two(site_dir):
    text = page_text(site_dir / "responses/policing-in-wales/north-wales-opcc/resource-allocation/index.html")
    assert "No answer given to this question in the response." in text


def test_joint_statement_shows_on_the_other_bodys_record(site_dir):
    text = page_text(site_dir / "responses/policing-in-wales/dyfed-powys-police/strategic-direction/index.html")
    assert "organisational partners of the regional safeguarding board" in text
    assert "Made jointly with Dyfed-Powys OPCC" in text


def test_page_numbers_and_ranges(site_dir):
    data = json.loads((site_dir / "data/evidence.json").read_text(encoding="utf-8"))
    paras = {p["id"]: p for p in data["paragraphs"]}
    pages = [p["page"] for p in data["paragraphs"]]
    assert pages == sorted(pages) and pages[0] == 1 and max(pages) == 14
    spanning = {pid: (p["page"], p["page_end"]) for pid, p in paras.items() if "page_end" in p}
    assert len(spanning) == 7  # the seven paragraphs a page break cuts
    cut = next(p for p in data["paragraphs"] if "to eliminate profit from private care settings" in p["text"])
    assert (cut["page"], cut["page_end"]) == (6, 7)
    html = (site_dir / f"responses/policing-in-wales/{cut['body']}/{cut['question']}/index.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert "p. 6–7" in norm(soup.find(id=cut["id"]).get_text(" "))
