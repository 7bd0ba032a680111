"""Pages: which pages the site has (a pure list), and their HTML through Jinja2."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from . import views
from .model import Site
from .urls import TYPE_FOLDERS, Urls, absolute

TYPE_ORDER = ("initiative", "inspection", "document", "organisation")


@dataclass(frozen=True)
class Page:
    url: str
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    indexed: bool = False  # whether search indexes it (record, entity and figures pages)


class Labels(dict):
    """Interface strings; a missing one is a build error, never an empty hole."""

    def __getattr__(self, key: str) -> str:
        try:
            return self[key]
        except KeyError:
            raise KeyError(f"missing interface label '{key}' in templates/labels") from None


def environment(templates: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def pages(site: Site, urls: Urls) -> list[Page]:
    """Every HTML page of one interface language, in a fixed order."""
    out: list[Page] = [Page(urls.home(), "home.html", "home")]
    for sub in site.submissions:
        out.append(Page(urls.response(sub.id), "response.html", "response", {"submission": sub}))
        for body_id in sub.bodies:
            for q_id in sub.questions:
                out.append(Page(urls.record(sub.id, body_id, q_id), "record.html", "record",
                                {"submission": sub, "body": site.body_by_id[body_id],
                                 "question": site.question_by_id[q_id],
                                 "record": site.record_by_key.get((sub.id, body_id, q_id))},
                                indexed=True))
    for force in site.forces:
        out.append(Page(urls.force(force.id), "force.html", "force", {"force": force}))
    for q in site.questions:
        out.append(Page(urls.question(q.id), "question.html", "question", {"question": q}))
    for type_ in TYPE_ORDER:
        members = [e for e in site.entities if e.type == type_]
        if not members:
            continue
        out.append(Page(urls.entity_index(type_), "entities.html", "entities", {"type": type_, "entities": members}))
        for e in members:
            out.append(Page(urls.entity(e), "entity.html", "entity", {"entity": e}, indexed=True))
    if site.acronyms:
        out.append(Page(urls.named("glossary"), "glossary.html", "glossary"))
    if site.figures:
        out.append(Page(urls.named("figures"), "figures.html", "figures", indexed=True))
    if site.topics:
        out.append(Page(urls.named("compare"), "compare.html", "compare"))
    out.append(Page(urls.named("search"), "search.html", "search"))
    out.append(Page(urls.named("accessibility"), "accessibility.html", "accessibility"))
    return out


def render_pages(site: Site, env: Environment, urls: Urls, labels: Labels, *,
                 build_date: str | None, languages: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(output path, HTML) for every page; output paths are relative to the site root."""
    common = {
        "site": site, "t": labels, "lang": urls.lang, "languages": languages,
        "build_date": build_date, "views": views, "TYPE_ORDER": TYPE_ORDER, "TYPE_FOLDERS": TYPE_FOLDERS,
    }
    for page in pages(site, urls):
        yield urls.output_path(page.url), render_page(site, env, urls, labels, page, common)
    yield "404.html", render_page(site, env, urls, labels, Page(urls.page("404.html"), "404.html", "404"), common)


def render_page(site: Site, env: Environment, urls: Urls, labels: Labels, page: Page, common: dict) -> str:
    text = views.PageText(site, urls, labels, urls.base)
    context = dict(common)
    context.update(page.context)
    context.update({
        "page": page, "urls": urls, "text": text,
        "canonical": absolute(site.config.site_url, page.url, urls.base),
    })
    return env.get_template(page.template).render(context)
