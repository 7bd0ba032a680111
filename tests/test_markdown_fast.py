"""Texts of plain words, bold runs and links get their tokens without markdown-it (``_simple_tokens``):
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
    made = markdown._simple_tokens(text)
    return None if made is None else [tuple(getattr(t, f) for f in FIELDS) for t in made]


def agrees(text: str) -> bool:
    """True when the fast path made tokens (they must be markdown-it's); False when it left the text."""
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
