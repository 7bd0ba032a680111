"""A rebuild after editing records renders only the pages that show them, and equals a cold build.

Each edit is one an editor makes to a record file; after it, the incremental build must write the
same site, byte for byte, as a cold one-process build of the edited content, while rendering only a
handful of pages (counted from the build's log and from the files' inodes: a kept page is a hard link
to the last build's file). Edits to anything but a record rebuild every page.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import CONTENT, ROOT, TEMPLATES
from test_cache import assert_same_site, tree

from evidence_site import cache, deps, pipeline, render, templating, views
from evidence_site.urls import Urls

REBUILT = re.compile(r"^rebuilt (\d+) of (\d+) pages ")
BUILT = re.compile(r"^built (\d+) pages ")


# --- a content folder, its output and cache, and its edits -----------------------------------------

class Workspace:
    """A copy of a content folder (and of the templates) built into one output folder with a cache."""

    def __init__(self, root: Path, content: Path) -> None:
        self.root = root
        self.content = root / "content"
        self.templates = root / "templates"
        shutil.copytree(content, self.content)
        shutil.copytree(TEMPLATES, self.templates)
        self.out = root / "site"
        self.cache = root / "cache"
        self.colds = 0

    def build(self, mp: pytest.MonkeyPatch, search: bool = False) -> str:
        """Build with the cache (two workers when worthwhile); the build's last log line (every
        line in ``logs``)."""
        mp.setenv("EVIDENCE_SITE_CACHE", str(self.cache))
        mp.setenv("EVIDENCE_SITE_WORKERS", "2")
        self.logs: list[str] = []  # every line the build said
        pipeline.build(pipeline.Settings(content=self.content, templates=self.templates, out=self.out,
                                         search=search), log=self.logs.append)
        return self.logs[-1]

    def cold(self, mp: pytest.MonkeyPatch) -> Path:
        """The reference: the same content and templates, no cache, one process."""
        self.colds += 1
        out = self.root / f"cold-{self.colds}"
        mp.setenv("EVIDENCE_SITE_CACHE", "off")
        mp.setenv("EVIDENCE_SITE_WORKERS", "1")
        pipeline.build(pipeline.Settings(content=self.content, templates=self.templates, out=out, search=False),
                       log=lambda *a: None)
        return out

    def record(self, submission: str, body: str, question: str) -> Path:
        return self.content / "responses" / submission / body / f"{question}.yaml"


def pages_now(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every HTML page: (inode, bytes)."""
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.read_bytes()) for p in out.rglob("*.html")
            if not p.relative_to(out).as_posix().startswith("pagefind/")}


def page_of(url: str) -> str:
    return Urls("/").output_path(url)


def edit_paragraph(file: Path, pid: str, change) -> None:
    """Change the lines of one paragraph (from its ``- id:`` line to the next paragraph's)."""
    lines = file.read_text(encoding="utf-8").split("\n")
    start = lines.index(f"  - id: {pid}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ") or
                (lines[i] and not lines[i].startswith(" "))), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # a comment or blank line before the next paragraph belongs to it
    block = change(lines[start:end])
    assert block != lines[start:end], f"the edit changed nothing in {pid}"
    file.write_text("\n".join(lines[:start] + block + lines[end:]), encoding="utf-8")


def append_to_text(words: str):
    def change(block: list[str]) -> list[str]:
        i = block.index("    text: |-") + 1
        while i + 1 < len(block) and block[i + 1].startswith("      "):
            i += 1  # the text's last line
        return block[:i] + [block[i] + words] + block[i + 1:]
    return change


def lengthen(record: Path, times: int) -> None:
    """Every paragraph of a record file written ``times`` over (``repeat_text``)."""
    for pid in re.findall(r"^  - id: (\S+)$", record.read_text(encoding="utf-8"), flags=re.M):
        edit_paragraph(record, pid, repeat_text(times))


def repeat_text(times: int):
    """The paragraph's text written ``times`` over, each line of it repeated on the line."""
    def change(block: list[str]) -> list[str]:
        i = block.index("    text: |-") + 1
        end = next((j for j in range(i, len(block)) if not block[j].startswith("      ")), len(block))
        return block[:i] + [" ".join([line] * times) for line in block[i:end]] + block[end:]
    return change


def add_mention(entity: str, words: str):
    def change(block: list[str]) -> list[str]:
        block = append_to_text(" " + words + ".")(block)
        if "    mentions:" in block:
            at = block.index("    mentions:") + 1
            return block[:at] + [f"      - entity: {entity}", f"        text: {words}"] + block[at:]
        return block + ["    mentions:", f"      - entity: {entity}", f"        text: {words}"]
    return change


def drop_mentions(block: list[str]) -> list[str]:
    at = block.index("    mentions:")
    end = at + 1
    while end < len(block) and block[end].startswith("      "):
        end += 1
    return block[:at] + block[end:]


def add_joint(body: str):
    def change(block: list[str]) -> list[str]:
        return block[:2] + [f"    joint_with: [{body}]"] + block[2:]
    return change


def drop_line(line: str):
    def change(block: list[str]) -> list[str]:
        return [x for x in block if x != line]
    return change


def check_rebuild(ws: Workspace, mp: pytest.MonkeyPatch, must_change: list[str], at_most: int) -> set[str]:
    """Build after an edit: only a few pages rendered (the others hard-linked), the pages the edit
    shows on changed, and the whole site equal to a cold build. Returns the pages rendered."""
    before = pages_now(ws.out)
    line = ws.build(mp)
    found = REBUILT.match(line)
    assert found, f"expected an incremental rebuild, the build said: {line}"
    rendered, total = int(found[1]), int(found[2])
    after = pages_now(ws.out)
    assert total == len(after) == len(before)
    new_files = {rel for rel in after if after[rel][0] != before[rel][0]}
    assert len(new_files) == rendered, "every page not rendered again should be the last build's file, linked"
    assert 0 < rendered <= at_most, f"{rendered} pages rendered: {sorted(new_files)}"
    for rel in must_change:
        assert after[rel][1] != before[rel][1], f"the edit should show on {rel}"
    # The rebuild tells what it left in the folder without walking it: exactly what a walk finds.
    remembered = json.loads(cache._state_file(ws.cache, ws.out).read_text())["files"]
    assert remembered == cache._output_state(ws.out)
    assert_same_site(ws.out, ws.cold(mp))
    return new_files


# --- the benchmark's corpus (100 records, one interface language) ------------------------------------

@pytest.fixture(scope="module")
def bench_ws(synthetic_content, tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("incremental-bench"), synthetic_content)
    with pytest.MonkeyPatch.context() as mp:
        assert BUILT.match(ws.build(mp))
    return ws


@pytest.fixture(scope="module")
def synthetic_content(tmp_path_factory) -> Path:
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    import corpus as bench_corpus

    root = tmp_path_factory.mktemp("corpus")
    bench_corpus.write_ours(bench_corpus.generate(100), root)
    return root / "content"


def sub_of(body: str) -> str:
    """The corpus's submission holding a body: one per force ("force-002-police" → "bench-2")."""
    return f"bench-{int(body.split('-')[1])}"


def R(body: str, q: int) -> str:
    return page_of(Urls("/").record(sub_of(body), body, f"question-{q:02d}"))


ENTITY_1 = page_of("/initiatives/op-force-001/")


def test_text_changed(bench_ws, monkeypatch):
    edit_paragraph(bench_ws.record(sub_of("force-002-police"), "force-002-police", "question-04"), "force-002-police-q4-03",
                   append_to_text(" Now **more** words, and [a link](https://example.org/x)."))
    # The force and question pages list this many answers instead of showing their text: rendered
    # again (they depend on the record), but unchanged.
    rendered = check_rebuild(bench_ws, monkeypatch, [R("force-002-police", 4), page_of("/responses/bench-2/")],
                             at_most=10)
    assert R("force-002-opcc", 4) not in rendered and R("force-002-police", 5) not in rendered


def test_the_data_files_write_only_the_edited_records_paragraphs(bench_ws, monkeypatch):
    """evidence.json and evidence.csv copy every other paragraph's item from the last build's files
    (and still equal a cold build's, which check_rebuild compares)."""
    from evidence_site import data

    record = bench_ws.record(sub_of("force-003-opcc"), "force-003-opcc", "question-07")
    edit_paragraph(record, "force-003-opcc-q7-02", append_to_text(" A clerk's correction."))
    made = {"json": [], "csv": []}
    json_item, csv_row = data._paragraph_json, data._csv_row
    monkeypatch.setattr(data, "_paragraph_json", lambda p, url: made["json"].append(p.id) or json_item(p, url))
    monkeypatch.setattr(data, "_csv_row", lambda site, p, url: made["csv"].append(p.id) or csv_row(site, p, url))
    check_rebuild(bench_ws, monkeypatch, [R("force-003-opcc", 7)], at_most=10)
    site = pipeline.load_site(bench_ws.content)
    edited = [p.id for r in site.records if r.body == "force-003-opcc" and r.question == "question-07"
              for p in r.paragraphs]
    everything = [pid for sub in site.submissions for pid in sub.sequence]
    # The rebuild made the edited record's items only; the cold build check_rebuild compares with, all.
    assert made["json"] == made["csv"] == edited + everything


def test_mention_added_to_another_forces_record(bench_ws, monkeypatch):
    """The entity page did not show this record before: only the new build's dependencies name it."""
    edit_paragraph(bench_ws.record(sub_of("force-004-opcc"), "force-004-opcc", "question-02"), "force-004-opcc-q2-02",
                   add_mention("op-force-001", "Operation Falcon 1"))
    check_rebuild(bench_ws, monkeypatch, [R("force-004-opcc", 2), ENTITY_1], at_most=12)


def test_mention_removed(bench_ws, monkeypatch):
    """The entity page no longer shows the paragraph, nor any other of this record: only the last
    build's dependencies name the record."""
    site = pipeline.load_site(bench_ws.content)
    sources = {pid for e in site.entities for pid in e.sources}
    record, paragraph, entity = next(
        (r, ps[0], site.entity_by_id[e]) for r in site.records
        for e, ps in _mentioning(r).items() if len(ps) == 1 and ps[0] not in sources)
    edit_paragraph(Path(record.path), paragraph, drop_mentions)
    page = render.Page(Urls("/").entity(entity), "entity.html", "entity", {"entity": entity})
    check_rebuild(bench_ws, monkeypatch, [R(record.body, int(record.question[-2:])), page_of(page.url)], at_most=12)
    assert record.path not in deps.page_deps(pipeline.load_site(bench_ws.content), page)


def _mentioning(record) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in record.paragraphs:
        for m in p.mentions:
            found.setdefault(m.entity, []).append(p.id)
    return found


def test_joint_with_added(bench_ws, monkeypatch):
    """A joint statement shows on the other body's record page, which this record was not behind."""
    edit_paragraph(bench_ws.record(sub_of("force-001-police"), "force-001-police", "question-07"), "force-001-police-q7-04",
                   add_joint("force-001-opcc"))
    check_rebuild(bench_ws, monkeypatch, [R("force-001-police", 7), R("force-001-opcc", 7)], at_most=12)


def test_joint_with_removed(bench_ws, monkeypatch):
    edit_paragraph(bench_ws.record(sub_of("force-001-police"), "force-001-police", "question-07"), "force-001-police-q7-04",
                   drop_line("    joint_with: [force-001-opcc]"))
    check_rebuild(bench_ws, monkeypatch, [R("force-001-police", 7), R("force-001-opcc", 7)], at_most=12)


def test_heading_turned_into_prose(bench_ws, monkeypatch):
    """The paragraphs after it are numbered again: every page citing them by number changes."""
    site = pipeline.load_site(bench_ws.content)
    # A record opening with a heading, with a later paragraph an entity page cites by its number.
    record, heading, entity = next(
        (r, r.paragraphs[0].id, site.entity_by_id[m.entity]) for r in site.records if r.paragraphs[0].kind == "heading"
        for p in r.paragraphs[1:] for m in p.mentions)
    edit_paragraph(Path(record.path), heading, drop_line("    kind: heading"))
    check_rebuild(bench_ws, monkeypatch, [R(record.body, int(record.question[-2:])),
                                          page_of(Urls("/").entity(entity))], at_most=12)


def test_page_changed(bench_ws, monkeypatch):
    """A paragraph said to run over a page break no longer does ("pp. 5–6" becomes "p. 5")."""
    record, spanning = next((r, p.id) for r in pipeline.load_site(bench_ws.content).records
                            for p in r.paragraphs if p.page_end)
    edit_paragraph(Path(record.path), spanning, lambda block: [x for x in block if not x.startswith("    page_end:")])
    check_rebuild(bench_ws, monkeypatch, [R(record.body, int(record.question[-2:]))], at_most=10)


def test_two_records_edited_at_once(bench_ws, monkeypatch):
    edit_paragraph(bench_ws.record(sub_of("force-001-opcc"), "force-001-opcc", "question-01"), "force-001-opcc-q1-01",
                   append_to_text(" One."))
    edit_paragraph(bench_ws.record(sub_of("force-005-opcc"), "force-005-opcc", "question-09"), "force-005-opcc-q9-01",
                   append_to_text(" Two."))
    check_rebuild(bench_ws, monkeypatch, [R("force-001-opcc", 1), R("force-005-opcc", 9),
                                          page_of("/responses/bench-1/"), page_of("/responses/bench-5/")], at_most=14)


def test_the_glossary_follows_uses_added_and_removed(bench_ws, monkeypatch):
    """The glossary lists where each acronym is used. A rebuild searches only the edited records'
    paragraphs and takes the others' uses from the last build: a use added and one removed show as
    in a cold build."""
    record = bench_ws.record(sub_of("force-001-opcc"), "force-001-opcc", "question-02")
    text = record.read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=  - id: )", text)
    with_cse = next(re.match(r"  - id: (\S+)", b)[1] for b in blocks if re.search(r"\bCSE\b", b))
    without = next(re.match(r"  - id: (\S+)", b)[1] for b in blocks[1:] if "ACEs" not in b and "page:" in b
                   and "    text: |-" in b)
    edit_paragraph(record, with_cse, lambda block: [re.sub(r"\bCSE\b", "C.S.E.", line) for line in block])
    edit_paragraph(record, without, append_to_text(" The ACEs were counted."))
    glossary = page_of("/glossary/")
    before = (bench_ws.out / glossary).read_text(encoding="utf-8")
    calls = []
    real = pipeline.glossary_uses

    def spy(site, reuse=None):
        calls.append(reuse)
        return real(site, reuse)

    monkeypatch.setattr(pipeline, "glossary_uses", spy)
    check_rebuild(bench_ws, monkeypatch, [glossary], at_most=12)
    assert calls and calls[0] is not None and without in calls[0][1], "the rebuild should search the edited records only"
    after = (bench_ws.out / glossary).read_text(encoding="utf-8")
    assert glossary_count(after, "aces") == glossary_count(before, "aces") + 1
    assert glossary_count(after, "cse") == glossary_count(before, "cse") - 1


FULL_BUILD_IN_WORKERS = """
import json, sys
sys.path.insert(0, {src!r})
from pathlib import Path
from evidence_site import parallel, pipeline
parallel.MIN_PARALLEL_COST = 0  # 100 records: fork even for this little
# Every chunk to the worker, the glossary's too: left to the timing, this process takes a chunk of
# pages of no group whenever the worker is slow to finish its first (under load).
parallel._Feeder.take = lambda self: None
here = []
real = pipeline.glossary_uses
pipeline.glossary_uses = lambda site, reuse=None: here.append(reuse) or real(site, reuse)
pipeline.build(pipeline.Settings(content=Path(sys.argv[1]), templates=Path(sys.argv[2]), out=Path(sys.argv[3]),
                                 search=False), log=lambda *a: None)
print(json.dumps(len(here)))
"""


def test_the_glossary_uses_found_by_a_worker_serve_the_next_rebuild(synthetic_content, tmp_path, monkeypatch):
    """A full build renders the glossary in a worker process: what the worker found is kept all the
    same, so the first edit after a full build searches only the edited record's paragraphs."""
    import os
    import subprocess
    import sys

    from conftest import ROOT
    from evidence_site import parallel

    ws = Workspace(tmp_path, synthetic_content)
    # In a process of its own, which may fork (this one runs the test server's thread).
    env = dict(os.environ, EVIDENCE_SITE_CACHE=str(ws.cache), EVIDENCE_SITE_WORKERS="2")
    done = subprocess.run([sys.executable, "-c", FULL_BUILD_IN_WORKERS.format(src=str(ROOT / "src")),
                           str(ws.content), str(ws.templates), str(ws.out)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 0, "the glossary should have been rendered by a worker"
    record = ws.record(sub_of("force-002-police"), "force-002-police", "question-03")
    edit_paragraph(record, "force-002-police-q3-01", append_to_text(" The ACEs were counted."))
    made_here = []
    real = pipeline.glossary_uses
    monkeypatch.setattr(pipeline, "glossary_uses", lambda site, reuse=None: made_here.append(reuse) or real(site, reuse))
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 10**9)  # the rebuild renders here, where the spy is
    check_rebuild(ws, monkeypatch, [page_of("/glossary/")], at_most=12)
    assert made_here and made_here[0] is not None, "the rebuild should search the edited record only"
    assert "force-002-police-q3-01" in made_here[0][1]


def test_the_glossary_searched_again_in_part_equals_a_full_search(synthetic_content):
    """Whatever records were edited and whatever the last build found in them, searching only their
    paragraphs gives every term's uses in the same order as searching every paragraph (paragraphs of
    two submissions at the same place in their reading order included)."""
    import random

    site = pipeline.load_site(synthetic_content)
    full = pipeline.glossary_ids(pipeline.glossary_uses(site))
    assert sum(map(len, full.values())) > 100
    rng = random.Random(9)
    for n in (1, 2, 5, 20):
        edited = frozenset(p.id for r in rng.sample(site.records, n) for p in r.paragraphs)
        others = {term: [pid for pid in found if pid not in edited] for term, found in full.items()}
        # The last build found in the edited paragraphs what is there now, nothing, or every term.
        for last in (full, others, {term: found + sorted(edited) for term, found in others.items()}):
            assert pipeline.glossary_ids(pipeline.glossary_uses(site, (last, edited))) == full


def glossary_count(html: str, term_id: str) -> int:
    """How many uses the glossary gives for a term: the links in its row, and "and N more"."""
    row = re.search(rf'<tr id="{term_id}">(.*?)</tr>', html, re.S)[1]
    more = re.search(r"and (\d+) more", row)
    return len(re.findall(r'<a href="[^"]*#[^"]+">', row)) + (int(more[1]) if more else 0)


def test_nothing_rendered_when_the_output_gained_a_file(bench_ws, monkeypatch):
    """A search index written into the folder after a build without one (as ``serve`` does) is no
    edit of what the build wrote: the next build keeps every page and drops the stray files."""
    (bench_ws.out / "pagefind").mkdir()
    (bench_ws.out / "pagefind" / "pagefind.js").write_text("// written after the build\n")
    edit_paragraph(bench_ws.record(sub_of("force-002-opcc"), "force-002-opcc", "question-03"), "force-002-opcc-q3-02",
                   append_to_text(" Three."))
    check_rebuild(bench_ws, monkeypatch, [R("force-002-opcc", 3)], at_most=10)
    assert not (bench_ws.out / "pagefind").exists()


def test_a_touched_page_means_a_full_build(bench_ws, monkeypatch):
    page = bench_ws.out / R("force-002-opcc", 3)
    page.write_text(page.read_text() + "<!-- touched -->")
    edit_paragraph(bench_ws.record(sub_of("force-002-opcc"), "force-002-opcc", "question-03"), "force-002-opcc-q3-02",
                   append_to_text(" Four."))
    assert BUILT.match(bench_ws.build(monkeypatch))
    assert_same_site(bench_ws.out, bench_ws.cold(monkeypatch))


@pytest.mark.parametrize("what", ["glossary", "entity", "template", "submission"])
def test_anything_but_a_record_rebuilds_every_page(bench_ws, monkeypatch, what):
    if what == "glossary":
        file = bench_ws.content / "glossary.yaml"
        text = file.read_text()
        expansion = re.search(r"expansion: (.+)", text)
        file.write_text(text.replace(expansion[0], expansion[0] + " (edited)", 1))
    elif what == "entity":
        file = bench_ws.content / "entities" / "initiatives.yaml"
        file.write_text(file.read_text().replace("is the synthetic initiative of Force 004.",
                                                 "is the edited initiative of Force 004.", 1))
    elif what == "template":
        file = bench_ws.templates / "base.html"
        file.write_text(file.read_text().replace("</footer>", "<p>edited footer</p></footer>", 1))
    else:
        file = bench_ws.content / "submissions" / "bench-3.yaml"
        file.write_text(file.read_text() + "\n# an editor's note\n")
    before = pages_now(bench_ws.out)
    line = bench_ws.build(monkeypatch)
    found = BUILT.match(line)
    assert found, f"expected every page built again, the build said: {line}"
    said = "templates" if what == "template" else file.relative_to(bench_ws.content).as_posix() + " changed"
    assert said in line, line  # the editor is told why
    after = pages_now(bench_ws.out)
    assert int(found[1]) == len(after)
    assert not {rel for rel in after if rel in before and after[rel][0] == before[rel][0]}, "no page may be kept"
    assert_same_site(bench_ws.out, bench_ws.cold(monkeypatch))


# --- the real content: two interface languages, figures, comparison, glossary ------------------------

@pytest.fixture(scope="module")
def real_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("incremental-real"), CONTENT)
    with pytest.MonkeyPatch.context() as mp:
        assert BUILT.match(ws.build(mp))
    return ws


def test_real_site_joint_statement_answers_a_question_with_no_record(real_ws, monkeypatch):
    """North Wales OPCC gave no answer on resource allocation: a joint statement kept in the police's
    record turns its page (in both languages) and the force page from "no answer" to "joint"."""
    file = real_ws.record("policing-in-wales", "north-wales-police", "resource-allocation")
    pid = re.search(r"  - id: (\S+)\n", file.read_text())[1]
    edit_paragraph(file, pid, add_joint("north-wales-opcc"))
    record = Urls("/").record("policing-in-wales", "north-wales-opcc", "resource-allocation")
    welsh = Urls("/", "cy").record("policing-in-wales", "north-wales-opcc", "resource-allocation")
    rendered = check_rebuild(real_ws, monkeypatch, [page_of(record), Urls("/", "cy").output_path(welsh),
                                                    page_of("/forces/north-wales/")], at_most=40)
    assert page_of("/forces/gwent/") not in rendered


def test_real_site_text_and_kind_changed(real_ws, monkeypatch):
    file = real_ws.record("policing-in-wales", "gwent-police", "strategic-direction")
    text = file.read_text()
    heading = re.search(r"  - id: (\S+)\n    kind: heading\n", text)
    prose = re.search(r"  - id: (\S+)\n    page: \d+\n    text: \|-\n", text)
    edit_paragraph(file, prose[1], append_to_text(" An edited sentence."))
    if heading:
        edit_paragraph(file, heading[1], drop_line("    kind: heading"))
    check_rebuild(real_ws, monkeypatch, [page_of("/responses/policing-in-wales/gwent-police/strategic-direction/"),
                                         page_of("/forces/gwent/")], at_most=40)


def test_real_site_with_search_indexes_the_edit(real_ws, monkeypatch):
    """With search, the kept pages are indexed with the rendered ones: the edited words are found."""
    assert BUILT.match(real_ws.build(monkeypatch, search=True))  # the settings changed: a full build
    file = real_ws.record("policing-in-wales", "south-wales-opcc", "strategic-direction")
    pid = re.search(r"  - id: (\S+)\n", file.read_text())[1]
    edit_paragraph(file, pid, append_to_text(" Zyxwvutsrq incremental."))
    assert REBUILT.match(real_ws.build(monkeypatch, search=True))
    from evidence_site.write import bundle_problems

    assert bundle_problems(real_ws.out) == []
    fragments = [json.loads(gzip.decompress(f.read_bytes())[len(b"pagefind_dcd"):])
                 for f in (real_ws.out / "pagefind" / "fragment").glob("*.pf_fragment")]
    found = [f["url"] for f in fragments if "zyxwvutsrq" in f["content"].lower()]
    assert found == ["/responses/policing-in-wales/south-wales-opcc/strategic-direction/"]
    cold = real_ws.cold(monkeypatch)
    assert tree(real_ws.out) == tree(cold)


WEIGHT_WARNING = re.compile(r"^warning: (\S+) weighs (\d+\.\d) KB, over the (\d+) KB budget of ")


def over_budget_on_disk(out: Path, content: Path) -> dict[str, tuple[float, int]]:
    """Each page heavier than DECISIONS.md's budget (60 KB; a submission's full response, in either
    language, 150 KB): its weight in KB and its budget, read from the files built from ``content``."""
    full = {urls.output_path(urls.response(s.id)) for s in pipeline.load_site(content).submissions
            for urls in (Urls("/"), Urls("/", "cy"))}
    over = {}
    for f in out.rglob("*.html"):
        rel = f.relative_to(out).as_posix()
        budget = 150 if rel in full else 60
        if f.stat().st_size > budget * 1000:
            over[rel] = (round(f.stat().st_size / 1000, 1), budget)
    return over


def weight_warnings(logs: list[str]) -> dict[str, tuple[float, int]]:
    found = {}
    for line in logs:
        if line.startswith("warning:"):
            m = WEIGHT_WARNING.match(line)
            assert m, f"not a page's weight: {line}"
            found[m[1]] = (float(m[2]), int(m[3]))
    return found


def test_a_build_names_each_page_over_its_weight_budget_and_still_builds_it(tmp_path, monkeypatch):
    """An editor who makes an answer much longer is told which pages a phone will be slow to open,
    each with its weight and its budget (DECISIONS.md: 60 KB a page, 150 KB the full response), and
    the site is built all the same: the evidence is published whatever its length. A rebuild after
    an edit elsewhere names them again, the pages it kept as well as those it rendered."""
    ws = Workspace(tmp_path, CONTENT)
    assert BUILT.match(ws.build(monkeypatch))
    assert weight_warnings(ws.logs) == {} == over_budget_on_disk(ws.out, ws.content)  # the real response is within it

    lengthen(ws.record("policing-in-wales", "gwent-police", "resource-allocation"), 30)
    assert REBUILT.match(ws.build(monkeypatch))
    over = over_budget_on_disk(ws.out, ws.content)
    record = page_of(Urls("/").record("policing-in-wales", "gwent-police", "resource-allocation"))
    full = page_of(Urls("/").response("policing-in-wales"))
    assert over[record][1] == 60 and over[full][1] == 150 and "cy/" + full in over  # the case this tests
    # Each warning says what kind of page it weighs, as its budget is that kind's.
    said = {line.split()[1]: line for line in ws.logs if line.startswith("warning:")}
    assert said[full].endswith("budget of a submission's full response: slow to open on a phone (docs/editing.md)")
    assert said[record].endswith("budget of a page: slow to open on a phone (docs/editing.md)")
    assert len(over) <= pipeline.HEAVY_SHOWN  # each named (more are counted: the test below)
    assert weight_warnings(ws.logs) == over

    edit_paragraph(ws.record("policing-in-wales", "north-wales-police", "strategic-direction"),
                   "north-wales-police-q1-01", append_to_text(" An edited sentence."))
    before = (ws.out / record).stat().st_ino
    assert REBUILT.match(ws.build(monkeypatch))
    assert (ws.out / record).stat().st_ino == before  # kept from the last build, not rendered
    assert weight_warnings(ws.logs) == over_budget_on_disk(ws.out, ws.content) == over
    assert tree(ws.out) == tree(ws.cold(monkeypatch))  # pages listed for their weight, as a cold build lists them


def test_a_question_or_force_page_lists_answers_too_long_to_show_in_full(tmp_path):
    """A question or force page shows its answers in full when they are few (up to 90 paragraphs,
    as the real response's are); when so few make a page heavier than the 60 KB budget, because
    their paragraphs are long, it lists them instead, each linking to its own page, as a page of
    many answers does. The other question's page still shows its answers in full. The editor who
    ran ``build.py build`` reads, before its last line, the pages still over their budget (the long
    answer's own page and the full response), and the build succeeds."""
    ws = Workspace(tmp_path, CONTENT)
    lengthen(ws.record("policing-in-wales", "gwent-police", "resource-allocation"), 30)
    out = tmp_path / "cli-site"
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--content", str(ws.content),
                           "--templates", str(ws.templates), "--out", str(out), "--no-search"],
                          env={**os.environ, "EVIDENCE_SITE_CACHE": "off"}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert BUILT.match(said[-1]), said
    over = over_budget_on_disk(out, ws.content)
    assert weight_warnings(said[:-1]) == over
    # Over, and named: pages that quote the evidence and have no shorter form (the answer's own page,
    # the full response; here also the initiative quoting the paragraphs that name it); never a
    # question or force page.
    for urls in (Urls("/"), Urls("/", "cy")):
        assert urls.output_path(urls.record("policing-in-wales", "gwent-police", "resource-allocation")) in over
        assert urls.output_path(urls.response("policing-in-wales")) in over
    assert not [rel for rel in over if rel.removeprefix("cy/").split("/")[0] in ("questions", "forces")], over
    for lang in ("en", "cy"):
        urls = Urls("/", lang)
        for url in (urls.question("resource-allocation"), urls.force("gwent")):
            file = out / urls.output_path(url)
            page = BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")
            assert file.stat().st_size <= 60_000, f"{url}: {file.stat().st_size} bytes"
            assert not page.select("main .para"), f"{url}: an answer's text on a page listing them"
            listed = [a["href"] for a in page.select("main ul.answer-list a")]
            assert urls.record("policing-in-wales", "gwent-police", "resource-allocation") in listed, url
            assert page.select_one("main p.lede"), f"{url}: no word of why the answers are listed"
        other = BeautifulSoup((out / urls.output_path(urls.question("strategic-direction"))).read_text(
            encoding="utf-8"), "html.parser")
        assert other.select("main .para") and not other.select("main ul.answer-list")
    text = BeautifulSoup((out / page_of(Urls("/").question("resource-allocation"))).read_text(encoding="utf-8"),
                         "html.parser").select_one("main p.lede").get_text()
    assert text.startswith("These answers hold 85 paragraphs between them")


def test_a_build_names_ten_heavy_pages_and_counts_the_rest():
    heavy = [views.Heavy(f"responses/x/{i}/index.html", 70_000 - i, 60_000, False) for i in range(12)]
    lines = pipeline._weight_warnings(heavy)
    assert len(lines) == 11 and weight_warnings(lines[:10]) == {
        h.rel: (round(h.size / 1000, 1), 60) for h in heavy[:10]}
    assert lines[10] == "warning: and 2 more pages over their weight budget"


# --- the dependencies against what the pages show -----------------------------------------------------

def test_every_paragraph_a_page_shows_is_in_its_dependencies(site_dir):
    """Any paragraph a built page links to or holds (``#id`` or ``id="…"``) belongs to a record the
    page depends on: a template showing evidence that deps.py does not know of fails here."""
    site = pipeline.load_site(CONTENT)
    record_of = {p.id: r.path for r in site.records for p in r.paragraphs}
    pattern = re.compile(r'(?:href="[^"#]*#|id=")([a-z0-9-]+)"')
    checked = 0
    for lang in site.config.languages:
        for rel, page in render.all_pages(site, Urls("/", lang)):
            needs = deps.page_deps(site, page)
            html = (site_dir / rel).read_text(encoding="utf-8")
            shown = {record_of[pid] for pid in pattern.findall(html) if pid in record_of}
            assert shown <= needs, f"{rel} shows paragraphs of {sorted(shown - needs)}"
            checked += len(shown)
    assert checked > 300  # (page, record) pairs seen


def test_dependencies_of_each_kind_of_page(site_dir):
    site = pipeline.load_site(CONTENT)
    every = {r.path for r in site.records}
    by_template: dict[str, list[frozenset[str]]] = {}
    for rel, page in render.all_pages(site, Urls("/")):
        by_template.setdefault(page.template, []).append(deps.page_deps(site, page))
    for template in ("search.html", "accessibility.html", "404.html", "entities.html"):
        assert all(d == frozenset() for d in by_template[template]), template
    for template in ("home.html", "glossary.html", "figures.html", "compare.html"):
        assert by_template[template] == [every], template
    assert all(0 < len(d) <= 3 for d in by_template["record.html"] if d)
    assert sum(not d for d in by_template["record.html"]) == 1  # North Wales OPCC, resource allocation
    for forces in by_template["force.html"]:
        assert 0 < len(forces) < len(every)


def test_linking_again_over_a_dead_workers_links_is_safe(tmp_path):
    """A worker that died part-way through keeping pages leaves some links: this process links
    them all again, and the last build's files are untouched."""
    from evidence_site import write

    old, new = tmp_path / "old", tmp_path / "new"
    rels = ["index.html", "responses/a/b/c/index.html", "responses/a/index.html"]
    for rel in rels:
        (old / rel).parent.mkdir(parents=True, exist_ok=True)
        (old / rel).write_text(rel)
    new.mkdir()
    assert write.link_files(old, new, rels[:2]) == 0
    assert write.link_files(old, new, rels) == 0
    for rel in rels:
        assert (new / rel).read_text() == rel and (new / rel).stat().st_ino == (old / rel).stat().st_ino
    with pytest.raises(write.OutputError):
        write.link_files(old, new, ["../outside.html"])


def test_side_work_beside_pages_in_one_process_raises_its_error(tmp_path):
    """With no workers, the side work (hard-linking kept pages) runs in a thread while the pages
    render; its error still stops the build, after the pages it did not hold up."""
    from evidence_site import parallel

    site = pipeline.load_site(CONTENT)
    urls = Urls("/")
    env = templating.environment(TEMPLATES)
    renderer = render.Renderer(site, env, urls, pipeline.load_labels(TEMPLATES, "en"), build_date=None,
                               languages=("en",))
    entries = [e for e in render.all_pages(site, urls) if e[1].template == "question.html"]
    job = parallel.Job(renderer, entries)
    with pytest.raises(FileNotFoundError):
        parallel.render_pages([job], tmp_path, side_work=(shutil.copyfile, (tmp_path / "missing", tmp_path / "x")))
    assert all((tmp_path / rel).is_file() for rel, _ in entries)
    parallel.render_pages([job], tmp_path / "again", side_work=(shutil.copyfile, (tmp_path / entries[0][0], tmp_path / "copy")))
    assert (tmp_path / "copy").read_bytes() == (tmp_path / entries[0][0]).read_bytes()
