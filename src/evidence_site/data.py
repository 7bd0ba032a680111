"""Machine-readable outputs: data/evidence.json, data/evidence.csv, sitemap.xml, robots.txt."""

from __future__ import annotations

import csv
import hashlib
import json
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from json.encoder import encode_basestring
from types import SimpleNamespace
from html import escape as _html_escape

from .model import Paragraph, Site
from .write import Spliced, Streamed
from .urls import Urls, absolute


def _xml_text(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as xml.sax.saxutils.escape does (whose import pulls in
    urllib.request: 17 ms of every command's start)."""
    return _html_escape(text, quote=False)


# What json.dumps(item, ensure_ascii=False, sort_keys=True) runs, made once instead of per item.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _reading_order(site: Site, urls: Urls) -> Iterator[list[tuple[Paragraph, str]]]:
    """Every paragraph of the records with its URL, submission by submission, each in its sequence:
    ``ITEMS_BATCH`` at a time, made as they are asked for (at an inquiry's scale the whole list took
    13 MB, held while both data files were made). A record's page URL is made once for the run of
    its paragraphs: each file goes through them all for a few hundredths of a second."""
    by_id = site.paragraph_by_id
    batch: list[tuple[Paragraph, str]] = []
    record = page = None
    for sub in site.submissions:
        for p in map(by_id.__getitem__, sub.sequence):
            if (p.submission, p.body, p.question) != record:
                record, page = (p.submission, p.body, p.question), urls.paragraph_page(p) + "#"
            batch.append((p, page + p.id))  # urls.paragraph(p)
            if len(batch) == ITEMS_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _sections(site: Site, urls: Urls) -> dict[str, list[dict]]:
    """evidence.json's lists other than the paragraphs (which _paragraph_json writes)."""
    return {
        "submissions": [{"id": s.id, "title": s.title, "author": s.author, "committee": s.committee,
                         "inquiry": s.inquiry, "language": s.language,
                         "introduction": [{"id": p.id, "page": p.page, "kind": p.kind, "text": p.text,
                                           "url": urls.paragraph(p)} for p in s.introduction]}
                        for s in site.submissions],
        "forces": [{"id": f.id, "name": f.name, "name_cy": f.name_cy} for f in site.forces],
        "questions": [{"id": q.id, "number": q.number, "title": q.title, "text": q.text} for q in site.questions],
        "bodies": [{"id": b.id, "name": b.name, "force": b.force, "kind": b.kind} for b in site.bodies],
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


def _paragraph_json(p: Paragraph, url: str) -> str:
    """A paragraph's item in evidence.json, exactly as json.dumps(ensure_ascii=False, sort_keys=True)
    writes the dict {body, id, joint_with (only when there are any), kind, mentions: [{entity, text}],
    number, page, page_end (only when set), question, submission, text, url}.

    Written directly, keys in sorted order, because building that dict for each of 100,000 paragraphs
    and encoding it took most of the file's time. The bytes are the same: strings go through the JSON
    encoder's own escaping (encode_basestring), and the numbers are ints (the schema checks them),
    which an f-string writes as JSON does."""
    s = encode_basestring
    joint = f'"joint_with": [{", ".join(map(s, p.joint_with))}], ' if p.joint_with else ""
    page_end = f'"page_end": {p.page_end}, ' if p.page_end else ""
    # Most paragraphs mention nothing: no list to build for them.
    mentions = (", ".join([f'{{"entity": {s(m.entity)}, "text": {s(m.text)}}}' for m in p.mentions])
                if p.mentions else "")
    body = "null" if p.body is None else s(p.body)
    question = "null" if p.question is None else s(p.question)
    number = "null" if p.number is None else p.number
    return (f'{{"body": {body}, "id": {s(p.id)}, {joint}"kind": {s(p.kind)}, "mentions": [{mentions}], '
            f'"number": {number}, "page": {p.page}, {page_end}"question": {question}, '
            f'"submission": {s(p.submission)}, "text": {s(p.text)}, "url": {s(url)}}}')


# --- a rebuild after an edit copies what it did not change -------------------------------------------
#
# Each data file holds one item per paragraph (a line of evidence.json's "paragraphs", a row of
# evidence.csv), in reading order. An incremental rebuild (only record files edited) keeps every
# paragraph id in its place (a submission file lists its paragraphs' order, and editing it rebuilds
# everything), and an item depends only on its paragraph, its record's body and the URLs: so the
# items of the records not edited are the last build's, byte for byte. The last build leaves where
# each item lies (a ``Layout``); the rebuild writes the edited paragraphs' items and has the kernel
# copy the runs between them from the last file (``write.Spliced``), never reading them.

@dataclass(frozen=True)
class Layout:
    """Where each paragraph's item lies in a data file, in bytes."""

    order: str  # a digest of the paragraph ids in reading order: the items this layout is for
    starts: array  # item i is bytes [starts[i], ends[i]) of the file
    ends: array


@dataclass(frozen=True)
class Reuse:
    """The last build's data files, where their items lie, and the paragraphs an edit changed."""

    sources: dict[str, Path]  # "json" / "csv" -> the last build's file
    layouts: dict[str, Layout]
    changed: frozenset[str]  # ids of the paragraphs of the edited record files


def _order(site: Site) -> tuple[list[str], str]:
    """Every paragraph id in reading order, and a digest of that order (hashed a submission at a
    time: the ids of an inquiry joined are 7 MB)."""
    ids = [pid for sub in site.submissions for pid in sub.sequence]
    h = hashlib.blake2b(digest_size=16)
    for sub in site.submissions:
        h.update("\n".join(sub.sequence).encode() + b"\n")  # no id is empty: no two orders hash alike
    return ids, h.hexdigest()


def _size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (ASCII, as most evidence is, needs no encoding to tell)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


ITEMS_BATCH = 2048  # a data file's items made and joined at a time (about a megabyte of JSON)


def _items(site: Site, urls: Urls, kind: str, make: Callable[[Paragraph, str], str],
           make_all: Callable[[list[tuple[Paragraph, str]]], list[str]], sep: str, start: int,
           reuse: Reuse | None, layouts: dict[str, Layout] | None) -> list[str | tuple[int, int] | Iterator[str]]:
    """The paragraphs' items joined by ``sep`` (ASCII), the first at byte ``start`` of the file, as
    text and byte ranges of the last build's file: ``make`` makes one paragraph's item, ``make_all``
    those of a run of paragraphs (in reading order, with their URLs). With ``reuse`` holding a layout
    for the same paragraphs, only the changed paragraphs' items are made; else every item, as text
    pieces made as they are read (``_all_items``). With ``layouts``, where each item lies is left
    there under ``kind`` (once every item is made)."""
    ids, order = _order(site)
    old = reuse.layouts.get(kind) if reuse is not None else None
    if old is None or old.order != order or len(old.starts) != len(ids) or not ids:
        return [_all_items(_reading_order(site, urls), make_all, sep, start, layouts, kind, order)]
    assert reuse is not None
    by_id = site.paragraph_by_id
    changed = [i for i, pid in enumerate(ids) if pid in reuse.changed]
    parts: list[str | tuple[int, int]] = []
    cursor = old.starts[0]
    sizes: dict[int, int] = {}
    for i in changed:
        if old.starts[i] - cursor == len(sep) and i:  # the item before was changed too: just the separator
            parts.append(sep)
        elif old.starts[i] > cursor:
            parts.append((cursor, old.starts[i] - cursor))  # the items before it, unchanged, and separators
        p = by_id[ids[i]]
        item = make(p, urls.paragraph(p))
        parts.append(item)
        sizes[i] = _size(item)
        cursor = old.ends[i]
    if old.ends[-1] > cursor:
        parts.append((cursor, old.ends[-1] - cursor))
    if layouts is not None:
        starts, ends = array("q"), array("q")
        shift = start - old.starts[0]
        begin = 0
        for i in [*changed, len(ids)]:
            if shift:  # the items after an edited one moved by what its size changed
                starts.extend(x + shift for x in old.starts[begin:i])
                ends.extend(x + shift for x in old.ends[begin:i])
            else:  # those before the first edited one did not move: copied whole, not item by item
                starts.extend(old.starts[begin:i])
                ends.extend(old.ends[begin:i])
            if i < len(ids):
                starts.append(old.starts[i] + shift)
                shift += sizes[i] - (old.ends[i] - old.starts[i])
                ends.append(old.ends[i] + shift)
            begin = i + 1
        layouts[kind] = Layout(order, starts, ends)
    return parts


def _all_items(batches: Iterator[list[tuple[Paragraph, str]]],
               make_all: Callable[[list[tuple[Paragraph, str]]], list[str]],
               sep: str, start: int, layouts: dict[str, Layout] | None, kind: str, digest: str) -> Iterator[str]:
    """Every paragraph's item, ``sep`` between two, as pieces (``write.write_pieces``), made a batch
    at a time (``_reading_order``), and where each lies (see ``_items``): the items of an inquiry
    are never all held at once."""
    starts, ends = array("q"), array("q")
    pos, gap = start, len(sep)
    first = True
    for batch in batches:
        items = make_all(batch)
        if layouts is not None:
            for item in items:
                starts.append(pos)
                pos += len(item) if item.isascii() else len(item.encode("utf-8"))  # _size, inlined
                ends.append(pos)
                pos += gap
        for item in items:
            if not first:
                yield sep
            first = False
            yield item
    if layouts is not None:
        layouts[kind] = Layout(digest, starts, ends)


def _file(parts: list[str | tuple[int, int] | Iterator[str]], kind: str, reuse: Reuse | None,
          stream: bool = False) -> str | Spliced | Streamed:
    """A data file from its parts: text when it is all text (``stream``: as pieces made while the
    file is written), else text and the last file's ranges."""
    if all(not isinstance(x, tuple) for x in parts):
        pieces = chain.from_iterable([x] if isinstance(x, str) else x for x in parts)
        return Streamed(pieces) if stream else "".join(pieces)
    assert reuse is not None
    merged: list[str | tuple[int, int]] = []
    for x in parts:  # neighbouring texts as one write
        if isinstance(x, str) and merged and isinstance(merged[-1], str):
            merged[-1] += x
        else:
            merged.append(x)
    return Spliced(reuse.sources[kind], tuple(merged))


def _all_paragraph_json(order: list[tuple[Paragraph, str]]) -> list[str]:
    return [_paragraph_json(p, url) for p, url in order]


def evidence_json(site: Site, urls: Urls, reuse: Reuse | None = None,
                  layouts: dict[str, Layout] | None = None, stream: bool = False) -> str | Spliced | Streamed:
    """The evidence as JSON, keys sorted, one list item per line (readable, and a diff shows the
    paragraphs that changed). Written without ``indent``, which would make Python's JSON encoder fall
    back from C to pure Python: two seconds for 100,000 paragraphs instead of a fraction of one.
    ``reuse`` and ``layouts``: see ``Reuse`` (the bytes are the same either way; with ``reuse``, the
    file may come as a ``write.Spliced``); ``stream``: as a ``write.Streamed``, made as it is written
    (then ``layouts`` is filled once it is)."""
    items = {key: [_encode(item) for item in values] for key, values in _sections(site, urls).items()}
    # One join for the whole file, and one per list: the paragraphs come to tens of megabytes.
    out: list[str | tuple[int, int] | Iterator[str]] = ["{\n"]
    keys = sorted([*items, "paragraphs"])
    for i, key in enumerate(keys):
        end = "," if i < len(keys) - 1 else ""
        opening = f" {json.dumps(key)}: [\n  "
        if key == "paragraphs":
            if site.submissions and any(sub.sequence for sub in site.submissions):
                at = sum(_size(x) for x in out if isinstance(x, str)) + len(opening)
                out += [opening, *_items(site, urls, "json", _paragraph_json, _all_paragraph_json, ",\n  ",
                                         at, reuse, layouts), f"\n ]{end}\n"]
            else:
                out.append(f" {json.dumps(key)}: []{end}\n")
        elif items[key]:
            out += [opening, ",\n  ".join(items[key]), f"\n ]{end}\n"]
        else:
            out.append(f" {json.dumps(key)}: []{end}\n")
    out.append("}\n")
    return _file(out, "json", reuse, stream)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV-injection advice).

    Only text starting with = + - @ (or a tab/CR) is prefixed with an apostrophe, which spreadsheets
    hide; evidence.json keeps every text exactly as written."""
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def _csv(rows: Iterable[list[str]]) -> str:
    return "".join(_csv_lines(rows))


def _csv_lines(rows: Iterable[list[str]]) -> list[str]:
    """Rows of text cells exactly as csv.writer(lineterminator="\\n") writes them, in half the time.

    The writer looks at each character of each cell in turn. Here a row is its cells joined by
    commas; only when that line holds a quote, a newline or more commas than separators is each cell
    looked at, and one with a comma, quote or newline quoted with its quotes doubled, as every
    Python's writer does. A row with a carriage return is left to the writer (which quotes a bare one
    from Python 3.11.9 and 3.12.3 on, and not before), as is a row of one cell (quoted when empty)."""
    out: list[str] = []
    writer = csv.writer(SimpleNamespace(write=out.append), lineterminator="\n")
    for row in rows:
        line = ",".join(row)
        if "\r" in line or len(row) < 2:
            writer.writerow(row)
            continue
        if '"' in line or "\n" in line or line.count(",") != len(row) - 1:
            line = ",".join([_quoted(cell) if "," in cell or '"' in cell or "\n" in cell else cell for cell in row])
        out.append(line + "\n")
    return out  # one line per row (the writer, too, writes each row in one call)


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


_CSV_HEADER = ["id", "force", "body", "question", "page", "page_end", "number", "kind", "text", "entities", "url"]


def _csv_row(site: Site, p: Paragraph, url: str) -> list[str]:
    return [p.id, site.body_by_id[p.body].force if p.body else "", p.body or "", p.question or "", str(p.page),
            str(p.page_end or ""), str(p.number or ""), p.kind,
            "'" + p.text if p.text[:1] in _FORMULA_STARTS else p.text,  # spreadsheet_safe, inlined
            " ".join([m.entity for m in p.mentions]), url]


def evidence_csv(site: Site, urls: Urls, reuse: Reuse | None = None,
                 layouts: dict[str, Layout] | None = None, stream: bool = False) -> str | Spliced | Streamed:
    """A row per paragraph, in evidence.json's order, its text made spreadsheet_safe. ``reuse``,
    ``layouts`` and ``stream``: see ``evidence_json`` (the bytes are the same either way)."""
    header = _csv([_CSV_HEADER])
    parts = _items(site, urls, "csv", lambda p, url: _csv([_csv_row(site, p, url)]),
                  lambda order: _csv_lines(_csv_row(site, p, url) for p, url in order), "", len(header),
                  reuse, layouts)
    return _file([header, *parts], "csv", reuse, stream)


def sitemap(site: Site, page_urls: list[str], base: str) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url in sorted(set(page_urls)):
        lines.append(f"  <url><loc>{_xml_text(absolute(site.config.site_url, url, base))}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots(site: Site, base: str) -> str:
    return f"User-agent: *\nAllow: /\nSitemap: {absolute(site.config.site_url, base + 'sitemap.xml', base)}\n"
