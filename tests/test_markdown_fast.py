"""Texts of plain words, bold runs and links get their tokens without markdown-it (``_simple_compact``):
the same tokens markdown-it makes, field by field, or none at all (markdown-it then parses the text).

Checked on every text of the real content, of the benchmark's corpus, and on thousands of texts made
from the pieces where markdown-it's rules turn on a single character: runs of one, two or three
asterisks beside spaces, letters and punctuation, brackets and parentheses with and without a link
between them, addresses markdown-it refuses or rewrites.
"""

from __future__ import annotations

import random
import sys

import pytest

from conftest import CONTENT, ROOT
from evidence_site import markdown, pipeline

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus  # noqa: E402

FIELDS = ("type", "tag", "nesting", "attrs", "map", "level", "children", "content", "markup", "info", "meta",
          "block", "hidden")


def markdown_its(text: str) -> list[tuple]:
    found = markdown.MD.parseInline(text)
    return [tuple(getattr(t, f) for f in FIELDS) for t in (found[0].children or [])] if found else []


def fast(text: str) -> list[tuple] | None:
    made = markdown._simple_compact(text)
    return None if made is None else [tuple(getattr(t, f) for f in FIELDS) for t in markdown._rebuild(made)]


def facts_from_markdown_it(text: str) -> tuple:
    """A text's facts read from markdown-it's own tokens, as ``markdown._facts`` read them before it
    read them from the fields of the fast path's tokens."""
    toks = markdown.MD.parseInline(text)
    toks = tuple(toks[0].children or ()) if toks else ()
    hrefs = tuple(t.attrGet("href") or "" for t in toks if t.type == "link_open")
    plain = "".join(t.content for t in toks if t.type in ("text", "code_inline", "text_special"))
    live = markdown._drop_dead_links(list(toks))
    runs = tuple(live[i].content for i in markdown._linkable_text_indexes(live))
    return hrefs, plain, runs, markdown._compact(toks)


def agrees(text: str) -> bool:
    """True when the fast path made tokens (they must be markdown-it's); False when it left the text.
    Either way, the facts validation and rendering read of the text must be those of markdown-it's
    tokens."""
    markdown._FACTS.pop(text, None)
    facts = markdown._facts(text)
    assert (facts.hrefs, facts.plain, facts.runs, facts.compact) == facts_from_markdown_it(text), text
    toks = markdown.MD.parseInline(text)
    toks = list(toks[0].children or ()) if toks else []
    dead = any(t.type == "link_open" and t.attrGet("href") == markdown.DEAD_LINK for t in toks)
    rendered = markdown.MD.renderer.render(markdown._drop_dead_links(toks), markdown.MD.options, {})
    prep = markdown.prepare(text)  # written without markdown-it's renderer when it can be
    assert (prep.html, prep.dead_link) == (rendered, dead), text
    made = fast(text)
    if made is None:
        return False
    assert made == markdown_its(text), text
    return True


def test_every_text_of_the_content_agrees_with_markdown_it():
    site = pipeline.load_site(CONTENT)
    texts = [p.text for p in site.paragraph_by_id.values() if not markdown.is_plain(p.text)]
    taken = [t for t in texts if agrees(t)]
    assert taken, "the real response's bold words and links should need no parser"


def test_every_text_of_the_benchmark_agrees_and_most_need_no_parser(tmp_path):
    bench_corpus.write_ours(bench_corpus.generate(100), tmp_path)
    site = pipeline.load_site(tmp_path / "content")
    texts = [p.text for p in site.paragraph_by_id.values() if not markdown.is_plain(p.text)]
    taken = [t for t in texts if agrees(t)]
    assert len(taken) >= 0.9 * len(texts) > 100


PIECES = ["word", "Word", "w0rd", "2024", "’quoted’", "é", "-", "–", ".", ",", ";", ":", "?", "'", '"', "(", ")",
          "/", " ", " ", " ", "  ", "\t", "*", "**", "***", "****", "_", "[", "]", "](", "[a]", "[link text]",
          "(https://example.org/a)", "(#)", "(/local/page)", "(https://example.org/a b)", "(javascript:alert(1))",
          "(mailto:x@example.org)", "(ftp://example.org)", "(HTTPS://Example.org/%zz)", "(https://ex.org/ü)",
          "(https://example.org/a_b?c=d#e)", "(<https://example.org>)", '(https://example.org "title")', "&amp;",
          "\\*", "`", "^", "!", "<", ">", "\n"]


def test_generated_texts_agree_with_markdown_it():
    rng = random.Random(2026)
    taken = 0
    for _ in range(20000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        taken += agrees(text)
    shapes = ["**{a}** {b}", "{a} **{b}**", "{a} **{b}**{c}", "[{a}]({u}) {b}", "{a} [{b}]({u}){c}",
              "**{a}** [{b}]({u}) **{c}**", "{a}**{b}**", "**{a}**{b}", "** {a}**", "**{a} **", "[**{a}**]({u})",
              "**[{a}]({u})**", "{a} **{b} [{c}]({u})**", "[{a}]({u})**{b}**", "({a}) **{b}**."]
    words = ["a", "two words", "it's", "end.", "(x)", "3", "A-b", " lead", "trail ", "x,y", "é", "a/b", ""]
    addresses = ["https://example.org/x", "#", "/p/", "http://a.b/c?d=e", "javascript:x", "./rel", "", "a b"]
    for _ in range(20000):
        text = rng.choice(shapes).format(a=rng.choice(words), b=rng.choice(words), c=rng.choice(words),
                                         u=rng.choice(addresses))
        taken += agrees(text)
    assert taken > 5000  # the fast path is taken often enough for the comparison to mean something


@pytest.mark.parametrize("text", ["**a**", "a **b**", "**a** b", "[a](https://example.org)", "x [a](#) y",
                                  "**a**, **b** and [c](/d/).", "a **b** (c) [d](mailto:e@example.org)"])
def test_the_plain_forms_need_no_parser(text):
    assert agrees(text)


@pytest.mark.parametrize("text", ["a**b**c", "**a**b", "** a**", "*a*", "***a***", "__a__", "[a](b c)",
                                  "[a](javascript:x)", "[a]", "[a](<b>)", '[a](b "t")', "a\\*b", "**a\nb**"])
def test_other_forms_are_left_to_markdown_it(text):
    assert fast(text) is None


ADDRESS_PIECES = ["https://", "http://", "HTTPS://", "Http://", "mailto:", "ftp://", "//", "/", "/\\", "", "example.org",
                  "EXAMPLE.org", "a-b.c", "1.2.3.4", "xn--bcher-kva.example", "bücher.example", "ex.org:8080", "[::1]",
                  "user@", "/", "/", "path", "Path_2", "a.b", "..", "~x", "-", "?", "?q=1&r=2", "#", "#Frag", "%20",
                  "%zz", "%", " ", "(", ")", "'", "*", "!", "$", ",", ";", ":", "@", "+", "=", "&", "é", "\\", "|", "^"]


def test_addresses_written_as_they_are_are_those_markdown_it_writes_as_they_are():
    """The addresses ``_href`` takes as written without asking markdown-it (``_AS_WRITTEN``) are ones
    markdown-it's normalizeLink returns unchanged; it is asked about every other."""
    rng = random.Random(9)
    taken = 0
    for _ in range(30000):
        start = rng.choice(["", "https://example.org", "http://a-b.c", "/", "https://ex.org/"])
        address = start + "".join(rng.choice(ADDRESS_PIECES) for _ in range(rng.randint(0, 6)))
        if markdown._AS_WRITTEN.fullmatch(address):
            taken += 1
            assert markdown.MD.normalizeLink(address) == address, address
    for address in ["https://example.org", "https://example.org/a/b.html", "/local/page/", "https://a.b?x=1#y",
                    "https://example.org/force-001/question-01/4"]:
        assert markdown._AS_WRITTEN.fullmatch(address), address
        assert markdown.MD.normalizeLink(address) == address
    for address in ["https://Example.org/", "https://ex.org:80/", "//host/x", "/\\host", "https://ex.org/a b",
                    "https://ex.org/%41", "https://bücher.example/", "mailto:a@b.c", "javascript:x"]:
        assert not markdown._AS_WRITTEN.fullmatch(address), address
    assert taken > 3000
