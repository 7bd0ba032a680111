"""Machine-readable outputs: data/evidence.json, data/evidence.csv, sitemap.xml, robots.txt."""

from __future__ import annotations

import csv
import itertools
import json
import weakref
from collections.abc import Iterable
from json.encoder import encode_basestring
from types import SimpleNamespace
from xml.sax.saxutils import escape

from .model import Paragraph, Site
from .urls import Urls, absolute

# What json.dumps(item, ensure_ascii=False, sort_keys=True) runs, made once instead of per item.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


# evidence_json and evidence_csv run one after the other on the same site and URLs (pipeline's
# _other_files), and both go through every paragraph and its URL: the first call's list is left here
# for the second, which takes it away, so the pair makes it once and nothing outlives the pair. The
# site is held by a weak reference, which (unlike an id()) can never match a later site.
_last_order: tuple[weakref.ref[Site], Urls, list[tuple[Paragraph, str]]] | None = None


def _reading_order(site: Site, urls: Urls) -> list[tuple[Paragraph, str]]:
    """Every paragraph of the records with its URL: submission by submission, each in its sequence."""
    global _last_order
    last, _last_order = _last_order, None
    if last is not None and last[0]() is site and last[1] == urls:
        return last[2]
    by_id = site.paragraph_by_id
    order = [(p, urls.paragraph(p)) for sub in site.submissions for p in map(by_id.__getitem__, sub.sequence)]
    _last_order = (weakref.ref(site), urls, order)
    return order


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


def evidence_json(site: Site, urls: Urls) -> str:
    """The evidence as JSON, keys sorted, one list item per line (readable, and a diff shows the
    paragraphs that changed). Written without ``indent``, which would make Python's JSON encoder fall
    back from C to pure Python: two seconds for 100,000 paragraphs instead of a fraction of one."""
    items = {key: [_encode(item) for item in values] for key, values in _sections(site, urls).items()}
    items["paragraphs"] = [_paragraph_json(p, url) for p, url in _reading_order(site, urls)]
    # One join for the whole file, and one per list: the paragraphs come to tens of megabytes.
    out = ["{\n"]
    keys = sorted(items)
    for i, key in enumerate(keys):
        end = "," if i < len(keys) - 1 else ""
        if items[key]:
            out += [f" {json.dumps(key)}: [\n  ", ",\n  ".join(items[key]), f"\n ]{end}\n"]
        else:
            out.append(f" {json.dumps(key)}: []{end}\n")
    out.append("}\n")
    return "".join(out)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV-injection advice).

    Only text starting with = + - @ (or a tab/CR) is prefixed with an apostrophe, which spreadsheets
    hide; evidence.json keeps every text exactly as written."""
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def _csv(rows: Iterable[list[str]]) -> str:
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
    return "".join(out)


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def evidence_csv(site: Site, urls: Urls) -> str:
    """A row per paragraph, in evidence.json's order, its text made spreadsheet_safe."""
    header = ["id", "force", "body", "question", "page", "page_end", "number", "kind", "text", "entities", "url"]
    rows = ([p.id, site.body_by_id[p.body].force if p.body else "", p.body or "", p.question or "", str(p.page),
             str(p.page_end or ""), str(p.number or ""), p.kind,
             "'" + p.text if p.text[:1] in _FORMULA_STARTS else p.text,  # spreadsheet_safe, inlined
             " ".join([m.entity for m in p.mentions]), url]
            for p, url in _reading_order(site, urls))
    return _csv(itertools.chain([header], rows))


def sitemap(site: Site, page_urls: list[str], base: str) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url in sorted(set(page_urls)):
        lines.append(f"  <url><loc>{escape(absolute(site.config.site_url, url, base))}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots(site: Site, base: str) -> str:
    return f"User-agent: *\nAllow: /\nSitemap: {absolute(site.config.site_url, base + 'sitemap.xml', base)}\n"
