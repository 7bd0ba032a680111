"""Pages: which pages the site has (a pure list), and their HTML through Jinja2."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from jinja2 import Environment
from markupsafe import Markup, escape

from . import views
from .model import Site, Submission
from .urls import DEFAULT_LANGUAGE, Urls, absolute

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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # ``t.name`` in a template is read thousands of times a build: found as an attribute it
        # skips __getattr__. Names of dict methods keep meaning the method, as before.
        self.__dict__.update((k, v) for k, v in self.items() if isinstance(k, str) and not hasattr(dict, k))

    def __getattr__(self, key: str) -> str:
        try:
            return self[key]
        except KeyError:
            raise KeyError(f"missing interface label '{key}' in templates/labels") from None


def pages(site: Site, urls: Urls) -> list[Page]:
    """Every HTML page of one interface language, in a fixed order."""
    out: list[Page] = [Page(urls.home(), "home.html", "home")]
    if len(site.submissions) > 1:  # one navigation link to them all, not one per submission
        out.append(Page(urls.responses(), "responses.html", "responses"))
    for sub in site.submissions:
        out += submission_pages(site, urls, sub)
    for force in site.forces:
        out.append(Page(urls.force(force.id), "force.html", "force", {"force": force}))
    for q in site.questions:
        parts = views.question_parts(site, q.id)
        for n, subs in enumerate(parts, 1):
            out.append(Page(urls.question(q.id, n), "question.html", "question",
                            {"question": q, "submissions": subs, "part": n, "parts": len(parts)}))
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


def submission_pages(site: Site, urls: Urls, sub: Submission) -> list[Page]:
    """A submission's own pages, in ``pages``'s order: its full response, then an answer's page for each
    of its bodies and questions."""
    out = [Page(urls.response(sub.id), "response.html", "response", {"submission": sub})]
    for body_id in sub.bodies:
        for q_id in sub.questions:
            out.append(Page(urls.record(sub.id, body_id, q_id), "record.html", "record",
                            {"submission": sub, "body": site.body_by_id[body_id],
                             "question": site.question_by_id[q_id],
                             "record": site.record_by_key.get((sub.id, body_id, q_id))},
                            indexed=True))
    return out


def all_pages(site: Site, urls: Urls) -> list[tuple[str, Page]]:
    """(output path, page) for every page of one interface language, the 404 page last."""
    out = [(urls.output_path(page.url), page) for page in pages(site, urls)]
    if urls.lang == DEFAULT_LANGUAGE:  # GitHub Pages serves only the root 404.html; it links to both homes
        out.append(("404.html", Page(urls.page("404.html"), "404.html", "404")))
    return out


def in_language(urls: Urls, url: str, lang: str) -> str:
    """The same page in another interface language: '/repo/forces/gwent/' ⇄ '/repo/cy/forces/gwent/'."""
    assert url.startswith(urls.root), url
    return urls.in_language(lang).page(url[len(urls.root):])


def _en(lang: str):
    """``en(x)`` in templates: English evidence or names, marked lang="en" on a page of another language."""
    if lang == DEFAULT_LANGUAGE:
        return lambda x: escape(x)
    return lambda x: Markup('<span lang="en">%s</span>') % x


class Renderer:
    """Renders the pages of one interface language. Pages share one ``views.SharedText``, so a
    paragraph shown on several pages is parsed and rendered once."""

    def __init__(self, site: Site, env: Environment, urls: Urls, labels: Labels, *,
                 build_date: str | None, languages: tuple[str, ...]):
        self.site = views.indexed(site)
        self.env = env
        self.urls = urls
        self.labels = labels
        self.shared = views.SharedText(self.site, urls, labels, urls.base)
        kinds = {e.type for e in self.site.entities}
        self.common = {
            "site": self.site, "t": labels, "lang": urls.lang, "languages": languages,
            "build_date": build_date, "views": views,
            # The kinds of entity the site has, in TYPE_ORDER: every page's navigation lists them.
            "entity_types": [t for t in TYPE_ORDER if t in kinds],
            "en": _en(urls.lang), "welsh": urls.lang == "cy",
            # Names with a Welsh form are shown in it on Welsh pages; the rest stay English (lang="en").
            "force_name": (lambda f: f.name_cy) if urls.lang == "cy" else (lambda f: f.name),
            "committee": (lambda s: s.committee_cy or _en("cy")(s.committee)) if urls.lang == "cy" else (lambda s: s.committee),
            # ' lang="en"' for an element holding English evidence on a page of another language.
            "en_attr": Markup(' lang="en"') if urls.lang != DEFAULT_LANGUAGE else Markup(""),
            "listed": False,  # a question or force page listing its answers whatever their number (``render``)
        }
        # The addresses every page's header and footer link to, worked out once, not on every page.
        self.common["nav"] = SimpleNamespace(
            home=urls.home(), responses=urls.responses(), search=urls.named("search"),
            compare=urls.named("compare"), figures=urls.named("figures"), glossary=urls.named("glossary"),
            accessibility=urls.named("accessibility"), css=urls.asset("site.css"), js=urls.asset("site.js"),
            evidence_json=urls.data("evidence.json"), evidence_csv=urls.data("evidence.csv"),
            entity_index={t: urls.entity_index(t) for t in TYPE_ORDER})
        # "Question 1: Strategic direction", as the pages write it; every record page lists the others.
        en = self.common["en"]
        self.common["question_titles"] = {
            q.id: escape(labels["question_title"]).format(n=q.number, title=en(q.title)) for q in self.site.questions}
        self.common["answers_of"] = self.answers_of
        self._answers: dict[tuple[str, str], list[tuple[str, str, Markup]]] = {}
        self.common["fragment"] = self.fragment
        self._fragments: dict[object, Markup] = {}

    def answers_of(self, submission: Submission, body: str) -> list[tuple[str, str, Markup]]:
        """(question id, address, title) of each of a body's answers in a submission, in the
        submission's order of questions: every one of its ten record pages lists the nine others,
        worked out here once for all ten (it was a sixth of a record page's time)."""
        hit = self._answers.get((submission.id, body))
        if hit is None:
            titles = self.common["question_titles"]
            hit = self._answers[(submission.id, body)] = [
                (q, self.urls.record(submission.id, body, q), titles[q]) for q in submission.questions]
        return hit

    def fragment(self, key, caller) -> Markup:
        """``{% call fragment(key) %}…{% endcall %}``: the block's HTML, rendered on the first page
        that gives ``key`` and reused on the others. The site's header and footer (base.html) are
        the same on every page of a kind; rendered on each of them they were a tenth of a record
        page's time. The key must name whatever the block shows that is not the same on every page
        this renderer renders (its site, language and labels are)."""
        html = self._fragments.get(key)
        if html is None:
            html = self._fragments[key] = caller()
        return html

    def render(self, page: Page) -> str:
        html = render_page(self.site, self.env, self.urls, self.labels, page, self.common, self.shared)
        n = views.answer_paragraphs(self.site, page)
        if n is not None and views.in_full(n) and len(html.encode()) > views.PAGE_BUDGET:
            # Few answers, but long: in full, the page passes the budget, so it lists them instead,
            # each linking to its own page, as a page of many answers does.
            listed = replace(page, context={**page.context, "listed": True})
            html = render_page(self.site, self.env, self.urls, self.labels, listed, self.common, self.shared)
        return html

    def generate(self, page: Page) -> Iterator[str]:
        """The page's HTML in pieces, as ``render`` would join them: a page of tens of megabytes is
        written without ever being one string."""
        return render_page(self.site, self.env, self.urls, self.labels, page, self.common, self.shared,
                           stream=True)

    def html(self, page: Page) -> str | Iterator[str]:
        """The page's HTML to write: in pieces (``generate``) for a submission's full response, whose
        length is the submission's, and whole (``render``) for every other page, which the page
        budget keeps small: Jinja joins a page's pieces at C speed, where passing each on through
        ``generate`` cost 5 % of a record page's time."""
        if page.template == "response.html":
            return self.generate(page)
        return self.render(page)


def render_pages(site: Site, env: Environment, urls: Urls, labels: Labels, *,
                 build_date: str | None, languages: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(output path, HTML) for every page; output paths are relative to the site root."""
    renderer = Renderer(site, env, urls, labels, build_date=build_date, languages=languages)
    for rel, page in all_pages(site, urls):
        yield rel, renderer.render(page)


def searched(page: Page, urls: Urls) -> bool:
    """Whether search indexes the page (it carries ``data-pagefind-body``): record, entity and figures
    pages in English only, since the Welsh twins would repeat every result."""
    return page.indexed and urls.lang == DEFAULT_LANGUAGE


def render_page(site: Site, env: Environment, urls: Urls, labels: Labels, page: Page, common: dict,
                shared: views.SharedText | None = None, stream: bool = False):
    text = views.PageText(site, urls, labels, urls.base, shared)
    context = dict(common)
    context.update(page.context)
    context.update({
        "page": page, "urls": urls, "text": text,
        "canonical": absolute(site.config.site_url, page.url, urls.base),
        # The same page in every interface language, absolute (for hreflang) and as a link.
        "alternates": [(lang, absolute(site.config.site_url, in_language(urls, page.url, lang), urls.base),
                        in_language(urls, page.url, lang)) for lang in common["languages"]],
        "indexed": searched(page, urls),
    })
    template = env.get_template(page.template)
    return template.generate(context) if stream else template.render(context)
