"""Paragraph text → HTML, without changing a word of it.

markdown-it-py parses inline Markdown only (a paragraph's text is never turned into a list or a
heading by accident), with raw HTML off and the typographer off. Three transformations act on the
token stream, never on the text: links the conversion lost (``[text](#)``) become plain text,
mentioned words become links to the entity's page, and the first use of an acronym on a page
becomes ``<abbr title>``.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.superscript import superscript_plugin

ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
DEAD_LINK = "#"


def _validate_link(url: str) -> bool:
    u = url.strip().lower()
    # "/path" is a site link; "//host" and "/\host" are another site's, whatever they look like.
    site_link = u.startswith("/") and not u.startswith(("//", "/\\"))
    return u == DEAD_LINK or u.startswith(ALLOWED_SCHEMES) or site_link


def build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False, "linkify": False})
    md.use(superscript_plugin)
    md.validateLink = _validate_link
    return md


MD = build_markdown()


# Characters that can begin inline syntax for the rules this parser runs (escape, backticks,
# emphasis, links, images, autolinks, entities, line breaks, superscript), or that the core rewrites
# (CR, NUL). Text with none of them parses to one text token holding the text as it is, so most
# paragraphs need no parse at all (tests/test_cache.py checks this against markdown-it itself).
_SYNTAX_CHARACTERS = "\\`*_[]!<>&^\n\r\x00"
_SYNTAX = re.compile("[" + re.escape(_SYNTAX_CHARACTERS) + "]")


def is_plain(text: str) -> bool:
    """True when the text holds no Markdown: it renders as itself, HTML-escaped."""
    return _SYNTAX.search(text) is None


@lru_cache(maxsize=4096)
def _parse_markdown(text: str) -> tuple[Token, ...]:
    tokens = MD.parseInline(text)
    return tuple(tokens[0].children or ()) if tokens else ()


def _parse(text: str) -> tuple[Token, ...]:
    """The inline tokens of a text. Shared and never changed in place: copy before changing one."""
    if text and is_plain(text):
        return (Token("text", "", 0, content=text),)
    simple = _simple_compact(text)
    return tuple(_rebuild(simple)) if simple is not None else _parse_markdown(text)


# --- the common case without the parser ------------------------------------------------------------
#
# Most texts with Markdown in them hold nothing but bold words and links, written the plain way:
# "a **few words** and [a link](https://example.org/page)". markdown-it-py takes 0.1 ms to parse
# one: a third of a large inquiry's loading. ``_simple_compact`` makes the very tokens markdown-it
# makes for such a text, as ``_compact`` keeps them, (tests/test_markdown_fast.py compares them on every text of the content, of
# the benchmark's corpus and on many thousands of generated ones) and gives up, leaving the text to
# markdown-it, on anything else: any other syntax character, a bold run that could both open and
# close (the rules of left- and right-flanking runs), a link with a title, a bracket, a space or a
# parenthesis in its address, or an address markdown-it would refuse.

_SPECIAL = frozenset(_SYNTAX_CHARACTERS)
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_AFTER_BOLD = frozenset(" .,;:?'\")(/-")  # may follow a closing "**": none can begin another run
_ADDRESS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:.-~%?=#+_,;@")


# An address markdown-it writes as it is: http(s) with a lowercase ASCII host and no port, or a site
# path, of letters, digits and "/._~-" (a query and a fragment of those and "=&"). normalizeLink
# parses it into parts, finds nothing to encode in any and joins them again: 50 µs an address
# (tests/test_markdown_fast.py compares the two on many thousands of addresses).
_AS_WRITTEN = re.compile(r"(?:https?://[a-z0-9.-]+(?:/[A-Za-z0-9/._~-]*)?|/(?![/\\])[A-Za-z0-9/._~-]*)"
                         r"(?:\?[A-Za-z0-9=&._~-]*)?(?:#[A-Za-z0-9._~-]*)?")


@lru_cache(maxsize=4096)
def _href(address: str) -> str | None:
    """A link's address as markdown-it writes it (normalizeLink), None when it refuses it (validateLink)."""
    href = address if _AS_WRITTEN.fullmatch(address) else MD.normalizeLink(address)
    return href if MD.validateLink(href) else None


def _simple_compact(text: str) -> tuple[tuple, ...] | None:
    """markdown-it's inline tokens for a text of plain runs, ``**bold**`` and ``[links](address)``,
    in ``_compact``'s form (made without making a Token: ``_rebuild`` makes them), or None for any
    other text."""
    raw: list[tuple[str, str]] = []  # markdown-it's tokens before it joins neighbouring texts: (kind, value)
    n = len(text)
    start = pos = 0
    search = _SYNTAX.search
    while pos < n:
        found = search(text, pos)  # on to the next syntax character, at C speed
        if found is None:
            break
        pos = found.start()
        ch = text[pos]
        if pos > start:
            raw.append(("text", text[start:pos]))
        if ch == "*":
            # An opening "**": at the start or after a space, before a letter or digit (so it can
            # only open); its closing "**" after a letter or digit, before a space, the end or
            # punctuation that begins nothing (so it can only close); plain words between.
            end = text.find("**", pos + 2)
            if (not text.startswith("**", pos) or (pos and text[pos - 1] != " ") or end < 0
                    or text[pos + 2] not in _ALNUM or text[end - 1] not in _ALNUM
                    or (end + 2 < n and text[end + 2] not in _AFTER_BOLD)
                    or not _SPECIAL.isdisjoint(text[pos + 2:end])):
                return None
            raw += [("text", ""), ("strong_open", ""), ("text", text[pos + 2:end]), ("strong_close", ""),
                    ("text", "")]
            pos = end + 2
        elif ch == "[":
            close = text.find("]", pos + 1)
            paren = text.find(")", close + 2) if close > 0 else -1
            if close < 0 or paren < 0 or close == pos + 1 or text[close + 1:close + 2] != "(" or paren == close + 2:
                return None
            label, address = text[pos + 1:close], text[close + 2:paren]
            if not _SPECIAL.isdisjoint(label) or not _ADDRESS.issuperset(address):
                return None
            href = _href(address)
            if href is None:
                return None  # markdown-it leaves it as text
            raw += [("link_open", href), ("text", label), ("link_close", "")]
            pos = paren + 1
        else:
            return None
        start = pos
    if n > start:
        raw.append(("text", text[start:n]))
    # markdown-it's last step (fragments_join): neighbouring texts joined, levels counted. Each
    # token as _compact keeps it: type, tag, nesting, attrs, level, content, markup, info, meta,
    # block, hidden.
    out: list[tuple] = []
    level = 0
    for kind, value in raw:
        if kind == "text":
            if out and out[-1][0] == "text":
                out[-1] = ("text", "", 0, None, out[-1][4], out[-1][5] + value, "", "", None, False, False)
            else:
                out.append(("text", "", 0, None, level, value, "", "", None, False, False))
        elif kind == "strong_open":
            out.append(("strong_open", "strong", 1, None, level, "", "**", "", None, False, False))
            level += 1
        elif kind == "strong_close":
            level -= 1
            out.append(("strong_close", "strong", -1, None, level, "", "**", "", None, False, False))
        elif kind == "link_open":
            out.append(("link_open", "a", 1, (("href", value),), level, "", "", "", None, False, False))
            level += 1
        else:
            level -= 1
            out.append(("link_close", "a", -1, None, level, "", "", "", None, False, False))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What validation, the glossary and rendering ask of a text with Markdown in it, kept small so
    every paragraph's can be remembered: one parse per text and build answers all of them."""

    hrefs: tuple[str, ...]  # targets of the links markdown-it made
    plain: str  # the words a reader sees
    runs: tuple[str, ...]  # text outside links, after dead links are dropped (where mentions can be)
    compact: tuple[tuple, ...] | None  # the tokens' fields, to rebuild them without parsing again


# Each text's facts: parsed here, or taken (``remember_facts``) from a loading worker or the cache's
# digests, where they stay pickled until a text's facts are first asked for (``_known``): a rebuild
# takes every paragraph's from the cache and reads only those of the few pages it renders.
_FACTS: dict[str, _Facts | bytes] = {}
_FACTS_MAX = 300_000


def _compact(toks: tuple[Token, ...]) -> tuple[tuple, ...] | None:
    if any(t.children or t.map for t in toks):
        return None  # images carry child tokens: parse those again rather than rebuild them
    return _fields(toks)


def _fields(toks: tuple[Token, ...]) -> tuple[tuple, ...]:
    """Each token's own fields, as ``_compact`` keeps them (without its children, if any)."""
    return tuple((t.type, t.tag, t.nesting, tuple(t.attrs.items()) if t.attrs else None, t.level, t.content,
                  t.markup, t.info, tuple(t.meta.items()) if t.meta else None, t.block, t.hidden) for t in toks)


def _rebuild(compact: tuple[tuple, ...]) -> list[Token]:
    return [Token(type_, tag, nesting, attrs=dict(attrs) if attrs else {}, level=level, content=content,
                  markup=markup, info=info, meta=dict(meta) if meta else {}, block=block, hidden=hidden)
            for type_, tag, nesting, attrs, level, content, markup, info, meta, block, hidden in compact]


def _known(text: str) -> _Facts | None:
    """The facts of a text parsed or remembered before, or None. Packed facts are unpacked for the
    caller and kept packed (two microseconds each time; a text's facts are read a few times a
    build, and unpacked they take three times the memory, in every process reading them)."""
    hit = _FACTS.get(text)
    if hit.__class__ is bytes:
        try:
            return _Facts(*pickle.loads(hit))
        except Exception:  # noqa: BLE001 - unreadable (never seen): the text is parsed again instead
            del _FACTS[text]
            return None
    return hit


def _facts(text: str) -> _Facts:
    hit = _known(text)
    if hit is not None:
        return hit
    _PARSED[0] += 1
    compact = _simple_compact(text) if text and not is_plain(text) else None
    fields = compact
    if compact is None:  # plain, or left to markdown-it
        toks = _parse(text)
        compact = _compact(toks)
        fields = compact if compact is not None else _fields(toks)
    hrefs, plain, runs = _read_facts(fields)
    if len(_FACTS) >= _FACTS_MAX:
        _FACTS.clear()
    hit = _FACTS[text] = _Facts(hrefs, plain, runs, compact)
    return hit


def _href_of(fields: tuple) -> str:
    """A link_open token's href, from its fields (``_fields``)."""
    return next((value for name, value in fields[3] if name == "href"), "") if fields[3] else ""


def _live(fields: tuple[tuple, ...]):
    """The tokens' fields as ``_drop_dead_links`` leaves the tokens (a dead link's opening and
    closing tokens gone, its words kept), each with whether it lies inside a live link (as
    ``_linkable_text_indexes`` counts)."""
    depth = dead = 0
    for f in fields:
        kind = f[0]
        if kind == "link_open":
            if _href_of(f) == DEAD_LINK:
                dead += 1
                continue
            depth += 1
        elif kind == "link_close":
            if dead:
                dead -= 1
                continue
            depth -= 1
        yield f, depth > 0


def _read_facts(fields: tuple[tuple, ...]) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """``_Facts``' hrefs, plain and runs from the tokens' fields, without making a token: the
    targets of the links; the text of the text tokens (code spans' too); and the text outside
    live links once dead links are dropped (``_live``; a dead link's words make a run of their own)."""
    hrefs = tuple(_href_of(f) for f in fields if f[0] == "link_open")
    plain = "".join([f[5] for f in fields if f[0] in ("text", "code_inline", "text_special")])
    runs = tuple([f[5] for f, inside in _live(fields) if f[0] == "text" and not inside])
    return hrefs, plain, runs


_PARSED = [0]  # texts parsed (not found in _FACTS) since the process started


def remember_facts(facts: dict[str, bytes]) -> None:
    """Take parsed facts found by a loading worker or kept in the cache's digests (text -> ``packed``
    facts), unpacked when asked for (``_known``); those of texts parsed here too, packed for the
    cache, are kept packed from now on (see ``_known``)."""
    _FACTS.update(facts)


def forget_facts() -> None:
    """Forget every text's facts: a loading worker, once it has sent those of a part of its files
    (they were a loading worker's largest holding, 28 MB at 5,000 records)."""
    _FACTS.clear()


def packed_facts(text: str) -> bytes | None:
    """The facts of a text parsed or remembered before, packed as a loading worker sends them and
    the cache's digests keep them (the fields of ``_Facts``, pickled), or None."""
    hit = _FACTS.get(text)
    if hit is None or hit.__class__ is bytes:
        return hit
    return pickle.dumps((hit.hrefs, hit.plain, hit.runs, hit.compact), protocol=pickle.HIGHEST_PROTOCOL)


def parsed_count() -> int:
    return _PARSED[0]


def _render_tokens_of(text: str) -> list[Token]:
    """Tokens to render a text from: its own list, never shared."""
    if text and is_plain(text):
        return [Token("text", "", 0, content=text)]
    hit = _known(text)
    if hit is not None and hit.compact is not None:
        return _rebuild(hit.compact)
    return list(_parse(text))


def tokens(text: str) -> list[Token]:
    """A fresh copy of the inline tokens (the cache holds the parsed originals)."""
    return [t.copy() for t in _parse(text)]


def links(text: str) -> list[str]:
    """Every link target written in the text, as Markdown wrote it (including refused ones)."""
    if is_plain(text):
        return []  # no "]" and no "<": neither pattern below can match
    found = list(_facts(text).hrefs)
    # markdown-it leaves a refused link as literal text: find those too so validation can name them.
    # The closing ")" or ">" is optional in the pattern and checked after, so a search that finds
    # none goes on after the run it read instead of rereading it from every "](" (quadratic on
    # hostile text such as "[a](" repeated).
    found += [m[1] for m in _MD_TARGET.finditer(text) if m[2]]
    found += [m[1] for m in _AUTOLINK.finditer(text) if m[2]]
    return found


_MD_TARGET = re.compile(r"\]\(([^)\s]+)(\)?)")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)(>?)")


def refused_links(text: str) -> list[str]:
    return sorted({u for u in links(text) if not _validate_link(u)})


def has_dead_link(text: str) -> bool:
    return any(t.type == "link_open" and t.attrGet("href") == DEAD_LINK for t in _parse(text))


def _drop_dead_links(toks: list[Token]) -> list[Token]:
    out: list[Token] = []
    dead_depth = 0
    for t in toks:
        if t.type == "link_open" and t.attrGet("href") == DEAD_LINK:
            dead_depth += 1
            continue
        if t.type == "link_close" and dead_depth:
            dead_depth -= 1
            continue
        out.append(t)
    return out


def _linkable_text_indexes(toks: list[Token]) -> list[int]:
    """Indexes of text tokens that are not already inside a link."""
    depth = 0
    out = []
    for i, t in enumerate(toks):
        if t.type == "link_open":
            depth += 1
        elif t.type == "link_close":
            depth -= 1
        elif t.type == "text" and depth == 0:
            out.append(i)
    return out


def plain_text(text: str) -> str:
    """The words a reader sees, without Markdown marks."""
    if is_plain(text):
        return text
    return _facts(text).plain


def unmatched_mentions(text: str, phrases: list[str]) -> list[str]:
    """Phrases that do not occur inside one run of plain text outside a link (so cannot be linked)."""
    if is_plain(text):
        return [p for p in phrases if p not in text]
    runs = _facts(text).runs
    return [p for p in phrases if not any(p in run for run in runs)]


def _split(tok: Token, start: int, end: int, open_tokens: list[Token], close_tokens: list[Token]) -> list[Token]:
    before, middle, after = tok.content[:start], tok.content[start:end], tok.content[end:]
    out: list[Token] = []
    if before:
        out.append(Token("text", "", 0, content=before))
    out.extend(open_tokens)
    out.append(Token("text", "", 0, content=middle))
    out.extend(close_tokens)
    if after:
        out.append(Token("text", "", 0, content=after))
    return out


def _link(toks: list[Token], phrase: str, url: str) -> list[Token]:
    for i in _linkable_text_indexes(toks):
        pos = toks[i].content.find(phrase)
        if pos >= 0:
            opener = Token("link_open", "a", 1, attrs={"href": url, "class": "mention"})
            closer = Token("link_close", "a", -1)
            return toks[:i] + _split(toks[i], pos, pos + len(phrase), [opener], [closer]) + toks[i + 1:]
    return toks


def acronym_pattern(terms) -> re.Pattern[str] | None:
    terms = sorted(set(terms), key=len, reverse=True)
    if not terms:
        return None
    # Each term, not preceded (tested after it, by a look-behind of the term's own width) nor followed
    # by a letter, digit, _ or -: the same matches as a look-behind in front, but the search can
    # skip to where a term begins instead of trying the look-behind at every character.
    return re.compile("(" + "|".join(re.escape(t) + r"(?<![\w-]" + re.escape(t) + ")" for t in terms)
                      + r")(?![\w-])")


def _abbr(toks: list[Token], pattern: re.Pattern[str] | None, expansions: dict[str, str], seen: set[str]) -> list[Token]:
    if pattern is None:
        return toks
    out: list[Token] = []
    for t in toks:
        if t.type != "text":
            out.append(t)
            continue
        rest = t
        while True:
            m = next((m for m in pattern.finditer(rest.content) if m.group(1) not in seen), None)
            if m is None:
                out.append(rest)
                break
            term = m.group(1)
            seen.add(term)
            opener = Token("html_inline", "", 0, content=f'<abbr title="{escape(expansions[term])}">')
            closer = Token("html_inline", "", 0, content="</abbr>")
            pieces = _split(rest, m.start(1), m.end(1), [opener], [closer])
            if m.end(1) < len(rest.content):
                out.extend(pieces[:-1])
                rest = pieces[-1]
            else:
                out.extend(pieces)
                break
    return out


@dataclass(slots=True)
class Prepared:
    """One text rendered once for every page that shows it.

    ``html`` is the text with dead links dropped and mentions linked, and no acronym expanded.
    Whether an acronym is expanded depends on the page (its first use on the page is): the
    acronyms that could be (``candidates``) and the tokens to expand them in are kept, and each
    page state met (which of the candidates the page has already expanded) is rendered once, in
    ``variants``, with the acronyms it adds to the page's set.
    """

    html: str
    dead_link: bool
    candidates: frozenset[str]
    toks: tuple[Token, ...] | None
    variants: dict[frozenset[str], tuple[str, frozenset[str]]]


def _render_tokens(toks) -> str:
    return MD.renderer.render(toks, MD.options, {})


def _direct_html(fields: tuple[tuple, ...]) -> str | None:
    """What markdown-it's renderer writes for tokens of text, bold and links (given by their fields,
    ``_fields``), dead links dropped (``_live``); None for any other token. The renderer writes a
    text escaped, ``<strong>``, and ``<a`` with each attribute escaped."""
    out: list[str] = []
    for f, _ in _live(fields):
        kind = f[0]
        if kind == "text":
            out.append(escapeHtml(f[5]))
        elif kind == "strong_open":
            out.append("<strong>")
        elif kind == "strong_close":
            out.append("</strong>")
        elif kind == "link_open":
            out.append("<a" + "".join([f' {name}="{escapeHtml(str(value))}"' for name, value in f[3] or ()]) + ">")
        elif kind == "link_close":
            out.append("</a>")
        else:
            return None
    return "".join(out)


def prepare(text: str, mention_urls=(), abbr: tuple[re.Pattern[str] | None, dict[str, str]] | None = None) -> Prepared:
    """Parse and render a text once: dead links dropped, mentions linked; see ``Prepared``."""
    if not mention_urls and text and is_plain(text) and (
            abbr is None or abbr[0] is None or abbr[0].search(text) is None):
        # Most paragraphs: one text token, rendered by markdown-it as the text HTML-escaped, in which
        # _abbr's pattern finds no acronym to expand on any page.
        return Prepared(escapeHtml(text), False, frozenset(), None, {})
    hit = _known(text) if not mention_urls else None
    if hit is not None and hit.compact is not None and (
            abbr is None or abbr[0] is None or not any(term in hit.plain for term in abbr[1])):
        # Most of the rest: bold words and links, nothing to link and no acronym to expand (so no
        # tokens to keep for a page's variants; ``plain`` holds every text token's words, in links
        # too), written without making a token.
        html = _direct_html(hit.compact)
        if html is not None:
            return Prepared(html, DEAD_LINK in hit.hrefs, frozenset(), None, {})
    toks = _render_tokens_of(text)
    dead = any(t.type == "link_open" and t.attrGet("href") == DEAD_LINK for t in toks)
    toks = _drop_dead_links(toks)
    for phrase, url in mention_urls:
        toks = _link(toks, phrase, url)
    candidates: frozenset[str] = frozenset()
    if abbr is not None and abbr[0] is not None:
        # Every term written anywhere in a text token: _abbr can only ever match one of these, so
        # its output depends on the page's set of expanded acronyms only through them.
        words = "\0".join([t.content for t in toks if t.type == "text"])  # no term holds a NUL
        candidates = frozenset([term for term in abbr[1] if term in words])
    return Prepared(_render_tokens(toks), dead, candidates, tuple(toks) if candidates else None, {})


def expand(prep: Prepared, abbr: tuple[re.Pattern[str] | None, dict[str, str]] | None, seen: set[str]) -> str:
    """The prepared text's HTML on a page that has already expanded ``seen`` (updated in place)."""
    if not prep.candidates or abbr is None:
        return prep.html
    key = prep.candidates & seen if seen else frozenset()
    if key == prep.candidates:
        return prep.html  # nothing left to expand: _abbr would change nothing
    hit = prep.variants.get(key)
    if hit is None:
        local = set(key)
        html = _render_tokens(_abbr(list(prep.toks or ()), abbr[0], abbr[1], local))
        hit = (html, frozenset(local - key))
        prep.variants[key] = hit
    seen |= hit[1]
    return hit[0]
