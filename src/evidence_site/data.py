"""Machine-readable outputs: data/evidence.json, data/evidence.csv, sitemap.xml, robots.txt."""

from __future__ import annotations

import csv
import io
import json
from xml.sax.saxutils import escape

from .model import Site
from .urls import Urls, absolute


def evidence(site: Site, urls: Urls) -> dict:
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


def evidence_json(site: Site, urls: Urls) -> str:
    """The evidence as JSON, one list item per line (readable, and a diff shows the paragraphs that
    changed). Written without ``indent``, which would make Python's JSON encoder fall back from C to
    pure Python: two seconds for 100,000 paragraphs instead of a fraction of one."""
    lines = ["{"]
    doc = evidence(site, urls)
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


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV-injection advice).

    Only text starting with = + - @ (or a tab/CR) is prefixed with an apostrophe, which spreadsheets
    hide; evidence.json keeps every text exactly as written."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def evidence_csv(site: Site, urls: Urls) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "force", "body", "question", "page", "page_end", "number", "kind", "text", "entities", "url"])
    for sub in site.submissions:
        for pid in sub.sequence:
            p = site.paragraph_by_id[pid]
            body = site.body_by_id[p.body] if p.body else None
            w.writerow([p.id, body.force if body else "", p.body or "", p.question or "", p.page, p.page_end or "",
                        p.number or "", p.kind, spreadsheet_safe(p.text), " ".join(m.entity for m in p.mentions), urls.paragraph(p)])
    return out.getvalue()


def sitemap(site: Site, page_urls: list[str], base: str) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url in sorted(set(page_urls)):
        lines.append(f"  <url><loc>{escape(absolute(site.config.site_url, url, base))}</loc></url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots(site: Site, base: str) -> str:
    return f"User-agent: *\nAllow: /\nSitemap: {absolute(site.config.site_url, base + 'sitemap.xml', base)}\n"
