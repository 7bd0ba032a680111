"""The markup of the evidence's paragraphs: the part of a page that every page showing evidence repeats.

A paragraph appears on its record page, the full response, its question page and its force page, so
at the scale of an inquiry (100,000 paragraphs) this markup is written some 400,000 times a build.
Written as Jinja macros it was two thirds of the build's time (a macro call costs tens of
microseconds); written here it costs a few. The page templates still decide where the paragraphs go
(``{{ text.html(record.paragraphs, level=2) }}``) and every word shown comes from the labels.

The markup, per block of paragraphs (``views.Block``):

- heading:  ``<div class="para para-heading" id=…><hN>text</hN><span class="para-meta">…</span></div>``
- prose:    ``<div class="para" id=…><span class="para-meta">…</span><p class="para-text">text</p>…notes…</div>``
- list:     ``<ul class="para-list">`` with one ``<li class="para" id=…>`` per item, as prose but with a
            ``<span class="para-text">``

``para-meta`` holds the paragraph's number (a link to the paragraph on its record page where the page
has anchors, plain text elsewhere) and its page label; after the text come the notes (a link shown
without an address, a joint statement) and, where asked, the "cite this" text.

The full response is the reading copy of a whole submission (``reading=True``): each paragraph keeps
its id, number and page label, but as a shorter form of the same markup, ``<span class="para-meta"><b>¶2</b>
p. 5</span>`` and a bare ``<p>`` (or ``<span>``) for the text. Its readers follow each answer's link
to the record page to cite a paragraph. Without the link on every number (the address and label were
two fifths of its weight) a response of 400 paragraphs stays under 150 KB.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Mapping

from markupsafe import Markup, escape

if TYPE_CHECKING:  # views calls this module: the types only, no import cycle
    from .views import Block, ParagraphView


def _esc(text: str) -> str:
    """``markupsafe.escape`` as a plain string; most ids, labels and URLs have nothing to escape (five
    looks for a character, at C speed, cost less than a pattern's search on such short strings)."""
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return str(escape(text))
    return text


def blocks_html(blocks: Iterable[Block], labels: Mapping[str, str], *, anchors: bool = True, cite: bool = True,
                level: int = 3, en_attr: str = "", reading: bool = False) -> Markup:
    """The HTML of ``blocks``, one line per block (and per list item).

    anchors: give each element the paragraph's id and link its number to it (the pages that hold the
      paragraph in its full context: its record page, and the full response for its introduction).
    cite: show the "cite this" text.
    en_attr: ' lang="en"' on a page whose interface is not English, for the elements holding evidence.
    reading: the full response's shorter form (see the module's docstring): ids kept, numbers not
      linked.
    """
    page_n = labels["page_n"]
    out: list[str] = []
    add = out.append
    for b in blocks:
        if b.kind == "heading":
            v = b.items[0]
            ident = f' id="{_esc(v.p.id)}"' if anchors else ""
            add(f'<div class="para para-heading"{ident}><h{level}{en_attr}>{v.html}</h{level}>'
                f'{_meta(v, anchors, labels, page_n, reading)}</div>\n')
        elif b.kind == "list":
            add('<ul class="para-list">\n')
            for v in b.items:
                add(f'{_paragraph(v, "li", anchors, labels, page_n, en_attr, reading)}'
                    f'{_cite(v, labels) if cite else ""}</li>\n')
            add("</ul>\n")
        else:
            v = b.items[0]
            add(f'{_paragraph(v, "div", anchors, labels, page_n, en_attr, reading)}'
                f'{_cite(v, labels) if cite else ""}</div>\n')
    return Markup("".join(out))


def _paragraph(v: ParagraphView, tag: str, anchors: bool, labels: Mapping[str, str], page_n: str,
               en_attr: str, reading: bool) -> str:
    """A prose paragraph (``tag`` "div") or list item ("li") up to its citation, its element left
    open."""
    inner = "p" if tag == "div" else "span"
    ident = f' id="{_esc(v.p.id)}"' if anchors else ""
    text_class = "" if reading else ' class="para-text"'
    return (f'<{tag} class="para"{ident}>{_meta(v, anchors, labels, page_n, reading)}<{inner}{text_class}'
            f'{en_attr}>{v.html}</{inner}>{_notes(v, labels, en_attr)}')


# Page and paragraph numbers repeat thousands of times a build: each label is made (and escaped) once.
@lru_cache(maxsize=4096)
def _page_label(template: str, pages: str) -> str:
    return _esc(template.format(pages=pages))


@lru_cache(maxsize=4096)
def _number_label(template: str, n: int) -> str:
    return _esc(template.format(n=n))


def _meta(v: ParagraphView, link: bool, labels: Mapping[str, str], page_n: str, reading: bool) -> str:
    p = v.p
    if reading:
        if not p.number:
            return f'<span class="para-meta">{_page_label(page_n, p.pages)}</span>'
        return f'<span class="para-meta"><b>¶{p.number}</b> {_page_label(page_n, p.pages)}</span>'
    page = f'<span class="para-page">{_page_label(page_n, p.pages)}</span></span>'
    if not p.number:
        return '<span class="para-meta">' + page
    if link:
        label = _number_label(labels["paragraph_n"], p.number)
        number = f'<a class="para-num" href="{_esc(v.url)}" aria-label="{label}">¶{p.number}</a> '
    else:
        number = f'<span class="para-num">¶{p.number}</span> '
    return '<span class="para-meta">' + number + page


def _notes(v: ParagraphView, labels: Mapping[str, str], en_attr: str) -> str:
    """What follows a paragraph's text: a link shown without an address, a joint statement."""
    out = ""
    if v.dead_link:
        out += f'<p class="para-note">{_esc(labels["no_address_note"])}</p>'
    if v.p.joint_with:
        names = escape(", ".join(v.joint_names))
        if en_attr:  # English names on a page of another language
            names = Markup('<span lang="en">%s</span>') % names
        out += f'<p class="para-note joint">{escape(labels["joint_with"]).format(bodies=names)}</p>'
    return out


def _cite(v: ParagraphView, labels: Mapping[str, str]) -> str:
    summary = labels["cite_label"].format(n=v.p.number) if v.p.number else labels["cite_heading"]
    return f'<details class="cite"><summary>{_esc(summary)}</summary><p class="cite-text">{_esc(v.cite)}</p></details>'
