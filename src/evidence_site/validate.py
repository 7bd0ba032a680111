"""Check every loaded file and build the model, or report every error found.

Per-file shape comes from ``schema.py``; this stage adds what needs all the files at once:
unique ids, references that resolve, each paragraph placed once in its submission's sequence,
mentions that occur in their paragraph, figures whose value is in the paragraph they cite.

It runs in two steps, so the first can run file by file in worker processes (``content.py``) and
the loaded YAML need not outlive its file: ``digest`` checks one file against its schema and keeps
only what the rest needs (its ids and references with packed marks, its part of the model as plain
values, and the per-paragraph findings); ``combine`` checks across files and builds the ``Site``.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from itertools import accumulate, chain
from operator import attrgetter, lt

from . import markdown
from .content import RawFile
from .errors import ContentError, Collector
from .load import PACK_SHIFT, LocDict, LocList, Mark, pack, unpack
from .model import (
    Acronym, Address, Body, Cell, Entity, Figure, Force, Mention, Paragraph, Question, Record, Site,
    SiteConfig, Submission, Topic,
)
from .schema import ENTITY_FILES, FILE_SCHEMAS, check_marks, did_you_mean

# Which id namespace each schema's ids live in, and which namespace a reference points into.
ID_SPACE = {"paragraph": "paragraph", "entity": "entity", "force": "force", "body": "body",
            "question": "question", "submission": "submission", "acronym": "acronym",
            "figure": "figure", "topic": "topic"}
NOUN = {"paragraph": "paragraph", "entity": "entity", "force": "force", "body": "body",
        "question": "question", "submission": "submission"}

# Set in a loading worker process: paragraphs carry the Markdown facts the worker found, so the
# parent (and the page workers it forks later) need not parse the texts again. "all" while the
# cache keeps digests: every text holding Markdown carries its facts, parsed now or known before.
SHIP_FACTS: bool | str = False


class Digest:
    """What validation keeps of one file once its YAML is checked (see the module's docstring).

    ``ids`` and ``refs`` map an id space (a reference's kind) to the ids (values) in file order and
    their packed marks (``load.pack``); ``data`` is the file's part of the model, None when the file
    does not meet its schema; ``errors`` its schema errors, ``deferred`` what the per-paragraph
    checks found (reported only once everything else is sound, as before the split)."""

    __slots__ = ("kind", "path", "ok", "errors", "ids", "refs", "data", "deferred")

    def __init__(self, kind: str, path: str) -> None:
        self.kind = kind
        self.path = path
        self.ok = False
        self.errors: list[ContentError] = []
        self.ids: dict[str, tuple[list[str], array]] = {}
        self.refs: dict[str, tuple[list[str], array]] = {}
        self.data = None
        self.deferred: list[ContentError] = []

    def __getstate__(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state) -> None:
        for name, value in zip(self.__slots__, state):
            setattr(self, name, value)


def _packed(found: dict[str, tuple[list, list]], names: dict[str, str] | None = None) -> dict[str, tuple[list[str], array]]:
    """(values, marks) by kind, the marks packed into ints; kinds renamed by ``names``."""
    out: dict[str, tuple[list[str], array]] = {}
    for space, (values, marks) in found.items():
        try:  # libyaml's marks (0-based)
            packed = array("q", [(m.line + 1) << PACK_SHIFT | (m.column + 1) for m in marks])
        except AttributeError:  # some are Marks already
            packed = array("q", [pack(m) for m in marks])
        out[names.get(space, space) if names else space] = (values, packed)
    return out


def digest(f: RawFile, errors: Collector) -> Digest:
    """Check one loaded file against its schema and keep what ``combine`` needs of it."""
    if f.digest is not None:
        return f.digest
    out = Digest(f.kind, f.path)
    sub = errors.sub()
    refs: dict[str, tuple[list, list]] = {}
    ids: dict[str, tuple[list, list]] = {}
    out.ok = check_marks(f.data, FILE_SCHEMAS[f.kind], sub, refs, ids)
    out.errors = sub.errors
    out.refs = _packed(refs)
    out.ids = _packed(ids, ID_SPACE)
    if out.ok:
        found = errors.sub()
        out.data = _extract(f.kind, f.path, f.data, found)
        out.deferred = found.errors
    return out


def validate(raw: list[RawFile], errors: Collector) -> Site | None:
    """Return the model, or None after adding every error to ``errors``.

    Files that loaded are checked against their schema even when others could not be read, so one
    run lists every file's mistakes; references wait until every file has loaded, since an id in
    an unreadable file would otherwise be reported as unknown everywhere it is used.
    """
    site, checks = validate_later(raw, errors)
    checks()
    return None if errors.errors else site


def validate_later(raw: list[RawFile], errors: Collector) -> tuple[Site | None, Callable[[], None]]:
    """``validate`` with the checks across files left for later (``combine``)."""
    all_loaded = not errors.errors
    return combine([digest(f, errors) for f in raw], all_loaded, errors)


# --- one file's part of the model ----------------------------------------------------------------

def _paragraph_rows(items: LocList, path: str, submission: str, body: str | None, question: str | None,
                    intro: bool, found: Collector) -> tuple[tuple, dict[str, bytes]]:
    """Each paragraph as a plain row, its fields in ``Paragraph``'s order (``_paragraphs`` makes them
    into paragraphs at C speed), and the Markdown facts of the texts (``markdown.packed_facts``)
    when they are shipped (``SHIP_FACTS``), with what its own checks find added to ``found``.

    The checks: page_end after page, joint_with not the record's own body, no refused link, each
    mention's words in the text, each entity mentioned once, nothing joint or mentioned in a
    submission's introduction. A paragraph that meets them all (nearly every one) costs one look at
    each; the messages are made by ``_paragraph_errors``."""
    rows = []
    facts: dict[str, bytes] = {}
    number = 0
    ship = SHIP_FACTS
    parsed_count = markdown.parsed_count
    refused_links = markdown.refused_links
    unmatched_mentions = markdown.unmatched_mentions
    for p in items:
        get = p.get
        kind = get("kind", "prose")
        num = None
        if kind != "heading":
            number += 1
            num = number
        text = p["text"]
        page = p["page"]
        page_end = get("page_end")
        joint_with = get("joint_with")
        joint_with = tuple(joint_with) if joint_with else ()
        raw_mentions = get("mentions")
        mentions = tuple(Mention(m["entity"], m["text"]) for m in raw_mentions) if raw_mentions else ()
        if ship:
            before = parsed_count()
        refused = refused_links(text)
        missing = unmatched_mentions(text, [m.text for m in mentions]) if mentions else ()
        if (refused or missing or (page_end is not None and page_end <= page) or (body and body in joint_with)
                or (len(mentions) > 1 and len({m.entity for m in mentions}) < len(mentions))
                or (intro and (joint_with or mentions))):
            _paragraph_errors(p, path, page, page_end, body, joint_with, raw_mentions, mentions, refused, missing,
                              intro, found)
        if ship and (ship == "all" or parsed_count() != before):
            packed = markdown.packed_facts(text)
            if packed is not None:
                facts[text] = packed
        rows.append((p["id"], kind, page, page_end, text, joint_with, mentions, submission, body, question, num))
    return tuple(rows), facts


def _paragraph_errors(p: LocDict, path: str, page: int, page_end, body, joint_with, raw_mentions, mentions,
                      refused, missing, intro: bool, found: Collector) -> None:

    def at(key: str, message: str) -> None:
        m = p.value_at(key) if key in p else p.mark
        found.errors.append(found.make(path, m.line, m.col, message))

    if page_end is not None and page_end <= page:
        at("page_end", f"page_end {page_end} must come after page {page}")
    if body and body in joint_with:
        at("joint_with", f"joint_with names the record's own body '{body}'")
    for url in refused:
        at("text", f"link to '{url}' is not allowed: only http(s), mailto and site links are")
    for i, (_, words) in enumerate(mentions):
        if words in missing:
            mm = raw_mentions[i].value_at("text")
            found.errors.append(found.make(
                path, mm.line, mm.col, f"mention text '{words}' does not occur in the paragraph's text as plain "
                "words (outside bold marks and links); copy the words exactly"))
    counts = Counter(entity for entity, _ in mentions)
    for ent, n in counts.items():
        if n > 1:
            at("mentions", f"entity '{ent}' is mentioned {n} times in one paragraph; list it once")
    if intro and (joint_with or mentions):
        at("id", "introduction paragraphs belong to the whole response: no joint_with or mentions")


def _extract(kind: str, path: str, d: LocDict, found: Collector):
    """The file's part of the model, as model objects or, for the many paragraphs, plain rows."""
    if kind == "site":
        languages = tuple(dict.fromkeys(["en", *d.get("languages", ())]))  # English always, first
        return SiteConfig(d["title"], d["site_url"], d.get("contact_email"), d.get("contact_url"), languages)
    if kind == "forces":
        return tuple(Force(x["id"], x["name"], x["name_cy"]) for x in d["forces"])
    if kind == "bodies":
        return tuple(Body(x["id"], x["name"], x["force"], x["kind"]) for x in d["bodies"])
    if kind == "questions":
        return tuple(Question(x["id"], x["number"], x["title"], x["text"]) for x in d["questions"])
    if kind == "submission":
        intro = d.get("introduction", LocList(d.mark, path))
        sub = Submission(
            id=d["id"], title=d["title"], author=d["author"], author_cy=d.get("author_cy"),
            committee=d["committee"], committee_cy=d.get("committee_cy"), inquiry=d["inquiry"],
            inquiry_cy=d.get("inquiry_cy"), language=d["language"], bodies=tuple(d["bodies"]),
            questions=tuple(d["questions"]),
            introduction=_paragraphs(_paragraph_rows(intro, path, d["id"], None, None, True, found)[0]),
            sequence=tuple(d["sequence"]),
        )
        seq = d["sequence"]
        return sub, array("q", [pack(m) for m in seq._marks])
    if kind == "record":
        rows, facts = _paragraph_rows(d["paragraphs"], path, d["submission"], d["body"], d["question"], False, found)
        # [submission, body, question, rows (None once made into the Record), marks of the record,
        # its body and its question, the Record (see record_of), its texts' Markdown facts shipped
        # (None once taken)]
        return [d["submission"], d["body"], d["question"], rows,
                pack(d.mark), pack(d.value_at("body")), pack(d.value_at("question")), None, facts]
    if kind in ENTITY_FILES:
        type_name = ENTITY_FILES[kind]
        return tuple((Entity(
            id=x["id"], type=type_name, name=x["name"], kind=x["kind"], forces=tuple(x.get("forces", ())),
            addresses=tuple(Address(a["text"], a.get("url")) for a in x.get("addresses", ())),
            summary=x["summary"], summary_cy=x.get("summary_cy"), sources=tuple(x["sources"]),
            summary_cy_reviewed=bool(x.get("summary_cy_reviewed", False)),
        ), pack(x.value_at("id"))) for x in d[kind])
    if kind == "glossary":
        return tuple((Acronym(x["id"], x["term"], x["expansion"], x["source"], x.get("expansion_cy"),
                              bool(x.get("expansion_cy_reviewed", False))), pack(x.value_at("term")))
                     for x in d["acronyms"])
    if kind == "figures":
        return tuple((Figure(x["id"], x["value"], x["counts"], x.get("period"), x["body"], x["paragraph"]),
                      pack(x.value_at("value")), pack(x.value_at("body"))) for x in d["figures"])
    if kind == "comparison":
        return tuple(Topic(x["id"], x["title"], tuple(
            Cell(c["force"], c.get("answer"), c.get("answer_cy"), tuple(c.get("sources", ())),
                 bool(c.get("answer_cy_reviewed", False))) for c in x["cells"]))
            for x in d["topics"])
    raise AssertionError(f"unknown content kind {kind}")  # pragma: no cover - content.classify's kinds


_PARAGRAPH = partial(tuple.__new__, Paragraph)  # a Paragraph of a row of its fields, without a Python call


def _paragraphs(rows: tuple) -> tuple[Paragraph, ...]:
    """Model paragraphs from ``_paragraph_rows`` (100,000 at an inquiry's scale)."""
    return tuple(map(_PARAGRAPH, rows))


def record_of(d: Digest) -> Record:
    """The Record of a record file's digest, made from its rows on first use (by the loading process
    while other processes still load, where it can) and kept in place of them."""
    data = d.data
    if data[7] is None:
        data[7] = Record(data[0], data[1], data[2], _paragraphs(data[3]), d.path)
        data[3] = None
        if data[8]:  # parsed by a worker (or kept in the cache): known here too, as if parsed here
            markdown.remember_facts(data[8])
        data[8] = None
    return data[7]


# --- across files ----------------------------------------------------------------------------------

def _sequence_sound(sequence: tuple[str, ...], owned: set[str], paragraphs: dict[str, Paragraph]) -> bool:
    """True when a submission's sequence places every paragraph of its records once, only those,
    and never on a page before the end of the one above (the rule, checked in bulk; the check
    that reports what is wrong goes paragraph by paragraph)."""
    if len(sequence) != len(owned) or set(sequence) != owned:  # as many, all of them: none twice
        return False
    placed = list(map(paragraphs.__getitem__, sequence))
    starts = [p.page for p in placed]
    ends = [p.page_end or p.page for p in placed]
    return not any(map(lt, starts[1:], accumulate(ends, max)))


def _first_mark(d: Digest, space: str, ident: str) -> Mark:
    names, marks = d.ids[space]
    return unpack(marks[names.index(ident)])


def _register_ids(digests: list[Digest], errors: Collector) -> dict[str, set[str] | dict[str, int]]:
    """Each id space's ids; a second use of one is an error naming the first. Without duplicates
    (the rule) a space is the set of its ids, made at C speed; with, each id maps to the index of
    the file that first used it."""
    parts: dict[str, list[tuple[int, list[str], object]]] = defaultdict(list)
    for i, d in enumerate(digests):
        for space, (names, marks) in d.ids.items():
            parts[space].append((i, names, marks))
    where: dict[str, set[str] | dict[str, int]] = {}
    for space, found in parts.items():
        ids = set(chain.from_iterable(names for _, names, _ in found))
        if len(ids) == sum(len(names) for _, names, _ in found):
            where[space] = ids
            continue
        known: dict[str, int] = {}
        where[space] = known
        for i, names, marks in found:
            d = digests[i]
            for ident, packed in zip(names, marks):
                first = known.get(ident)
                if first is None:
                    known[ident] = i
                    continue
                other = digests[first]
                m = unpack(packed)
                errors.add(d.path, m.line, m.col, f"duplicate {space} id '{ident}' (first used at {other.path}:"
                                                  f"{_first_mark(other, space, ident).line})")
    return where


def _resolve_refs(digests: list[Digest], where: dict[str, set[str] | dict[str, int]], errors: Collector) -> None:
    """Every reference names a known id; when all of a kind do (the rule), at C speed."""
    kinds: dict[str, list[Digest]] = defaultdict(list)
    for d in digests:
        for kind in d.refs:
            kinds[kind].append(d)
    for kind, found in kinds.items():
        known = where.get(kind, set())
        values = chain.from_iterable(d.refs[kind][0] for d in found)
        if known.issuperset(values) if isinstance(known, set) else all(map(known.__contains__, values)):
            continue
        for d in found:
            values, marks = d.refs[kind]
            for value, packed in zip(values, marks):
                if value not in known:
                    m = unpack(packed)
                    errors.add(d.path, m.line, m.col,
                               f"unknown {NOUN.get(kind, kind)} '{value}'{did_you_mean(value, known)}")


def combine(digests: list[Digest], all_loaded: bool, errors: Collector) -> tuple[Site | None, Callable[[], None]]:
    """The model built from every file's digest (in content order; None when a file had a mistake
    of its own), and a function that checks across files, run at once when there is no model and
    else left to the caller, once however often it is called. Once it has run, ``errors`` holds
    every problem in content order, and the model is to be used only if there is none: until then
    it may break any rule those checks enforce (a reference to an unknown id, two records for one
    answer). A large build renders beside them (``pipeline.build``)."""
    for d in digests:
        errors.errors.extend(d.errors)
    ok = [d for d in digests if d.ok]
    site = _build(ok) if all_loaded and not errors.errors else None
    held = [digests, ok]  # let go of once checked: every file's digest, 10 MB at N = 5,000

    def checks() -> None:
        if not held:
            return  # run already
        every, sound = held
        held.clear()
        where = _register_ids(every, errors)
        if not all_loaded:
            return  # an id in a file that could not be read would be reported unknown everywhere
        _resolve_refs(every, where, errors)
        if site is not None and not errors.errors:
            _check_site(site, sound, every, errors)

    if site is None:
        checks()  # no model to render beside them: run here, as ever
    return site, checks


def _build(files: list[Digest]) -> Site | None:
    by_kind: dict[str, list[Digest]] = defaultdict(list)
    for f in files:
        by_kind[f.kind].append(f)
    if not by_kind["site"]:
        return None
    config = by_kind["site"][0].data
    forces = tuple(x for f in by_kind["forces"] for x in f.data)
    bodies = tuple(x for f in by_kind["bodies"] for x in f.data)
    questions = tuple(sorted((x for f in by_kind["questions"] for x in f.data), key=lambda q: q.number))
    submissions = [f.data[0] for f in by_kind["submission"]]
    records = [record_of(f) for f in by_kind["record"]]
    entities = [e for type_key in ENTITY_FILES for f in by_kind[type_key] for e, _ in f.data]
    acronyms = tuple(a for f in by_kind["glossary"] for a, _ in f.data)
    figures = tuple(x for f in by_kind["figures"] for x, _, _ in f.data)
    topics = tuple(x for f in by_kind["comparison"] for x in f.data)
    return Site(
        config=config, forces=forces, bodies=bodies, questions=questions,
        submissions=tuple(sorted(submissions, key=lambda s: s.id)),
        records=tuple(sorted(records, key=lambda r: (r.submission, r.body, r.question))),
        entities=tuple(sorted(entities, key=lambda e: (e.type, e.name.lower(), e.id))),
        acronyms=tuple(sorted(acronyms, key=lambda a: (a.term.lower(), a.id))),
        figures=figures, topics=topics,
    )


def _check_site(site: Site, files: list[Digest], digests: list[Digest], errors: Collector) -> None:
    record_files = {f.path: f.data for f in files if f.kind == "record"}
    sub_files = {f.data[0].id: f for f in files if f.kind == "submission"}

    def add(path: str, packed: int, message: str) -> None:
        m = unpack(packed)
        errors.add(path, m.line, m.col, message)

    # One record per body, question and submission; the body and question belong to the submission.
    seen: dict[tuple[str, str, str], str] = {}
    by_submission: dict[str, list[Record]] = defaultdict(list)
    for r in site.records:
        by_submission[r.submission].append(r)
        root, body_mark, question_mark = record_files[r.path][4:7]
        key = (r.submission, r.body, r.question)
        if key in seen:
            add(r.path, root, f"a second record for {r.body} answering {r.question} (the first is {seen[key]})")
        seen[key] = r.path
        sub = site.submission_by_id[r.submission]
        for field_name, value, allowed, mark in (("body", r.body, sub.bodies, body_mark),
                                                 ("question", r.question, sub.questions, question_mark)):
            if value not in allowed:
                add(r.path, mark, f"{field_name} '{value}' is not listed in submission '{sub.id}' "
                                  f"({sub_files[sub.id].path})")
        if not r.paragraphs:
            add(r.path, root, "the record has no paragraphs; delete the file if the body gave no answer")

    # What each paragraph must meet on its own was found file by file.
    for f in files:
        errors.errors.extend(f.deferred)

    paragraphs = site.paragraph_by_id

    def at_id(pid: str, message: str) -> None:
        d = next(d for d in digests if pid in d.ids.get("paragraph", ((), ()))[0])  # the file that holds it
        m = _first_mark(d, "paragraph", pid)
        errors.add(d.path, m.line, m.col, message)

    # Every paragraph of a submission's records is placed once in its sequence, pages never go back.
    for sub in site.submissions:
        f = sub_files[sub.id]
        seq_marks = f.data[1]
        owned = set(map(attrgetter("id"), chain.from_iterable(r.paragraphs for r in by_submission.get(sub.id, ()))))
        if _sequence_sound(sub.sequence, owned, paragraphs):
            continue
        placed = Counter(sub.sequence)
        last_page = 0
        for i, pid in enumerate(sub.sequence):
            m = seq_marks[i + 1] if i + 1 < len(seq_marks) else seq_marks[0]
            if pid not in owned:
                add(f.path, m, f"'{pid}' in the sequence is not a paragraph of this submission's records")
                continue
            if placed[pid] > 1:
                add(f.path, m, f"'{pid}' is placed {placed[pid]} times in the sequence")
                placed[pid] = 1
            page = paragraphs[pid].page
            if page < last_page:
                add(f.path, m, f"'{pid}' starts on page {page}, before the paragraph placed above it (page {last_page})")
            last_page = max(last_page, paragraphs[pid].page_end or page)
        for r in by_submission.get(sub.id, ()):
            for p in r.paragraphs:
                if p.id not in placed:
                    at_id(p.id, f"paragraph '{p.id}' is not placed in the sequence of {f.path}; "
                                "add it where it stands in the response")

    # Entities are mentioned; figures stand in their paragraph; acronyms are used.
    mentioned = {m.entity for p in paragraphs.values() for m in p.mentions}
    entity_files = {e.id: (f.path, mark) for f in files if f.kind in ENTITY_FILES for e, mark in f.data}
    for e in site.entities:
        if e.id not in mentioned:
            path, mark = entity_files[e.id]
            add(path, mark, f"{e.type} '{e.id}' is not mentioned by any paragraph; add a mention or remove it")
    fig_files = {x.id: (f.path, value_mark, body_mark) for f in files if f.kind == "figures"
                 for x, value_mark, body_mark in f.data}
    for fig in site.figures:
        path, value_mark, body_mark = fig_files[fig.id]
        p = paragraphs[fig.paragraph]
        if fig.value not in p.text:
            add(path, value_mark, f"figure value '{fig.value}' does not occur in paragraph '{p.id}'")
        if fig.body != p.body and fig.body not in p.joint_with:
            add(path, body_mark, f"figure body '{fig.body}' did not make paragraph '{p.id}' (that is {p.body})")
    gl_files = {x.id: (f.path, term_mark) for f in files if f.kind == "glossary" for x, term_mark in f.data}
    words = _PlainWords(paragraphs.values())
    seen_terms: dict[str, str] = {}
    for a in site.acronyms:
        path, term_mark = gl_files[a.id]
        if a.term in seen_terms:
            add(path, term_mark, f"acronym '{a.term}' is already defined as '{seen_terms[a.term]}'")
        seen_terms[a.term] = a.id
        if not words.used(a.term):
            add(path, term_mark, f"acronym '{a.term}' is not used in any paragraph")


class _PlainWords:
    """Is an acronym used: written, as a word of its own, in the words a reader sees of some
    paragraph? Each paragraph's words are found once, and only as far as the first use of a term."""

    def __init__(self, paragraphs) -> None:
        self._paragraphs = iter(paragraphs)
        self._texts: list[str] = []
        self._all: str | None = None

    def _each(self):
        yield from self._texts
        for p in self._paragraphs:
            text = markdown.plain_text(p.text)
            self._texts.append(text)
            yield text

    def used(self, term: str) -> bool:
        pattern = re.compile(r"(?<![\w-])" + re.escape(term) + r"(?![\w-])")
        if "\n" in term:  # could run from one paragraph into the next, as in their words joined by lines
            if self._all is None:
                self._all = "\n".join(self._each())
            return pattern.search(self._all) is not None
        return any(term in text and pattern.search(text) for text in self._each())
