"""Check every loaded file and build the model, or report every error found.

Per-file shape comes from ``schema.py``; this stage adds what needs all the files at once:
unique ids, references that resolve, each paragraph placed once in its submission's sequence,
mentions that occur in their paragraph, figures whose value is in the paragraph they cite.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from . import markdown
from .content import RawFile
from .errors import Collector
from .load import LocDict, LocList, Mark
from .model import (
    Acronym, Address, Body, Cell, Entity, Figure, Force, Mention, Paragraph, Question, Record, Site,
    SiteConfig, Submission, Topic,
)
from .schema import ENTITY_FILES, FILE_SCHEMAS, Ref, check, did_you_mean

# Which id namespace each schema's ids live in, and which namespace a reference points into.
ID_SPACE = {"paragraph": "paragraph", "entity": "entity", "force": "force", "body": "body",
            "question": "question", "submission": "submission", "acronym": "acronym",
            "figure": "figure", "topic": "topic"}
NOUN = {"paragraph": "paragraph", "entity": "entity", "force": "force", "body": "body",
        "question": "question", "submission": "submission"}


class _Ids:
    def __init__(self) -> None:
        self.where: dict[str, dict[str, tuple[str, Mark]]] = defaultdict(dict)

    def add(self, space: str, ident: str, path: str, mark: Mark, errors: Collector) -> None:
        first = self.where[space].get(ident)
        if first:
            errors.add(path, mark.line, mark.col,
                       f"duplicate {space} id '{ident}' (first used at {first[0]}:{first[1].line})")
        else:
            self.where[space][ident] = (path, mark)


def validate(raw: list[RawFile], errors: Collector) -> Site | None:
    """Return the model, or None after adding every error to ``errors``.

    Files that loaded are checked against their schema even when others could not be read, so one
    run lists every file's mistakes; references wait until every file has loaded, since an id in
    an unreadable file would otherwise be reported as unknown everywhere it is used.
    """
    all_loaded = not errors.errors
    ok_files: list[RawFile] = []
    refs: list[Ref] = []
    ids = _Ids()
    for f in raw:
        file_ids: list[tuple[str, str, Mark]] = []
        file_refs: list[Ref] = []
        if check(f.data, FILE_SCHEMAS[f.kind], errors, file_refs, file_ids):
            ok_files.append(f)
        refs.extend(file_refs)
        for schema_name, ident, mark in file_ids:
            ids.add(ID_SPACE.get(schema_name, schema_name), ident, f.path, mark, errors)
    if not all_loaded:
        return None
    for ref in refs:
        known = ids.where.get(ref.kind, {})
        if ref.value not in known:
            errors.add(ref.path, ref.mark.line, ref.mark.col,
                       f"unknown {NOUN.get(ref.kind, ref.kind)} '{ref.value}'{did_you_mean(ref.value, known)}")
    if errors.errors:
        return None
    site = _build(ok_files, errors)
    if site is not None:
        _check_site(site, ok_files, errors)
    return None if errors.errors else site


def _opt(d: LocDict, key: str):
    return d.get(key)


def _paragraphs(items: LocList, submission: str, body: str | None, question: str | None) -> tuple[Paragraph, ...]:
    out = []
    number = 0
    for p in items:
        kind = p.get("kind", "prose")
        num = None
        if kind != "heading":
            number += 1
            num = number
        out.append(Paragraph(
            id=p["id"], kind=kind, page=p["page"], page_end=p.get("page_end"), text=p["text"],
            joint_with=tuple(p.get("joint_with", ())),
            mentions=tuple(Mention(m["entity"], m["text"]) for m in p.get("mentions", ())),
            submission=submission, body=body, question=question, number=num,
        ))
    return tuple(out)


def _build(files: list[RawFile], errors: Collector) -> Site | None:
    by_kind: dict[str, list[RawFile]] = defaultdict(list)
    for f in files:
        by_kind[f.kind].append(f)
    site_raw = by_kind["site"][0].data if by_kind["site"] else None
    if site_raw is None:
        return None
    languages = tuple(dict.fromkeys(["en", *site_raw.get("languages", ())]))  # English always, first
    config = SiteConfig(site_raw["title"], site_raw["site_url"], site_raw.get("contact_email"),
                        site_raw.get("contact_url"), languages)
    forces = tuple(Force(x["id"], x["name"], x["name_cy"]) for f in by_kind["forces"] for x in f.data["forces"])
    bodies = tuple(Body(x["id"], x["name"], x["force"], x["kind"]) for f in by_kind["bodies"] for x in f.data["bodies"])
    questions = tuple(sorted(
        (Question(x["id"], x["number"], x["title"], x["text"]) for f in by_kind["questions"] for x in f.data["questions"]),
        key=lambda q: q.number))
    submissions = []
    for f in by_kind["submission"]:
        d = f.data
        submissions.append(Submission(
            id=d["id"], title=d["title"], author=d["author"], author_cy=d.get("author_cy"),
            committee=d["committee"], committee_cy=d.get("committee_cy"), inquiry=d["inquiry"],
            inquiry_cy=d.get("inquiry_cy"), language=d["language"], bodies=tuple(d["bodies"]),
            questions=tuple(d["questions"]),
            introduction=_paragraphs(d.get("introduction", LocList(d.mark, f.path)), d["id"], None, None),
            sequence=tuple(d["sequence"]),
        ))
    records = []
    for f in by_kind["record"]:
        d = f.data
        records.append(Record(d["submission"], d["body"], d["question"],
                              _paragraphs(d["paragraphs"], d["submission"], d["body"], d["question"]), f.path))
    entities = []
    for type_key, type_name in ENTITY_FILES.items():
        for f in by_kind[type_key]:
            for x in f.data[type_key]:
                entities.append(Entity(
                    id=x["id"], type=type_name, name=x["name"], kind=x["kind"], forces=tuple(x.get("forces", ())),
                    addresses=tuple(Address(a["text"], a.get("url")) for a in x.get("addresses", ())),
                    summary=x["summary"], summary_cy=x.get("summary_cy"), sources=tuple(x["sources"]),
                    summary_cy_reviewed=bool(x.get("summary_cy_reviewed", False)),
                ))
    acronyms = tuple(Acronym(x["id"], x["term"], x["expansion"], x["source"], x.get("expansion_cy"),
                             bool(x.get("expansion_cy_reviewed", False)))
                     for f in by_kind["glossary"] for x in f.data["acronyms"])
    figures = tuple(Figure(x["id"], x["value"], x["counts"], x.get("period"), x["body"], x["paragraph"])
                    for f in by_kind["figures"] for x in f.data["figures"])
    topics = tuple(Topic(x["id"], x["title"], tuple(
        Cell(c["force"], c.get("answer"), c.get("answer_cy"), tuple(c.get("sources", ())),
             bool(c.get("answer_cy_reviewed", False))) for c in x["cells"]))
        for f in by_kind["comparison"] for x in f.data["topics"])
    return Site(
        config=config, forces=forces, bodies=bodies, questions=questions,
        submissions=tuple(sorted(submissions, key=lambda s: s.id)),
        records=tuple(sorted(records, key=lambda r: (r.submission, r.body, r.question))),
        entities=tuple(sorted(entities, key=lambda e: (e.type, e.name.lower(), e.id))),
        acronyms=tuple(sorted(acronyms, key=lambda a: (a.term.lower(), a.id))),
        figures=figures, topics=topics,
    )


def _paragraph_marks(files: list[RawFile]) -> dict[str, tuple[str, LocDict]]:
    out: dict[str, tuple[str, LocDict]] = {}
    for f in files:
        if f.kind == "record":
            items = f.data["paragraphs"]
        elif f.kind == "submission":
            items = f.data.get("introduction", [])
        else:
            continue
        for p in items:
            out[p["id"]] = (f.path, p)
    return out


def _check_site(site: Site, files: list[RawFile], errors: Collector) -> None:
    raw_par = _paragraph_marks(files)
    record_files = {f.path: f.data for f in files if f.kind == "record"}
    sub_files = {f.data["id"]: f for f in files if f.kind == "submission"}

    def at(pid: str, key: str, message: str) -> None:
        path, d = raw_par[pid]
        m = d.value_at(key) if key in d else d.mark
        errors.add(path, m.line, m.col, message)

    # One record per body, question and submission; the body and question belong to the submission.
    seen: dict[tuple[str, str, str], str] = {}
    for r in site.records:
        d = record_files[r.path]
        key = (r.submission, r.body, r.question)
        if key in seen:
            errors.add(r.path, d.mark.line, d.mark.col,
                       f"a second record for {r.body} answering {r.question} (the first is {seen[key]})")
        seen[key] = r.path
        sub = site.submission_by_id[r.submission]
        for field_name, value, allowed in (("body", r.body, sub.bodies), ("question", r.question, sub.questions)):
            if value not in allowed:
                m = d.value_at(field_name)
                errors.add(r.path, m.line, m.col,
                           f"{field_name} '{value}' is not listed in submission '{sub.id}' ({sub_files[sub.id].path})")
        if not r.paragraphs:
            errors.add(r.path, d.mark.line, d.mark.col,
                       "the record has no paragraphs; delete the file if the body gave no answer")

    paragraphs = site.paragraph_by_id
    for p in paragraphs.values():
        if p.page_end is not None and p.page_end <= p.page:
            at(p.id, "page_end", f"page_end {p.page_end} must come after page {p.page}")
        if p.body and p.body in p.joint_with:
            at(p.id, "joint_with", f"joint_with names the record's own body '{p.body}'")
        for url in markdown.refused_links(p.text):
            at(p.id, "text", f"link to '{url}' is not allowed: only http(s), mailto and site links are")
        missing = markdown.unmatched_mentions(p.text, [m.text for m in p.mentions])
        _, raw = raw_par[p.id]
        for i, m in enumerate(p.mentions):
            if m.text in missing:
                mm = raw["mentions"][i].value_at("text")
                errors.add(raw_par[p.id][0], mm.line, mm.col,
                           f"mention text '{m.text}' does not occur in the paragraph's text as plain words "
                           "(outside bold marks and links); copy the words exactly")
        counts = Counter(m.entity for m in p.mentions)
        for ent, n in counts.items():
            if n > 1:
                at(p.id, "mentions", f"entity '{ent}' is mentioned {n} times in one paragraph; list it once")

    # Every paragraph of a submission's records is placed once in its sequence, pages never go back.
    for sub in site.submissions:
        f = sub_files[sub.id]
        seq_marks = f.data["sequence"]
        owned = {p.id for r in site.records if r.submission == sub.id for p in r.paragraphs}
        placed = Counter(sub.sequence)
        last_page = 0
        for i, pid in enumerate(sub.sequence):
            m = seq_marks.item_at(i)
            if pid not in owned:
                errors.add(f.path, m.line, m.col,
                           f"'{pid}' in the sequence is not a paragraph of this submission's records")
                continue
            if placed[pid] > 1:
                errors.add(f.path, m.line, m.col, f"'{pid}' is placed {placed[pid]} times in the sequence")
                placed[pid] = 1
            page = paragraphs[pid].page
            if page < last_page:
                errors.add(f.path, m.line, m.col,
                           f"'{pid}' starts on page {page}, before the paragraph placed above it (page {last_page})")
            last_page = max(last_page, paragraphs[pid].page_end or page)
        for r in site.records:
            if r.submission != sub.id:
                continue
            for p in r.paragraphs:
                if p.id not in placed:
                    at(p.id, "id", f"paragraph '{p.id}' is not placed in the sequence of {f.path}; "
                                   "add it where it stands in the response")
        for p in sub.introduction:
            if p.joint_with or p.mentions:
                at(p.id, "id", "introduction paragraphs belong to the whole response: no joint_with or mentions")

    # Entities are mentioned; figures stand in their paragraph; acronyms are used.
    mentioned = {m.entity for p in paragraphs.values() for m in p.mentions}
    entity_files = {}
    for f in files:
        if f.kind in ENTITY_FILES:
            for x in f.data[f.kind]:
                entity_files[x["id"]] = (f.path, x)
    for e in site.entities:
        path, x = entity_files[e.id]
        if e.id not in mentioned:
            m = x.value_at("id")
            errors.add(path, m.line, m.col,
                       f"{e.type} '{e.id}' is not mentioned by any paragraph; add a mention or remove it")
    fig_files = {x["id"]: (f.path, x) for f in files if f.kind == "figures" for x in f.data["figures"]}
    for fig in site.figures:
        path, x = fig_files[fig.id]
        p = paragraphs[fig.paragraph]
        if fig.value not in p.text:
            m = x.value_at("value")
            errors.add(path, m.line, m.col, f"figure value '{fig.value}' does not occur in paragraph '{p.id}'")
        if fig.body != p.body and fig.body not in p.joint_with:
            m = x.value_at("body")
            errors.add(path, m.line, m.col,
                       f"figure body '{fig.body}' did not make paragraph '{p.id}' (that is {p.body})")
    gl_files = {x["id"]: (f.path, x) for f in files if f.kind == "glossary" for x in f.data["acronyms"]}
    all_text = "\n".join(markdown.plain_text(p.text) for p in paragraphs.values())
    seen_terms: dict[str, str] = {}
    for a in site.acronyms:
        path, x = gl_files[a.id]
        m = x.value_at("term")
        if a.term in seen_terms:
            errors.add(path, m.line, m.col, f"acronym '{a.term}' is already defined as '{seen_terms[a.term]}'")
        seen_terms[a.term] = a.id
        if not re.search(r"(?<![\w-])" + re.escape(a.term) + r"(?![\w-])", all_text):
            errors.add(path, m.line, m.col, f"acronym '{a.term}' is not used in any paragraph")
