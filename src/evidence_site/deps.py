"""Which record files each page's HTML depends on: what an incremental rebuild renders again.

A pure function of the model: ``page_deps(site, page)`` is the set of record files (``Record.path``)
whose content can change the page's HTML. Only record files are tracked; a change to any other input
(site.yaml, forces, bodies, questions, submissions, entities, glossary, figures, comparison, the
templates, labels, static files or this code) makes the whole site build again (pipeline.build).

Read from the templates, page by page; when unsure, a page depends on more, never less (a page
rendered needlessly costs time, a page left stale is wrong):

- a record page: its record, and the records holding joint statements made with its body for its
  question (shown beside the answer, and they decide "no answer" against "no answer, but joint");
- the full response: every record of the submission;
- a force page: every record of the force's bodies, and every record holding a joint statement made
  with one of them (an answer's "no answer, but joint");
- a question page: every record answering the question (joint statements included: they answer it);
- an entity page: every record with a paragraph mentioning the entity, and the records of the
  paragraphs its summary cites as sources (their number is shown);
- the entity indexes, the responses index (its answer counts come from the submission files, and a
  record file added or removed rebuilds everything), search, the accessibility statement and 404:
  no record;
- the home page, glossary, key figures, comparison and any page not named here: every record (they
  summarise across the records).

Both interface languages have the same dependencies: a page's language changes its words, not the
evidence it shows. The dependencies are computed on the previous build's model and on the new one;
a page is rendered again when either includes a changed file (a mention removed changes the entity
page the old model linked).
"""

from __future__ import annotations

from .model import Site
from .render import Page

NONE: frozenset[str] = frozenset()

# Pages that show no record's content (only ids, names and labels from other files).
NO_RECORDS = frozenset({"entities.html", "search.html", "accessibility.html", "404.html", "responses.html"})


class _Index:
    """The record files behind each kind of page, built once per site."""

    def __init__(self, site: Site) -> None:
        records = site.records
        self.all = frozenset(r.path for r in records)
        by_sub: dict[str, set[str]] = {}
        by_question: dict[str, set[str]] = {}
        by_body: dict[str, set[str]] = {}
        joint: dict[tuple[str, str, str], set[str]] = {}  # (submission, body, question) -> owners
        joint_bodies: dict[str, set[str]] = {}  # body -> records holding a statement made with it
        by_entity: dict[str, set[str]] = {}
        for r in records:
            by_sub.setdefault(r.submission, set()).add(r.path)
            by_question.setdefault(r.question, set()).add(r.path)
            by_body.setdefault(r.body, set()).add(r.path)
            for p in r.paragraphs:
                if p.joint_with:  # most paragraphs have neither: no loop set up for them
                    for b in p.joint_with:
                        joint.setdefault((r.submission, b, r.question), set()).add(r.path)
                        joint_bodies.setdefault(b, set()).add(r.path)
                if p.mentions:
                    for m in p.mentions:
                        by_entity.setdefault(m.entity, set()).add(r.path)
        for e in site.entities:
            for pid in e.sources:
                p = site.paragraph_by_id.get(pid)
                if p is not None and p.body is not None:  # an introduction's paragraph is in its submission's file
                    record = site.record_by_key[(p.submission, p.body, p.question)]
                    by_entity.setdefault(e.id, set()).add(record.path)
        by_force: dict[str, set[str]] = {}
        for b in site.bodies:
            found = by_force.setdefault(b.force, set())
            found |= by_body.get(b.id, set())
            found |= joint_bodies.get(b.id, set())
        self.by_sub = {k: frozenset(v) for k, v in by_sub.items()}
        self.by_question = {k: frozenset(v) for k, v in by_question.items()}
        self.by_force = {k: frozenset(v) for k, v in by_force.items()}
        self.by_entity = {k: frozenset(v) for k, v in by_entity.items()}
        self.joint = {k: frozenset(v) for k, v in joint.items()}


def _index(site: Site) -> _Index:
    idx = site.__dict__.get("_deps_index")
    if idx is None or idx[0] is not site.records:
        idx = (site.records, _Index(site))
        object.__setattr__(site, "_deps_index", idx)  # a cache beside the frozen fields, not a field
    return idx[1]


def page_deps(site: Site, page: Page) -> frozenset[str]:
    """The record files (``Record.path``) whose content the page's HTML depends on."""
    template = page.template
    if template in NO_RECORDS:
        return NONE
    idx = _index(site)
    c = page.context
    if template == "record.html":
        owners = idx.joint.get((c["submission"].id, c["body"].id, c["question"].id), NONE)
        record = c.get("record")
        return owners | {record.path} if record is not None else owners
    if template == "response.html":
        return idx.by_sub.get(c["submission"].id, NONE)
    if template == "force.html":
        return idx.by_force.get(c["force"].id, NONE)
    if template == "question.html":
        return idx.by_question.get(c["question"].id, NONE)
    if template == "entity.html":
        return idx.by_entity.get(c["entity"].id, NONE)
    return idx.all  # home, glossary, figures, compare, and any page added later
