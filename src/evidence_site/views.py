"""What each page shows, as plain data for the templates (no HTML except rendered paragraph text)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count, groupby
from typing import NamedTuple

from markupsafe import Markup

from . import markdown
from .fragments import blocks_html
from .model import Body, Entity, Force, Paragraph, Site
from .urls import DEFAULT_LANGUAGE, Urls, absolute


# ParagraphView and Block are made for every paragraph on every page that shows it (some 200,000 of
# each a build at an inquiry's scale) and never changed once made: not frozen, since a frozen
# dataclass's __init__ sets each field through object.__setattr__ (three times as slow to make).
@dataclass(slots=True)
class ParagraphView:
    p: Paragraph
    html: Markup
    dead_link: bool
    url: str  # the paragraph on its record page
    cite: str  # text a clerk can paste
    joint_names: tuple[str, ...]


@dataclass(slots=True)
class Block:
    """A run of paragraphs rendered together: one heading, one prose paragraph, or one list."""

    kind: str  # heading | prose | list
    items: tuple[ParagraphView, ...]


class SharedText:
    """What the pages of one build and interface language share: each paragraph's text parsed and
    rendered once (with its citation and link), however many pages show it."""

    def __init__(self, site: Site, urls: Urls, labels: dict[str, str], base: str):
        self.site = site
        self.urls = urls
        self.labels = labels
        self.base = base
        self.abbr = _abbr_table(site)
        # Each paragraph prepared, by its submission (``forget`` lets a submission's go at once).
        self._prepared: dict[str, dict[str, tuple[Paragraph, markdown.Prepared, ParagraphView]]] = {}
        self._inline: dict[str, markdown.Prepared] = {}
        # What a record's paragraphs share, by submission, then body and question: its page's URL,
        # absolute, and the head of their citations.
        self._records: dict[str, dict[tuple, tuple[str, str, str]]] = {}

    def paragraph(self, p: Paragraph) -> tuple[markdown.Prepared, ParagraphView]:
        prepared = self._prepared.get(p.submission)
        if prepared is None:
            prepared = self._prepared[p.submission] = {}
        hit = prepared.get(p.id)
        if hit is not None and hit[0] is p:
            return hit[1], hit[2]
        site = self.site
        mention_urls = [(m.text, self.urls.entity(site.entity_by_id[m.entity])) for m in p.mentions]
        prep = markdown.prepare(p.text, mention_urls, self.abbr)
        records = self._records.get(p.submission)
        if records is None:
            records = self._records[p.submission] = {}
        record = records.get((p.body, p.question))
        if record is None:
            page = self.urls.paragraph_page(p)
            record = records[(p.body, p.question)] = (page, absolute(site.config.site_url, page, self.base),
                                                      cite_head(site, p, self.labels, self.urls.lang))
        anchor = "#" + p.id
        view = ParagraphView(p, Markup(prep.html), prep.dead_link, record[0] + anchor,
                             cite_text(p, self.labels, record[2], record[1] + anchor),
                             tuple([site.body_by_id[b].name for b in p.joint_with]) if p.joint_with else ())
        prepared[p.id] = (p, prep, view)
        return prep, view

    def inline(self, text: str) -> markdown.Prepared:
        prep = self._inline.get(text)
        if prep is None:
            prep = self._inline[text] = markdown.prepare(text, (), self.abbr)
        return prep

    def forget(self, submissions: set[str]) -> None:
        """Drop what was prepared for the paragraphs of ``submissions``, once no page still to be
        rendered here shows them: a rendering process's finished groups (``parallel._group``).
        Kept, every paragraph a process prepared came to 50 MB and more of its peak at 100,000
        paragraphs; a paragraph prepared again (were a later page to show it) is the same."""
        for sub in submissions:
            self._prepared.pop(sub, None)
            self._records.pop(sub, None)


class PageText:
    """Renders paragraphs for one page: acronyms are expanded on their first use on that page."""

    def __init__(self, site: Site, urls: Urls, labels: dict[str, str], base: str, shared: SharedText | None = None):
        self.site = site
        self.urls = urls
        self.labels = labels
        self.base = base
        self.seen_abbr: set[str] = set()
        self.shared = shared if shared is not None else SharedText(site, urls, labels, base)
        self._abbr = self.shared.abbr

    def paragraph(self, p: Paragraph) -> ParagraphView:
        prep, view = self.shared.paragraph(p)
        html = markdown.expand(prep, self._abbr, self.seen_abbr)
        if html is prep.html:
            return view
        return ParagraphView(p, Markup(html), view.dead_link, view.url, view.cite, view.joint_names)

    def blocks(self, paragraphs) -> list[Block]:
        out: list[Block] = []
        for kind, group in groupby(paragraphs, key=lambda p: p.kind):
            views = [self.paragraph(p) for p in group]
            if kind == "item":
                out.append(Block("list", tuple(views)))
            else:
                out.extend(Block(kind, (v,)) for v in views)
        return out

    def html(self, paragraphs, *, anchors: bool = True, cite: bool = True, level: int = 3,
             reading: bool = False) -> Markup:
        """The paragraphs' HTML, grouped into blocks (``fragments.blocks_html``)."""
        en_attr = ' lang="en"' if self.urls.lang != DEFAULT_LANGUAGE else ""
        return blocks_html(self.blocks(paragraphs), self.labels, anchors=anchors, cite=cite, level=level,
                           en_attr=en_attr, reading=reading)

    def inline(self, text: str) -> Markup:
        """Editorial Markdown (summaries, comparison answers): no mentions, acronyms expanded."""
        return Markup(markdown.expand(self.shared.inline(text), self._abbr, self.seen_abbr))


def _abbr_table(site: Site):
    if not site.acronyms:
        return None
    expansions = {a.term: a.expansion for a in site.acronyms}
    return markdown.acronym_pattern(expansions), expansions


def cite_head(site: Site, p: Paragraph, labels: dict[str, str], lang: str = "en") -> str:
    """What the citations of a record's paragraphs (or of an introduction's) share: who said it, to
    whom, where. In the interface's language: names with a Welsh form in it on Welsh pages."""
    sub = site.submission_by_id[p.submission]
    if p.body is None or p.question is None:
        where = labels["cite_introduction"]
    else:
        q = site.question_by_id[p.question]
        where = labels["cite_answer"].format(body=site.body_by_id[p.body].name, number=q.number, title=q.title)
    if lang == "cy":
        author, committee, inquiry = (sub.author_cy or sub.author, sub.committee_cy or sub.committee,
                                      sub.inquiry_cy or sub.inquiry)
    else:
        author, committee, inquiry = sub.author, sub.committee, sub.inquiry
    return f"{author}, {committee}, {inquiry}: {where}, "


def cite_text(p: Paragraph, labels: dict[str, str], head: str, absolute_url: str) -> str:
    """The citation a clerk can paste: ``cite_head``, the paragraph's number and page, its address."""
    number = labels["cite_paragraph"].format(n=p.number) + ", " if p.number else ""
    page = labels["cite_pages" if p.page_end else "cite_page"].format(pages=p.pages)
    return f"{head}{number}{page}. {absolute_url}"


@dataclass(frozen=True, slots=True)
class Section:
    """A force's part of the full response: consecutive paragraphs of one question and force."""

    question: str
    force: str
    paragraphs: tuple[Paragraph, ...]

    def by_body(self) -> list[tuple[str | None, tuple[Paragraph, ...]]]:
        """Its paragraphs in runs of one body (a force's police and commissioner answer in one part
        of the response), each run to be shown under the body's name: who said what."""
        return [(body, tuple(run)) for body, run in groupby(self.paragraphs, key=lambda p: p.body)]


def response_sections(site: Site, submission: str) -> list[Section]:
    sub = site.submission_by_id[submission]
    out: list[Section] = []
    paragraphs = [site.paragraph_by_id[pid] for pid in sub.sequence]

    def key(p: Paragraph):
        return (p.question, site.body_by_id[p.body].force if p.body else "")

    for (q, f), group in groupby(paragraphs, key=key):
        out.append(Section(q or "", f, tuple(group)))
    return out


class _Index:
    """Look-ups the templates ask for on every page, built once per site instead of scanning
    every paragraph or record on each call (which made a large site quadratic)."""

    def __init__(self, site: Site):
        self.bodies_of_force: dict[str, list[Body]] = {}
        for b in site.bodies:
            self.bodies_of_force.setdefault(b.force, []).append(b)
        order: dict[str, int] = {}  # each paragraph's place in its submission
        for s in site.submissions:
            order.update(zip(s.sequence, count()))
        mentions: dict[str, list[Paragraph]] = {}
        for p in site.paragraph_by_id.values():
            if p.mentions:  # a few paragraphs in ten: the others cost no look-up (a rebuild builds this)
                for entity in dict.fromkeys(m.entity for m in p.mentions):
                    mentions.setdefault(entity, []).append(p)
        for found in mentions.values():
            found.sort(key=lambda p: (p.submission, order.get(p.id, -1)))
        self.mentions = mentions
        self.entity_position = {e.id: i for i, e in enumerate(site.entities)}
        joint: dict[tuple[str, str, str], list[Paragraph]] = {}
        for r in site.records:
            for p in r.paragraphs:
                if p.joint_with:
                    for body in dict.fromkeys(p.joint_with):
                        if body != r.body:
                            joint.setdefault((r.submission, body, r.question), []).append(p)
        self.joint = {key: tuple(ps) for key, ps in joint.items()}
        self.forces_of_submission: dict[str, list[tuple[Force, list[Body]]]] = {}
        self.answers_of_submission: dict[str, int] = {}
        self.paragraphs_of_question: dict[str, int] = {}
        self.paragraphs_of_force: dict[str, int] = {}
        force_of = {b.id: b.force for b in site.bodies}
        for r in site.records:
            n = len(r.paragraphs)
            self.answers_of_submission[r.submission] = self.answers_of_submission.get(r.submission, 0) + 1
            self.paragraphs_of_question[r.question] = self.paragraphs_of_question.get(r.question, 0) + n
            force = force_of[r.body]
            self.paragraphs_of_force[force] = self.paragraphs_of_force.get(force, 0) + n


def _index(site: Site) -> _Index:
    idx = site.__dict__.get("_views_index")
    if idx is None:
        idx = _Index(site)
        object.__setattr__(site, "_views_index", idx)  # a cache beside the frozen fields, not a field
    return idx


class IndexedSite(Site):
    """The same site, with ``joint_paragraphs`` answered from an index (templates call it for every
    record, and the model's own scans every record)."""

    def joint_paragraphs(self, submission: str, body: str, question: str) -> tuple[Paragraph, ...]:
        return _index(self).joint.get((submission, body, question), ())


def indexed(site: Site) -> Site:
    """``site`` for the templates: equal in every field, with indexed look-ups."""
    if isinstance(site, IndexedSite):
        return site
    out = IndexedSite.__new__(IndexedSite)
    out.__dict__.update(site.__dict__)
    out.__dict__.pop("_views_index", None)
    return out


def bodies_of_force(site: Site, force: str) -> list[Body]:
    return list(_index(site).bodies_of_force.get(force, ()))


def mentions_of(site: Site, entity: str) -> list[Paragraph]:
    """Every paragraph naming the entity, in the order of the response."""
    return list(_index(site).mentions.get(entity, ()))


def mentions_by_force(site: Site, entity: str) -> list[tuple[Force, list[Paragraph]]]:
    """The paragraphs naming the entity, grouped by the speaking body's force, in force order
    (an introduction, which no body speaks, is left out)."""
    idx = _index(site)
    by_force: dict[str, list[Paragraph]] = {}
    for p in idx.mentions.get(entity, ()):
        if p.body:
            by_force.setdefault(site.body_by_id[p.body].force, []).append(p)
    return [(f, by_force[f.id]) for f in site.forces if f.id in by_force]


def forces_of_submission(site: Site, submission: str) -> list[tuple[Force, list[Body]]]:
    """Each force with a body in the submission, with those bodies, in the site's order."""
    idx = _index(site)
    if not idx.forces_of_submission:  # every submission's at once, in one pass over the bodies
        with_body: dict[str, list[str]] = {}  # body -> the submissions it is a body of
        for sub in site.submissions:
            for body in dict.fromkeys(sub.bodies):
                with_body.setdefault(body, []).append(sub.id)
        grouped: dict[str, dict[str, list[Body]]] = {sub.id: {} for sub in site.submissions}
        for b in site.bodies:
            for sub_id in with_body.get(b.id, ()):
                grouped[sub_id].setdefault(b.force, []).append(b)
        place = {f.id: i for i, f in enumerate(site.forces)}
        for sub_id, forces in grouped.items():
            idx.forces_of_submission[sub_id] = [(site.force_by_id[f], bodies) for f, bodies in
                                                sorted(forces.items(), key=lambda item: place[item[0]])]
    return idx.forces_of_submission[submission]


# Page weight (DECISIONS.md): every page within 60 KB, so a phone on a slow line opens it, but a
# submission's full response, which holds the whole response, within 150 KB. The splits below keep
# the pages a build makes within it at an inquiry's scale; a build names any page that passes its
# budget all the same (``over_budget``), such as the full response of a very long submission.
PAGE_BUDGET = 60_000  # bytes
FULL_RESPONSE_BUDGET = 150_000


class Heavy(NamedTuple):
    """A page heavier than its budget (``over_budget``)."""

    rel: str  # its output path
    size: int  # bytes
    budget: int  # bytes
    full_response: bool  # a submission's full response (its own budget), not another page


def over_budget(entries, size_of) -> list[Heavy]:
    """The pages (``(output path, Page)``, as ``render.all_pages`` lists them) heavier than their
    budget, heaviest first; ``size_of`` gives a page's size by its path."""
    over = []
    for rel, page in entries:
        full_response = page.template == "response.html"
        budget = FULL_RESPONSE_BUDGET if full_response else PAGE_BUDGET
        size = size_of(rel)
        if size > budget:
            over.append(Heavy(rel, size, budget, full_response))
    return sorted(over, key=lambda o: (-o.size, o.rel))


# A question or force page shows its answers' text in full up to this many paragraphs between them
# (the real response's largest page, a question's eight answers, holds 85: about 55 KB). Beyond it,
# at an inquiry's scale of hundreds of answers, the page lists the answers instead, each linking to
# its own page, so that every page stays within the 60 KB page budget and a phone can open it.
FULL_TEXT_LIMIT = 90

# A question page lists at most this many submissions' answers; a question answered in more (an
# inquiry of hundreds of submissions) has its page in parts of this many each, linked in order, so
# every part stays within the 60 KB page budget. The parts depend only on the submissions, never on
# an answer's text, so an edit to an answer never adds or removes a page.
QUESTION_PART_SIZE = 100

# The glossary links each acronym's uses up to this many (the real response's most used, OPCC, has
# 24); beyond, it says how many more there are and links a search for the acronym.
GLOSSARY_USES_SHOWN = 30

# The search page offers each filter's values as checkboxes up to this many (the real response has
# 8 bodies, 4 forces); a filter with more, such as an inquiry's 250 forces, is a drop-down list of
# one choice, so the page stays within the budget and a reader is not handed hundreds of boxes.
FILTER_CHECKBOX_LIMIT = 20

# An entity index groups its entries under each force, as well as listing them all, up to this many
# forces; beyond, the full list alone (its Forces column says whose each one is), which each force's
# page also links from.
ENTITY_GROUPS_LIMIT = 20


def question_parts(site: Site, question: str) -> list[list]:
    """The submissions answering the question, in the site's order, in parts of at most
    ``QUESTION_PART_SIZE``: one part (the whole list) for all but an inquiry's largest sites."""
    subs = [s for s in site.submissions if question in s.questions]
    size = QUESTION_PART_SIZE
    return [subs[i:i + size] for i in range(0, len(subs), size)] or [[]]


def in_full(paragraphs: int) -> bool:
    """Whether a question or force page whose answers hold ``paragraphs`` shows their text (else it
    lists them): the templates decide with it, and so does the reckoning of a page's work. A page
    so made that passes the page budget (answers of long paragraphs) is made again listing them
    (``render.Renderer.render``, with ``listed``)."""
    return paragraphs <= FULL_TEXT_LIMIT


def answer_paragraphs(site: Site, page) -> int | None:
    """How many paragraphs a question or force page's answers hold between them; None for a page
    of another kind."""
    c = page.context
    if page.template == "question.html" and "question" in c:
        return question_paragraphs(site, c["question"].id)
    if page.template == "force.html" and "force" in c:
        return force_paragraphs(site, c["force"].id)
    return None


def question_paragraphs(site: Site, question: str) -> int:
    """How many paragraphs the answers to the question hold between them."""
    return _index(site).paragraphs_of_question.get(question, 0)


def force_paragraphs(site: Site, force: str) -> int:
    """How many paragraphs the answers of the force's bodies hold between them."""
    return _index(site).paragraphs_of_force.get(force, 0)


def answer_count(site: Site, submission: str) -> int:
    """How many answers (records) the submission holds."""
    return _index(site).answers_of_submission.get(submission, 0)


def submissions_of_force(site: Site, force: str) -> list:
    """The submissions holding a body of the force, in the site's order."""
    bodies = {b.id for b in _index(site).bodies_of_force.get(force, ())}
    return [s for s in site.submissions if bodies.intersection(s.bodies)]


def entities_by_force(site: Site, entities) -> list[tuple[Force, list[Entity]]]:
    """``entities`` grouped by each force they belong to (an entity of two forces is in both), in
    the site's force order; forces with none are left out."""
    by_force: dict[str, list[Entity]] = {}
    for e in entities:
        for f in dict.fromkeys(e.forces):
            by_force.setdefault(f, []).append(e)
    return [(f, by_force[f.id]) for f in site.forces if f.id in by_force]


def entities_in(site: Site, paragraphs) -> list[Entity]:
    ids = {m.entity for p in paragraphs for m in p.mentions}
    position = _index(site).entity_position
    return [site.entities[i] for i in sorted(position[e] for e in ids if e in position)]
