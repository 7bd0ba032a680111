"""What each page shows, as plain data for the templates (no HTML except rendered paragraph text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from markupsafe import Markup

from . import markdown
from .model import Body, Entity, Paragraph, Site
from .urls import Urls, absolute


@dataclass(frozen=True, slots=True)
class ParagraphView:
    p: Paragraph
    html: Markup
    dead_link: bool
    url: str  # the paragraph on its record page
    cite: str  # text a clerk can paste
    joint_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """A run of paragraphs rendered together: one heading, one prose paragraph, or one list."""

    kind: str  # heading | prose | list
    items: tuple[ParagraphView, ...]


class PageText:
    """Renders paragraphs for one page: acronyms are expanded on their first use on that page."""

    def __init__(self, site: Site, urls: Urls, labels: dict[str, str], base: str):
        self.site = site
        self.urls = urls
        self.labels = labels
        self.base = base
        self.seen_abbr: set[str] = set()
        self._abbr = _abbr_table(site)

    def paragraph(self, p: Paragraph) -> ParagraphView:
        mention_urls = [(m.text, self.urls.entity(self.site.entity_by_id[m.entity])) for m in p.mentions]
        r = markdown.render(p.text, mention_urls, self._abbr, self.seen_abbr)
        url = self.urls.paragraph(p)
        return ParagraphView(p, Markup(r.html), r.dead_link, url, cite_text(self.site, p, self.labels, url, self.base),
                             tuple(self.site.body_by_id[b].name for b in p.joint_with))

    def blocks(self, paragraphs) -> list[Block]:
        out: list[Block] = []
        for kind, group in groupby(paragraphs, key=lambda p: p.kind):
            views = [self.paragraph(p) for p in group]
            if kind == "item":
                out.append(Block("list", tuple(views)))
            else:
                out.extend(Block(kind, (v,)) for v in views)
        return out

    def inline(self, text: str) -> Markup:
        """Editorial Markdown (summaries, comparison answers): no mentions, acronyms expanded."""
        return Markup(markdown.render(text, (), self._abbr, self.seen_abbr).html)


def _abbr_table(site: Site):
    if not site.acronyms:
        return None
    expansions = {a.term: a.expansion for a in site.acronyms}
    return markdown.acronym_pattern(expansions), expansions


def cite_text(site: Site, p: Paragraph, labels: dict[str, str], url: str, base: str) -> str:
    sub = site.submission_by_id[p.submission]
    absolute_url = absolute(site.config.site_url, url, base)
    if p.body is None or p.question is None:
        where = labels["cite_introduction"]
    else:
        q = site.question_by_id[p.question]
        where = labels["cite_answer"].format(body=site.body_by_id[p.body].name, number=q.number, title=q.title)
    number = labels["cite_paragraph"].format(n=p.number) + ", " if p.number else ""
    page = labels["cite_pages" if p.page_end else "cite_page"].format(pages=p.pages)
    return f"{sub.author}, {sub.committee}, {sub.inquiry}: {where}, {number}{page}. {absolute_url}"


@dataclass(frozen=True, slots=True)
class Section:
    """A force's part of the full response: consecutive paragraphs of one question and force."""

    question: str
    force: str
    paragraphs: tuple[Paragraph, ...]


def response_sections(site: Site, submission: str) -> list[Section]:
    sub = site.submission_by_id[submission]
    out: list[Section] = []
    paragraphs = [site.paragraph_by_id[pid] for pid in sub.sequence]

    def key(p: Paragraph):
        return (p.question, site.body_by_id[p.body].force if p.body else "")

    for (q, f), group in groupby(paragraphs, key=key):
        out.append(Section(q or "", f, tuple(group)))
    return out


def bodies_of_force(site: Site, force: str) -> list[Body]:
    return [b for b in site.bodies if b.force == force]


def mentions_of(site: Site, entity: str) -> list[Paragraph]:
    """Every paragraph naming the entity, in the order of the response."""
    order = {pid: i for s in site.submissions for i, pid in enumerate(s.sequence)}
    found = [p for p in site.paragraph_by_id.values() if any(m.entity == entity for m in p.mentions)]
    return sorted(found, key=lambda p: (p.submission, order.get(p.id, -1)))


def entities_in(site: Site, paragraphs) -> list[Entity]:
    ids = {m.entity for p in paragraphs for m in p.mentions}
    return [e for e in site.entities if e.id in ids]
