"""evidence.json and evidence.csv are written by hand for speed (data.py); these check the bytes are
exactly what json.dumps and csv.writer write, on the real content and on awkward text."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import fields, replace

import pytest

from conftest import CONTENT
from evidence_site import data, pipeline, write
from evidence_site.model import Mention, Paragraph, Site
from evidence_site.urls import Urls

AWKWARD = ['He said "no", twice', "a, b, c", "line one\nline two", "bare\rreturn", "crlf\r\nend",
           "tab\there", "=SUM(A1)", "+44", "-1", "@here", "\tindented", "\rreturn first", "back\\slash",
           'only "quotes"', "Cymraeg: ŵ ŷ â – “curly” ‘quotes’", "emoji 🚓", "line\u2028separator",
           "nul\x00and\x01control", "", " ", ",", '"', "\n", "\r"]
URLS = [Urls("/"), Urls("/repo/"), Urls("/", "cy"), Urls('/a"b,c\nd/')]


# data.py's evidence files as they were before they were written by hand (dicts through json.dumps,
# rows through csv.writer), kept here as the reference for the bytes.

def reference(site: Site, urls: Urls) -> dict:
    paragraphs = []
    for sub in site.submissions:
        for pid in sub.sequence:
            p = site.paragraph_by_id[pid]
            row = {"id": p.id, "submission": p.submission, "body": p.body, "question": p.question,
                   "page": p.page, "kind": p.kind, "number": p.number, "text": p.text, "url": urls.paragraph(p),
                   "mentions": [{"entity": m.entity, "text": m.text} for m in p.mentions]}
            if p.page_end:
                row["page_end"] = p.page_end
            if p.joint_with:
                row["joint_with"] = list(p.joint_with)
            paragraphs.append(row)
    return {
        "submissions": [{"id": s.id, "title": s.title, "author": s.author, "committee": s.committee,
                         "inquiry": s.inquiry, "language": s.language,
                         "introduction": [{"id": p.id, "page": p.page, "kind": p.kind, "text": p.text,
                                           "url": urls.paragraph(p)} for p in s.introduction]}
                        for s in site.submissions],
        "forces": [{"id": f.id, "name": f.name, "name_cy": f.name_cy} for f in site.forces],
        "questions": [{"id": q.id, "number": q.number, "title": q.title, "text": q.text} for q in site.questions],
        "bodies": [{"id": b.id, "name": b.name, "force": b.force, "kind": b.kind} for b in site.bodies],
        "paragraphs": paragraphs,
        "entities": [{"id": e.id, "type": e.type, "name": e.name, "kind": e.kind, "forces": list(e.forces),
                      "addresses": [{"text": a.text, "url": a.url} for a in e.addresses],
                      "summary": e.summary, "sources": list(e.sources), "url": urls.entity(e)}
                     for e in site.entities],
        "acronyms": [{"id": a.id, "term": a.term, "expansion": a.expansion, "source": a.source}
                     for a in site.acronyms],
        "figures": [{"id": f.id, "value": f.value, "counts": f.counts, "period": f.period, "body": f.body,
                     "paragraph": f.paragraph, "url": urls.paragraph(site.paragraph_by_id[f.paragraph])}
                    for f in site.figures],
    }


def reference_json(site: Site, urls: Urls) -> str:
    lines = ["{"]
    doc = reference(site, urls)
    keys = sorted(doc)
    for i, key in enumerate(keys):
        items = doc[key]
        end = "," if i < len(keys) - 1 else ""
        if not items:
            lines.append(f" {json.dumps(key)}: []{end}")
            continue
        lines.append(f" {json.dumps(key)}: [")
        lines.append(",\n".join("  " + json.dumps(item, ensure_ascii=False, sort_keys=True) for item in items))
        lines.append(f" ]{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def reference_csv(site: Site, urls: Urls) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "force", "body", "question", "page", "page_end", "number", "kind", "text", "entities", "url"])
    for sub in site.submissions:
        for pid in sub.sequence:
            p = site.paragraph_by_id[pid]
            body = site.body_by_id[p.body] if p.body else None
            w.writerow([p.id, body.force if body else "", p.body or "", p.question or "", p.page, p.page_end or "",
                        p.number or "", p.kind, data.spreadsheet_safe(p.text),
                        " ".join(m.entity for m in p.mentions), urls.paragraph(p)])
    return out.getvalue()


@pytest.fixture(scope="module")
def real_site() -> Site:
    return pipeline.load_site(CONTENT)


def awkward(site: Site) -> Site:
    """The site with every paragraph's text, mentions, joint bodies, page_end and number made awkward."""
    n = iter(range(10**6))

    def change(p: Paragraph) -> Paragraph:
        i = next(n)
        return p._replace(text=AWKWARD[i % len(AWKWARD)] + p.text * (i % 2),
                       mentions=tuple(Mention(f"entity-{j}", AWKWARD[(i + j) % len(AWKWARD)]) for j in range(i % 3)),
                       joint_with=("gwent-police", "a-b")[: i % 3], page_end=(None, 0, p.page + 1)[i % 3],
                       number=(None, 0, 7, p.number)[i % 4])
    records = tuple(replace(r, paragraphs=tuple(map(change, r.paragraphs))) for r in site.records)
    lookups = {f.name: {} for f in fields(Site) if not f.compare}  # filled afresh by __post_init__
    return replace(site, records=records, **lookups)


@pytest.mark.parametrize("urls", URLS, ids=repr)
def test_evidence_files_are_byte_for_byte_what_the_encoders_write(real_site, urls):
    for site in (real_site, awkward(real_site)):
        assert data.evidence_json(site, urls) == reference_json(site, urls)
        assert data.evidence_csv(site, urls) == reference_csv(site, urls)


@pytest.mark.parametrize("batch", [1, 3, 10**6], ids=["one item", "three items", "all in one"])
def test_data_files_made_as_they_are_written_are_the_same_bytes_and_layouts(real_site, batch, tmp_path, monkeypatch):
    """A build makes each data file while writing it, a batch of items at a time (``stream``), and
    never holds it whole: the files written are byte for byte the text made at once, whatever the
    batch, the separators between batches included, and so is where each item lies (what the next
    rebuild copies from). A file written that way comes a row at a time (``write.Streamed`` writes
    a batch of pieces at a time)."""
    monkeypatch.setattr(data, "ITEMS_BATCH", batch)
    for site in (real_site, awkward(real_site)):
        urls = Urls("/repo/")
        whole: dict = {}
        streamed_layouts: dict = {}
        assert data.evidence_json(site, urls, layouts=whole) == reference_json(site, urls)
        assert data.evidence_csv(site, urls, layouts=whole) == reference_csv(site, urls)
        streamed = {"evidence.json": data.evidence_json(site, urls, layouts=streamed_layouts, stream=True),
                    "evidence.csv": data.evidence_csv(site, urls, layouts=streamed_layouts, stream=True)}
        assert all(isinstance(x, write.Streamed) for x in streamed.values())
        assert streamed_layouts == {}, "made as written: nothing is made before"
        write.write_files(tmp_path, streamed, marker=False)
        assert (tmp_path / "evidence.json").read_bytes() == reference_json(site, urls).encode("utf-8")
        assert (tmp_path / "evidence.csv").read_bytes() == reference_csv(site, urls).encode("utf-8")
        assert streamed_layouts == whole and set(whole) == {"json", "csv"}
        ids = [pid for sub in site.submissions for pid in sub.sequence]
        for kind, lay in whole.items():  # every item where the layout says
            written = (tmp_path / f"evidence.{kind}").read_bytes()
            items = [written[a:b].decode("utf-8") for a, b in zip(lay.starts, lay.ends)]
            if kind == "json":
                assert [json.loads(x)["id"] for x in items] == ids
            else:
                assert [x.split(",", 1)[0] for x in items] == ids
    pieces = list(data.evidence_csv(real_site, Urls("/"), stream=True).pieces)
    assert max(piece.count("\n") for piece in pieces) == 1, "a row at a time, never the file"


def test_the_second_file_reuses_paragraph_urls_only_for_the_same_site_and_urls(real_site):
    other = awkward(real_site)
    a, b = Urls("/"), Urls("/repo/")
    for first, second in [((real_site, a), (other, a)), ((real_site, a), (real_site, b)), ((other, b), (other, b))]:
        data.evidence_json(*first)
        assert data.evidence_csv(*second) == reference_csv(*second)
        data.evidence_csv(*first)
        assert data.evidence_json(*second) == reference_json(*second)


def test_a_paragraph_item_is_what_json_dumps_writes():
    base = Paragraph("p-1", "prose", 3, None, "text", (), (), "sub", "body", "q", 2)
    cases = [base, base._replace(body=None, question=None, number=None), base._replace(page_end=4, joint_with=("x",)),
             base._replace(mentions=(Mention("e", 'say "hi"\n'), Mention("f", "ŵ\u2028"))), base._replace(text="")]
    for p in cases:
        expected = {"id": p.id, "submission": p.submission, "body": p.body, "question": p.question, "page": p.page,
                    "kind": p.kind, "number": p.number, "text": p.text, "url": "/u/#x\"",
                    "mentions": [{"entity": m.entity, "text": m.text} for m in p.mentions]}
        if p.page_end:
            expected["page_end"] = p.page_end
        if p.joint_with:
            expected["joint_with"] = list(p.joint_with)
        assert data._paragraph_json(p, "/u/#x\"") == json.dumps(expected, ensure_ascii=False, sort_keys=True)


def test_csv_rows_are_what_csv_writer_writes():
    rows = [[""], ["a"], [",", ""], ["", ""], *([s, "x", s] for s in AWKWARD), AWKWARD, ["a,b", "c\rd", 'e"f']]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    assert data._csv(rows) == out.getvalue()


def _with_records_awkward(site: Site, which: set[int]) -> Site:
    """The site with the records at the positions ``which`` made awkward, the others as they were."""
    odd = awkward(site)
    records = tuple(odd.records[i] if i in which else r for i, r in enumerate(site.records))
    lookups = {f.name: {} for f in fields(Site) if not f.compare}
    return replace(site, records=records, **lookups)


def _bytes(content) -> bytes:
    return content.read() if isinstance(content, write.Spliced) else content.encode("utf-8")


@pytest.mark.parametrize("which", [{0}, {3, 4}, {-1}, "all"], ids=["first", "two", "last", "all"])
@pytest.mark.parametrize("urls", URLS[:2], ids=repr)
def test_a_rebuild_copies_the_records_not_edited_and_writes_the_same_bytes(real_site, urls, which, tmp_path):
    """After records are edited, the data files made from the last build's files (copying the items
    of the other records) are byte for byte the files made afresh, and so is where their items lie
    (what the next rebuild copies from)."""
    n = len(real_site.records)
    which = set(range(n)) if which == "all" else {i % n for i in which}
    before = real_site
    last = {"json": tmp_path / "last.json", "csv": tmp_path / "last.csv"}
    layouts: dict = {}
    write.write_files(tmp_path, {"last.json": data.evidence_json(before, urls, layouts=layouts),
                                 "last.csv": data.evidence_csv(before, urls, layouts=layouts)})
    # Edited twice in a row: the second rebuild copies from a file the first one spliced.
    for k, after in enumerate((_with_records_awkward(real_site, which), _with_records_awkward(real_site, which ^ {1}))):
        edited = {i for i, (a, b) in enumerate(zip(before.records, after.records)) if a != b}
        changed = frozenset(p.id for i in edited for p in after.records[i].paragraphs)
        reuse = data.Reuse(last, layouts, changed)
        spliced_layouts: dict = {}
        spliced = {"json": data.evidence_json(after, urls, reuse, spliced_layouts),
                   "csv": data.evidence_csv(after, urls, reuse, spliced_layouts)}
        if which != set(range(n)):
            assert all(isinstance(x, write.Spliced) for x in spliced.values()), "most of each file is copied"
        fresh_layouts: dict = {}
        assert _bytes(spliced["json"]) == data.evidence_json(after, urls, layouts=fresh_layouts).encode() \
            == reference_json(after, urls).encode()
        assert _bytes(spliced["csv"]) == data.evidence_csv(after, urls, layouts=fresh_layouts).encode() \
            == reference_csv(after, urls).encode()
        assert spliced_layouts == fresh_layouts
        for kind, content in spliced.items():  # every item is where the layout says
            whole, lay = _bytes(content), fresh_layouts[kind]
            items = [whole[s:e].decode() for s, e in zip(lay.starts, lay.ends)]
            if kind == "json":
                assert [json.loads(x)["id"] for x in items] == [pid for s in after.submissions for pid in s.sequence]
            else:
                assert [x.split(",", 1)[0] for x in items] == [pid for s in after.submissions for pid in s.sequence]
        # What a build does next: write the files (the kernel copying the ranges), then read from them.
        write.write_files(tmp_path / f"build-{k}", {"evidence.json": spliced["json"], "evidence.csv": spliced["csv"]})
        last = {"json": tmp_path / f"build-{k}" / "evidence.json", "csv": tmp_path / f"build-{k}" / "evidence.csv"}
        assert last["json"].read_bytes() == _bytes(spliced["json"])
        before, layouts = after, spliced_layouts


def test_a_rebuild_never_copies_from_a_layout_of_other_paragraphs(real_site, tmp_path):
    """A layout made for another order of paragraphs is not used: the files are made afresh."""
    urls = Urls("/")
    layouts: dict = {}
    write.write_files(tmp_path, {"last.json": data.evidence_json(real_site, urls, layouts=layouts),
                                 "last.csv": data.evidence_csv(real_site, urls, layouts=layouts)})
    moved = replace(real_site.submissions[0], sequence=real_site.submissions[0].sequence[::-1])
    other = replace(real_site, submissions=(moved, *real_site.submissions[1:]),
                    **{f.name: {} for f in fields(Site) if not f.compare})
    reuse = data.Reuse({"json": tmp_path / "last.json", "csv": tmp_path / "last.csv"}, layouts, frozenset())
    assert data.evidence_json(other, urls, reuse) == reference_json(other, urls)
    assert data.evidence_csv(other, urls, reuse) == reference_csv(other, urls)


def test_a_spliced_file_is_copied_across_file_systems_too(tmp_path, monkeypatch):
    """Where the kernel cannot copy between the files, the ranges are read and written instead."""
    source = tmp_path / "last"
    source.write_bytes(b"0123456789" * 1000)
    spliced = write.Spliced(source, ("héllo ", (5, 20), " · ", (9990, 10)))
    expected = "héllo ".encode() + source.read_bytes()[5:25] + " · ".encode() + source.read_bytes()[9990:]

    def refuse(*args):
        raise OSError(18, "Invalid cross-device link")

    for copy in (os.copy_file_range, refuse):
        monkeypatch.setattr(os, "copy_file_range", copy)
        write.write_files(tmp_path / copy.__name__, {"f": spliced})
        assert (tmp_path / copy.__name__ / "f").read_bytes() == spliced.read() == expected
    with pytest.raises(OSError, match="ended before"):
        write.write_files(tmp_path / "short", {"f": write.Spliced(source, ((9990, 11),))})


def test_a_streamed_file_is_written_as_its_pieces_are_made(tmp_path, monkeypatch):
    """A batch of pieces is on disk before the next batch is made: the file is never held whole."""
    monkeypatch.setattr(write, "WRITE_BATCH", 2)
    target = tmp_path / "data.json"
    on_disk: list[int] = []

    def pieces():
        for i in range(5):
            on_disk.append(target.stat().st_size if target.exists() else -1)
            yield f"{i}ŵ" * 50_000

    write.Streamed(pieces()).write_to(target)
    assert target.read_text(encoding="utf-8") == "".join(f"{i}ŵ" * 50_000 for i in range(5))
    assert on_disk == [0, 0, 300_000, 300_000, 600_000]
