"""The evidence as typed data. Built only from validated content, so references always resolve."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Force:
    id: str
    name: str
    name_cy: str


@dataclass(frozen=True, slots=True)
class Body:
    id: str
    name: str
    force: str
    kind: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    number: int
    title: str
    text: str


# Paragraphs and their mentions are named tuples, not frozen dataclasses like the rest: as immutable,
# but a build makes 100,000 of them from the cache or the YAML, and a frozen dataclass's __init__ (one
# object.__setattr__ per field) took four times as long (0.12 s of every build at that scale).
class Mention(NamedTuple):
    entity: str
    text: str


class Paragraph(NamedTuple):
    id: str
    kind: str  # prose | heading | item
    page: int
    page_end: int | None
    text: str
    joint_with: tuple[str, ...]
    mentions: tuple[Mention, ...]
    submission: str
    body: str | None  # None for a submission's introduction
    question: str | None
    number: int | None  # its number within the record; headings have none

    @property
    def pages(self) -> str:
        if self.page_end and self.page_end != self.page:
            return f"{self.page}–{self.page_end}"
        return str(self.page)


@dataclass(frozen=True, slots=True)
class Record:
    submission: str
    body: str
    question: str
    paragraphs: tuple[Paragraph, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    title: str
    author: str
    author_cy: str | None
    committee: str
    committee_cy: str | None
    inquiry: str
    inquiry_cy: str | None
    language: str
    bodies: tuple[str, ...]
    questions: tuple[str, ...]
    introduction: tuple[Paragraph, ...]
    sequence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Address:
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    type: str  # initiative | inspection | document | organisation
    name: str
    kind: str
    forces: tuple[str, ...]
    addresses: tuple[Address, ...]
    summary: str
    summary_cy: str | None
    sources: tuple[str, ...]
    summary_cy_reviewed: bool = False


@dataclass(frozen=True, slots=True)
class Acronym:
    id: str
    term: str
    expansion: str
    source: str
    expansion_cy: str | None
    expansion_cy_reviewed: bool = False


@dataclass(frozen=True, slots=True)
class Figure:
    id: str
    value: str
    counts: str
    period: str | None
    body: str
    paragraph: str


@dataclass(frozen=True, slots=True)
class Cell:
    force: str
    answer: str | None
    answer_cy: str | None
    sources: tuple[str, ...]
    answer_cy_reviewed: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str
    site_url: str
    contact_email: str | None
    contact_url: str | None
    languages: tuple[str, ...] = ("en",)  # interface languages, English first


@dataclass(frozen=True)
class Site:
    config: SiteConfig
    forces: tuple[Force, ...]
    bodies: tuple[Body, ...]
    questions: tuple[Question, ...]
    submissions: tuple[Submission, ...]
    records: tuple[Record, ...]
    entities: tuple[Entity, ...] = ()
    acronyms: tuple[Acronym, ...] = ()
    figures: tuple[Figure, ...] = ()
    topics: tuple[Topic, ...] = ()
    # Look-ups, filled in by __post_init__ from the tuples above.
    force_by_id: dict[str, Force] = field(default_factory=dict, compare=False)
    body_by_id: dict[str, Body] = field(default_factory=dict, compare=False)
    question_by_id: dict[str, Question] = field(default_factory=dict, compare=False)
    submission_by_id: dict[str, Submission] = field(default_factory=dict, compare=False)
    record_by_key: dict[tuple[str, str, str], Record] = field(default_factory=dict, compare=False)
    paragraph_by_id: dict[str, Paragraph] = field(default_factory=dict, compare=False)
    entity_by_id: dict[str, Entity] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.force_by_id.update((f.id, f) for f in self.forces)
        self.body_by_id.update((b.id, b) for b in self.bodies)
        self.question_by_id.update((q.id, q) for q in self.questions)
        self.submission_by_id.update((s.id, s) for s in self.submissions)
        self.record_by_key.update(((r.submission, r.body, r.question), r) for r in self.records)
        # 100,000 paragraphs at an inquiry's scale: zipped at C speed, introductions first.
        every = [*chain.from_iterable(s.introduction for s in self.submissions),
                 *chain.from_iterable(r.paragraphs for r in self.records)]
        self.paragraph_by_id.update(zip(map(attrgetter("id"), every), every))
        self.entity_by_id.update((e.id, e) for e in self.entities)

    def joint_paragraphs(self, submission: str, body: str, question: str) -> tuple[Paragraph, ...]:
        """Statements another body made jointly with this one, kept in that body's record."""
        return tuple(
            p for r in self.records if r.submission == submission and r.question == question
            and r.body != body for p in r.paragraphs if body in p.joint_with
        )
