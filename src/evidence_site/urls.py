"""Every internal URL comes from here, so the site works at / and at /repo/ alike.

Pretty URLs: a page at ``forces/gwent/`` is written to ``forces/gwent/index.html``. Interface
languages other than English live under a prefix (``cy/``) with the same paths below it; assets,
data and the search bundle are shared by both.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Entity, Paragraph

TYPE_FOLDERS = {
    "initiative": "initiatives",
    "inspection": "inspections",
    "document": "documents",
    "organisation": "organisations",
}
DEFAULT_LANGUAGE = "en"


def normalise_base(base: str) -> str:
    """'/repo', 'repo/', '/repo/' and '' all become '/repo/' or '/'."""
    base = "/" + base.strip().strip("/")
    return base if base == "/" else base + "/"


@dataclass(frozen=True, slots=True)
class Urls:
    base: str = "/"
    lang: str = DEFAULT_LANGUAGE

    @property
    def root(self) -> str:
        """The interface's home: '/repo/' for English, '/repo/cy/' for Welsh."""
        return self.base if self.lang == DEFAULT_LANGUAGE else f"{self.base}{self.lang}/"

    def page(self, rel: str) -> str:
        """The URL of a site-relative page path such as 'forces/gwent/' ('' is home)."""
        return self.root + rel

    def home(self) -> str:
        return self.page("")

    def responses(self) -> str:
        """The index of every submission (built when the site holds more than one)."""
        return self.page("responses/")

    def response(self, submission: str) -> str:
        return self.page(f"responses/{submission}/")

    def record(self, submission: str, body: str, question: str) -> str:
        return self.page(f"responses/{submission}/{body}/{question}/")

    def paragraph(self, p: Paragraph) -> str:
        return self.paragraph_page(p) + "#" + p.id

    def paragraph_page(self, p: Paragraph) -> str:
        """The page a paragraph is on: its record's, or its submission's for an introduction."""
        if p.body is None or p.question is None:
            return self.response(p.submission)
        return self.record(p.submission, p.body, p.question)

    def force(self, force: str) -> str:
        return self.page(f"forces/{force}/")

    def question(self, question: str, part: int = 1) -> str:
        """A question's page; a question answered in very many submissions lists them over several
        parts (``views.QUESTION_PART_SIZE``): 'questions/q/', then 'questions/q/2/', …"""
        return self.page(f"questions/{question}/" if part == 1 else f"questions/{question}/{part}/")

    def entity_index(self, type_: str) -> str:
        return self.page(f"{TYPE_FOLDERS[type_]}/")

    def entity(self, e: Entity) -> str:
        return self.page(f"{TYPE_FOLDERS[e.type]}/{e.id}/")

    def named(self, name: str) -> str:
        """Single pages: glossary, figures, compare, search, about, accessibility."""
        return self.page(f"{name}/")

    # Shared by every interface language.
    def asset(self, name: str) -> str:
        return f"{self.base}static/{name}"

    def data(self, name: str) -> str:
        return f"{self.base}data/{name}"

    def pagefind(self) -> str:
        return f"{self.base}pagefind/"

    def in_language(self, lang: str) -> "Urls":
        return Urls(self.base, lang)

    def output_path(self, url: str) -> str:
        """The file a page URL is written to, relative to the output folder."""
        assert url.startswith(self.base), url
        rel = url[len(self.base):].split("#", 1)[0]
        return rel + "index.html" if rel == "" or rel.endswith("/") else rel


def absolute(site_url: str, url: str, base: str) -> str:
    """An absolute URL for citations, canonical links and the sitemap: the site URL plus the path below
    the base ('/repo/forces/gwent/' with base '/repo/' → 'https://owner.github.io/repo/forces/gwent/').

    The site URL may have its own path (or none, for a custom domain), with or without a trailing slash.
    """
    if not url.startswith(base):
        raise ValueError(f"{url!r} is not under the base path {base!r}")
    return site_url.rstrip("/") + "/" + url[len(base):]
