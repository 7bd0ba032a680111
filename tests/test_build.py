"""Building from the command line, as an editor or clerk does it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import CONTENT, ROOT, build_site, full_response_misattributed
from evidence_site import pipeline

BUILD = [sys.executable, str(ROOT / "build.py")]


def run(*args, cwd=ROOT):
    return subprocess.run([*BUILD, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_evidence_json_has_the_documented_shape(site_dir):
    data = json.loads((site_dir / "data/evidence.json").read_text(encoding="utf-8"))
    assert [(q["id"], q["number"]) for q in data["questions"]] == [("strategic-direction", 1), ("resource-allocation", 2)]
    assert {b["id"] for b in data["bodies"]} == {
        "dyfed-powys-police", "dyfed-powys-opcc", "gwent-police", "gwent-opcc",
        "north-wales-police", "north-wales-opcc", "south-wales-police", "south-wales-opcc"}
    for b in data["bodies"]:
        assert set(b) >= {"id", "name", "force", "kind"} and b["kind"] in ("police", "opcc")
    for p in data["paragraphs"]:
        assert set(p) >= {"id", "body", "question", "page", "text", "url"}
        assert p["url"].startswith("/responses/policing-in-wales/") and p["url"].endswith("#" + p["id"])
    first = data["paragraphs"][0]
    assert first["body"] == "dyfed-powys-opcc" and first["joint_with"] == ["dyfed-powys-police"]
    assert first["text"].startswith("**Dyfed-Powys OPCC and Police** state that there is a legal duty")


def test_every_paragraph_url_resolves_to_its_anchor(site_dir):
    data = json.loads((site_dir / "data/evidence.json").read_text(encoding="utf-8"))
    pages: dict[str, BeautifulSoup] = {}
    for p in data["paragraphs"]:
        path, anchor = p["url"].split("#")
        if path not in pages:
            pages[path] = BeautifulSoup((site_dir / path.lstrip("/") / "index.html").read_text(), "html.parser")
        assert pages[path].find(id=anchor) is not None, p["url"]


def test_record_page_gives_paragraph_number_page_and_citation(site_dir):
    html = (site_dir / "responses/policing-in-wales/south-wales-opcc/resource-allocation/index.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    para = soup.find(id="south-wales-opcc-q2-05")
    assert "466 individuals" in para.get_text()
    num = para.find("a", class_="para-num")
    assert num["href"] == "/responses/policing-in-wales/south-wales-opcc/resource-allocation/#south-wales-opcc-q2-05"
    cite = para.find(class_="cite-text").get_text()
    assert "South Wales OPCC" in cite and "question 2 (Resource Allocation)" in cite and "paragraph 5" in cite
    assert "page 12" in cite and cite.endswith("/responses/policing-in-wales/south-wales-opcc/resource-allocation/#south-wales-opcc-q2-05")


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_full_response_shows_who_said_each_paragraph_with_its_number_and_page(site_dir, lang):
    """The source groups each question's answers by force: the full response keeps that order and
    names the body (police or commissioner) above each run of its paragraphs, linked to its answer."""
    site = pipeline.load_site(CONTENT)
    assert full_response_misattributed(site_dir, site, "policing-in-wales", lang) == []


def test_base_url_prefixes_every_internal_link(tmp_path):
    out = build_site(tmp_path / "site", base_url="/policing-evidence", search=False)
    html = (out / "forces/gwent/index.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    hrefs = [a["href"] for a in soup.find_all("a", href=True)] + [l["href"] for l in soup.find_all("link", href=True)]
    internal = [h for h in hrefs if not h.startswith(("http://", "https://", "mailto:", "#"))]
    assert internal and all(h.startswith("/policing-evidence/") for h in internal), internal


def test_a_fifth_body_and_a_third_question_build_without_code_changes(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "bodies.yaml").write_text((content / "bodies.yaml").read_text() +
        "  - id: fixture-transport-police\n    name: Fixture Transport Police\n    force: gwent\n    kind: other\n")
    (content / "questions.yaml").write_text((content / "questions.yaml").read_text() +
        "  - id: fixture-third-question\n    number: 3\n    title: Fixture Question\n    text: |-\n      Is a third question shown?\n")
    sub = content / "submissions/policing-in-wales.yaml"
    text = sub.read_text().replace("south-wales-opcc]", "south-wales-opcc, fixture-transport-police]", 1)
    text = text.replace("resource-allocation]", "resource-allocation, fixture-third-question]", 1)
    sub.write_text(text + "  - fixture-transport-police-q3-01\n")
    rec = content / "responses/policing-in-wales/fixture-transport-police/fixture-third-question.yaml"
    rec.parent.mkdir(parents=True)
    rec.write_text("submission: policing-in-wales\nbody: fixture-transport-police\nquestion: fixture-third-question\n"
                   "paragraphs:\n  - id: fixture-transport-police-q3-01\n    page: 14\n    text: |-\n      A fixture answer.\n")
    out = build_site(tmp_path / "site", content=content, search=False)
    page = out / "responses/policing-in-wales/fixture-transport-police/fixture-third-question/index.html"
    assert "A fixture answer." in page.read_text()
    assert "Fixture Transport Police" in (out / "forces/gwent/index.html").read_text()
    assert "Is a third question shown?" in (out / "questions/fixture-third-question/index.html").read_text()
    no_answer = out / "responses/policing-in-wales/gwent-police/fixture-third-question/index.html"
    assert "No answer given" in no_answer.read_text()


def test_check_passes_on_the_real_content():
    r = run("check")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def test_usage_error_exits_2():
    r = run("build", "--no-such-option")
    assert r.returncode == 2


def test_content_error_exits_1_with_file_line_col_and_leaves_the_site(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    out = build_site(tmp_path / "_site", content=content, search=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rec = content / "responses/policing-in-wales/gwent-opcc/strategic-direction.yaml"
    rec.write_text(rec.read_text().replace("    page: 2\n", "    page: 2\n    pgae: 3\n", 1))
    r = run("build", "--content", str(content), "--out", str(out), "--no-search", cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "strategic-direction.yaml:7:5: error: unknown key 'pgae' in a paragraph (did you mean 'page'?)" in r.stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_site_url_must_be_absolute():
    r = run("build", "--site-url", "/repo", "--no-search", "--out", "/tmp/never-written")
    assert r.returncode == 2 and "must be an absolute http(s) address" in r.stderr


def test_a_bad_source_date_epoch_is_a_usage_error_not_a_traceback():
    import os

    r = subprocess.run([*BUILD, "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "SOURCE_DATE_EPOCH": "yesterday"})
    assert r.returncode == 2 and "SOURCE_DATE_EPOCH must be a whole number" in r.stderr
    assert "Traceback" not in r.stderr


def test_csv_text_cannot_run_as_a_spreadsheet_formula():
    from evidence_site.data import spreadsheet_safe

    assert spreadsheet_safe("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert spreadsheet_safe("@SUM(A1)").startswith("'")
    assert spreadsheet_safe("**Gwent Police** funded") == "**Gwent Police** funded"


def test_csv_has_one_row_per_paragraph_with_its_text(site_dir):
    import csv

    rows = list(csv.DictReader((site_dir / "data/evidence.csv").open(encoding="utf-8")))
    data = json.loads((site_dir / "data/evidence.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in rows] == [p["id"] for p in data["paragraphs"]]
    assert all(r["text"] == p["text"] for r, p in zip(rows, data["paragraphs"]))
