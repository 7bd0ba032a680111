"""Fuzzing the loader and validation: whatever lands in the YAML ends in content errors or success.

Property tests (Hypothesis) feed random YAML-ish text and random mutations of the real content
files through the same loading and validation the build runs; the only acceptable outcomes are a
model or ``path:line:col`` content errors, never another exception. Explicit hostile files (an
alias bomb, a 10 MB file, deep nesting, very long lines) run in a subprocess with a memory limit
and a generous timeout, which is only a guard against a hang, not a speed test.
"""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONTENT, ROOT, TEMPLATES

from evidence_site.content import RawFile, classify, content_files, read_content, shown_path
from evidence_site.errors import Collector, ContentError, ContentErrors
from evidence_site.load import LocDict, load_file, parse_text
from evidence_site.schema import FILE_SCHEMAS, check
from evidence_site.validate import validate

HANG_GUARD_S = 60  # per example or per hostile file; only so a hang fails instead of stalling
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_GUARD_S):
    def fire(signum, frame):
        raise Hang(f"no answer within {seconds}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_sound(errors: list[ContentError], text_lines: dict[str, int] | None = None) -> None:
    """Errors an editor can act on: a place in a file, a message, printable."""
    for e in errors:
        assert e.path and e.message.strip(), e
        assert e.line >= 1 and e.col >= 1, e
        if text_lines and e.path in text_lines:
            assert e.line <= text_lines[e.path] + 1, (e, text_lines[e.path])
        assert e.format().startswith(f"{e.path}:{e.line}:{e.col}: error: ")


# --- random documents ----------------------------------------------------------------------------

YAML_BITS = [":", ": ", "- ", "-", "[", "]", "{", "}", ",", "&a ", "*a", "!tag ", "!!str ", "|", "|-", ">", "'",
             '"', "#", "%YAML 1.1\n", "---\n", "...\n", "? ", "@", "`", "\t", "\n", "\n  ", "\n    ", " ",
             "\\", "\x00", "\ufeff", "\u2028", "é", "id", "text", "paragraphs", "page", "null", "~", "yes",
             "0x1F", "1e309", ".inf", "2024-06-01", "<<: ", "=", "\r\n"]

yamlish = st.lists(st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=8)), max_size=60).map("".join)


@FUZZ
@given(text=st.one_of(st.text(max_size=400), yamlish))
def test_any_text_loads_to_a_value_or_to_content_errors(text):
    errors = Collector()
    with hang_guard():
        value = parse_text(text, "fuzz.yaml", errors)
    if value is None:
        assert errors.errors, "nothing returned and no error said why"
    assert_sound(errors.errors, {"fuzz.yaml": len(text.splitlines())})


FIELD_NAMES = sorted({f.name for s in FILE_SCHEMAS.values() for f in s.fields} | {
    f.name for s in FILE_SCHEMAS.values() for f0 in s.fields
    if f0.items is not None and hasattr(f0.items, "fields") for f in f0.items.fields})
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["gwent", "a--b", "../x", "", " ", "[x](javascript:y)"]))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=5)), inner,
                                            max_size=6)),
    max_leaves=40)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(FIELD_NAMES), documents, max_size=6),
       kind=st.sampled_from(sorted(FILE_SCHEMAS)), flow=st.sampled_from([None, True, False]),
       indent=st.integers(2, 6))
def test_any_yaml_document_meets_the_schema_or_gets_content_errors(doc, kind, flow, indent):
    text = yaml.safe_dump(doc, default_flow_style=flow, indent=indent, allow_unicode=True)
    errors = Collector()
    with hang_guard():
        value = parse_text(text, f"{kind}.yaml", errors)
        if isinstance(value, LocDict):
            check(value, FILE_SCHEMAS[kind], errors, [], [])
    assert_sound(errors.errors, {f"{kind}.yaml": len(text.splitlines())})


# --- mutations of the real files -----------------------------------------------------------------

FILES = [p.relative_to(CONTENT).as_posix() for p in content_files(CONTENT)]


@pytest.fixture(scope="module")
def others(tmp_path_factory) -> dict[str, list[RawFile]]:
    """Every real file loaded once; a mutation replaces one of them."""
    errors = Collector()
    raw = read_content(CONTENT, errors)
    assert not errors.errors
    assert validate(raw, Collector()) is not None
    return {rel: [r for r in raw if r.path != shown_path(CONTENT / rel)] for rel in FILES}


ops = st.lists(st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "insert", "bytes", "indent", "dedent", "truncate", "word"]),
    st.integers(0, 10**6), st.integers(0, 10**6),
    st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=6)), st.binary(min_size=1, max_size=4)),
    min_size=1, max_size=4)


def mutate(data: bytes, steps) -> bytes:
    for op, a, b, text, raw in steps:
        lines = data.splitlines(keepends=True) or [b""]
        i, j = a % len(lines), b % len(lines)
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            col = b % (len(lines[i]) + 1)
            lines[i] = lines[i][:col] + text.encode("utf-8", "surrogatepass") + lines[i][col:]
        elif op == "indent":
            lines[i] = b" " * (1 + b % 5) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip(b" ")
        data = b"".join(lines)
        if op == "bytes":
            pos = a % (len(data) + 1)
            data = data[:pos] + raw + data[pos:]
        elif op == "truncate":
            data = data[: a % (len(data) + 1)]
        elif op == "word":  # one word or id for another from the same file: the YAML stays sound
            words = list(re.finditer(rb"[\w][\w-]*", data))
            if words:
                w, other = words[a % len(words)], words[b % len(words)]
                data = data[: w.start()] + other.group() + data[w.end():]
    return data


@settings(FUZZ, max_examples=150)
@given(rel=st.sampled_from(FILES), steps=ops)
def test_a_mutated_real_file_validates_or_gets_content_errors(others, tmp_path_factory, rel, steps):
    data = mutate((CONTENT / rel).read_bytes(), steps)
    file = tmp_path_factory.mktemp("mutant") / rel
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)
    errors = Collector()
    with hang_guard():
        loaded = load_file(file, rel, errors)
        raw = others[rel] + ([RawFile(classify(rel), rel, loaded)] if loaded is not None else [])
        site = validate(raw, errors)
    assert (site is None) == bool(errors.errors), "a model and errors, or neither"
    assert_sound(errors.errors, {rel: len(data.splitlines())})
    if errors.errors:
        with pytest.raises(ContentErrors):
            errors.raise_if_any()


# --- explicit hostile files, in a subprocess -----------------------------------------------------

CHILD = """
import resource, sys
sys.path.insert(0, {src!r})
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from evidence_site.cli import main
rc = main(["check", "--content", sys.argv[1], "--templates", {templates!r}])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
sys.exit(rc)
"""
MEMORY_LIMIT = 2 * 1024**3  # address space of the checking process
MEMORY_BOUND_MB = 700  # what it may actually use


def run_check(content: Path) -> tuple[int, str, float]:
    code = CHILD.format(src=str(ROOT / "src"), templates=str(TEMPLATES), limit=MEMORY_LIMIT)
    r = subprocess.run([sys.executable, "-c", code, str(content)], capture_output=True, text=True,
                       timeout=HANG_GUARD_S * 2, cwd=ROOT)
    m = re.search(r"MAXRSS_KB (\d+)", r.stdout)
    assert m, f"the check died: {r.stderr[-2000:]}"
    return r.returncode, r.stderr, int(m[1]) / 1024


def _record(paragraphs: str) -> str:
    return ("submission: policing-in-wales\nbody: gwent-police\nquestion: strategic-direction\n"
            "paragraphs:\n" + paragraphs)


def _long_prose(size: int) -> str:
    rnd = random.Random(8)
    words = ["the", "force", "**multi-agency**", "child", "exploitation", "[link](https://example.org)", "24^th^",
             "and", "`code`", "CSE", "partnership", "<b>", "&amp;", "_child_", "e.g.", "(see", "below)"]
    out = []
    n = 0
    while n < size:
        w = rnd.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


PARAGRAPH = "responses/policing-in-wales/gwent-police/strategic-direction.yaml"

BILLION_LAUGHS = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
                  + "".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")))

HOSTILE = {
    # name: (file to write under the content copy, its bytes, what the errors must say)
    "alias bomb": ("site.yaml", BILLION_LAUGHS.encode(), "anchors"),
    "10 MB file": ("responses/policing-in-wales/gwent-police/huge.yaml",
                   _record("  - id: huge-01\n    page: 1\n    text: |-\n      " + "word " * (2 * 1024**2) + "\n").encode(),
                   "bytes"),
    "deep flow nesting": ("forces.yaml", b"forces: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", ""),
    "deep flow nesting, unclosed": ("forces.yaml", b"forces: " + b"[" * 10_000 + b"\n", ""),
    "deep mapping nesting": ("forces.yaml", b"forces: " + b"{a: " * 10_000 + b"}" * 10_000 + b"\n", ""),
    "deep block nesting": ("forces.yaml", "".join("  " * i + "a:\n" for i in range(1_010)).encode(), "nesting depth"),  # just past libyaml's 1,000 levels, under the 1 MB cap
    # Appended to a real paragraph, so validation goes on to parse it as Markdown.
    "deep brackets in a paragraph": (PARAGRAPH, "[" * 10_000 + "x" + "](y)" * 10_000, ""),
    "a 1 MB line of prose in a paragraph": (PARAGRAPH, _long_prose(1024**2), ""),
    "a 100 KB line of emphasis and link marks": (PARAGRAPH, "**_[a](" * 15_000, ""),
    "a 1 MB key": ("site.yaml", b"x" * 1024**2 + b": 1\n", ""),
    "a 1 MB plain scalar line": ("site.yaml", b"title: " + b"x " * 512 * 1024 + b"\n", ""),
    "binary noise": ("bodies.yaml", bytes(random.Random(3).randrange(256) for _ in range(200_000)), ""),
    "NUL bytes": ("questions.yaml", b"questions:\n  - id: a\x00b\n", ""),
    "many documents": ("forces.yaml", b"---\na: 1\n" * 50_000, "one YAML document"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_gets_content_errors_within_bounds(tmp_path, name):
    rel, data, expected = HOSTILE[name]
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / rel).parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):  # words added at the end of the first paragraph's text
        text = (content / rel).read_text(encoding="utf-8")
        new = re.sub(r"(\n    text: \|-\n      [^\n]*)", lambda m: m.group(1) + " " + data, text, count=1)
        assert new != text
        data = new.encode("utf-8")
    (content / rel).write_bytes(data)
    rc, stderr, peak_mb = run_check(content)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert rc in (0, 1), stderr[-3000:]
    if rc == 1:
        first = stderr.splitlines()[0]
        assert re.match(r"^\S+\.yaml:\d+:\d+: error: ", first), first
        assert expected in stderr, stderr[:2000]
    else:
        assert not expected, f"{name} was accepted"
    assert peak_mb < MEMORY_BOUND_MB, f"{name}: {peak_mb:.0f} MB"
