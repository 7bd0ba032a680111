"""Content loaded on several cores is content loaded in one process: the same model, the same
messages in the same order (src/evidence_site/parallel_load.py).

Each load runs in a fresh Python process, as ``build.py`` runs it (a process with threads, such as
this one once a test server runs, never forks its loading). ``EVIDENCE_SITE_LOAD_SPLIT=always`` makes
even a small folder load in two processes, ``never`` in one; every forked worker is counted, so a
test cannot pass without the split it is about.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONTENT, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus  # noqa: E402

LOAD = r"""
import os, pickle, sys
sys.path.insert(0, {src!r})
from pathlib import Path
from evidence_site import content, errors, parallel_load, validate

forks = []
real_fork = os.fork
def counting_fork():
    pid = real_fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = counting_fork
{patch}
collector = errors.Collector()
raw = content.read_content(Path(sys.argv[1]), collector)
site = validate.validate(raw, collector)
messages = [e.format() for e in collector.errors]  # in the order found, not sorted
sys.stdout.buffer.write(pickle.dumps((site, messages, len(forks))))
"""

# A worker that dies before writing anything, one that dies after handing over its first part, and
# one whose loading raises.
WORKER_DIES = "parallel_load._worker = lambda *args: os._exit(3)"
WORKER_DIES_LATER = """
parts = []
real_run = parallel_load._load_run
def run(jobs, errors, model=True, **kw):
    if not model:  # a worker's part
        parts.append(jobs)
        if len(parts) == 2:
            os._exit(5)
    return real_run(jobs, errors, model, **kw)
parallel_load._load_run = run
"""
WORKER_FAILS = """
real_digest = validate.digest
def digest(f, errors):
    if validate.SHIP_FACTS:  # set in workers only
        raise RuntimeError("a bug met in a worker")
    return real_digest(f, errors)
validate.digest = digest
"""


def load(content: Path, split: str, patch: str = "", cwd: Path = ROOT):
    """(model or None, messages in the order found, workers forked) from a fresh process."""
    env = dict(os.environ, EVIDENCE_SITE_LOAD_SPLIT=split, EVIDENCE_SITE_WORKERS="2")
    result = subprocess.run([sys.executable, "-c", LOAD.format(src=str(ROOT / "src"), patch=patch), str(content)],
                            cwd=cwd, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return pickle.loads(result.stdout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """100 records of the benchmark's corpus (209 files): the split falls among the records."""
    root = tmp_path_factory.mktemp("corpus")
    return bench_corpus.write_ours(bench_corpus.generate(100), root)


@pytest.fixture(scope="module")
def corpus_site(corpus):
    """The corpus's model as one process loads it."""
    site, messages, forks = load(corpus, "never")
    assert forks == 0 and messages == [] and site is not None
    return site


def test_the_real_content_loads_the_same_in_two_processes():
    one, one_messages, one_forks = load(CONTENT, "never")
    two, two_messages, two_forks = load(CONTENT, "always")
    assert (one_forks, two_forks) == (0, 1)
    assert one is not None and one_messages == [] == two_messages
    assert two == one
    assert list(two.paragraph_by_id) == list(one.paragraph_by_id)


def test_a_generated_corpus_loads_the_same_in_two_processes(corpus, corpus_site):
    two, messages, forks = load(corpus, "always")
    assert forks == 1 and messages == []
    assert two == corpus_site and len(two.paragraph_by_id) > 2000


def _break(content: Path, changes: list[tuple[str, str, str]]) -> None:
    for rel, find, replace in changes:
        file = content / rel
        text = file.read_text(encoding="utf-8")
        assert find in text, (rel, find)
        file.write_text(text.replace(find, replace, 1), encoding="utf-8")


def _records(content: Path) -> list[str]:
    return sorted(p.relative_to(content).as_posix() for p in (content / "responses").rglob("*.yaml"))


def test_errors_in_files_loaded_by_different_processes_read_the_same(corpus, tmp_path):
    """Loading and schema errors on both sides of the split, and a paragraph id used first in this
    process's files and again in a worker's: the same messages, same order, same 'first used at'."""
    content = tmp_path / "content"
    shutil.copytree(corpus, content)
    records = _records(content)
    first_id = (content / records[0]).read_text().split("  - id: ", 1)[1].split("\n", 1)[0]
    _break(content, [
        ("bodies.yaml", "    kind: police\n", "    kind: police\n    knd: police\n"),  # unknown key, early
        (records[1], "    page: ", "    page: two\n    pge: "),  # wrong type and unknown key
        (records[len(records) // 2], "paragraphs:\n", "paragraphs:\n\t- id: x\n"),  # tab: not loaded
        (records[-1], "  - id: ", f"  - id: {first_id}\n    page: 1\n    text: |-\n      Again.\n  - id: "),
    ])
    messages = _same_errors_split_or_not(tmp_path, (
        "unknown key 'knd' in a body", "'page' must be a whole number, not text",
        "a tab is used for indentation", f"duplicate paragraph id '{first_id}' (first used at content/{records[0]}:"))
    assert all(m.startswith("content/") and "\n    " in m for m in messages), messages  # line shown


def _same_errors_split_or_not(tmp_path: Path, expected: tuple[str, ...]) -> list[str]:
    """Load tmp_path/content in one process and split over two: the same messages in the same order,
    holding each of ``expected``."""
    one, one_messages, _ = load(Path("content"), "never", cwd=tmp_path)
    two, two_messages, forks = load(Path("content"), "always", cwd=tmp_path)
    assert forks == 1 and one is None and two is None
    assert two_messages == one_messages
    text = "\n".join(one_messages)
    for needle in expected:
        assert needle in text, text
    return one_messages


def test_errors_found_across_files_read_the_same(corpus, tmp_path):
    """Sound files whose paragraphs break the rules that need every file: each paragraph's own
    checks (found where it was loaded) and the submission's sequence (checked here)."""
    content = tmp_path / "content"
    shutil.copytree(corpus, content)
    records = _records(content)
    last = (content / records[-1]).read_text()
    late_id = last.split("  - id: ", 2)[2].split("\n", 1)[0]
    submission = next(f for f in sorted((content / "submissions").glob("*.yaml"))
                      if f"  - {late_id}\n" in f.read_text())  # the one placing that paragraph
    page_line = re.search(r"\n    page: \d+\n(?=    text: )", last).group()  # a paragraph without page_end
    _break(content, [
        (records[-1], page_line, page_line + "    page_end: 1\n"),  # page_end before page
        (records[0], "    text: |-\n      ", "    text: |-\n      [a link](javascript:alert) "),  # refused link
        (submission.relative_to(content).as_posix(), f"  - {late_id}\n", ""),  # not placed in the sequence
    ])
    _same_errors_split_or_not(tmp_path, ("must come after page", "link to 'javascript:alert' is not allowed",
                                         f"paragraph '{late_id}' is not placed in the sequence"))


def test_a_worker_keeps_no_text_of_the_parts_it_has_sent(corpus, corpus_site, tmp_path):
    """A loading worker parses the Markdown of its files' texts and sends it with each part: it
    holds none of a part it has sent while it loads the next (they were a worker's largest holding,
    28 MB at 5,000 records), and the model is as one process loads it."""
    counts = tmp_path / "counts"
    patch = f"""
from evidence_site import markdown
real_run = parallel_load._load_run
def run(jobs, errors, model=True, **kw):
    if not model:  # a worker's part: what it holds of texts as it starts one
        with open({str(counts)!r}, "a") as f:
            f.write(f"{{len(markdown._FACTS)}}\\n")
    return real_run(jobs, errors, model, **kw)
parallel_load._load_run = run
"""
    two, messages, forks = load(corpus, "always", patch)
    assert forks == 1 and messages == [] and two == corpus_site
    held = [int(line) for line in counts.read_text().split()]
    assert len(held) > 2 and set(held) == {0}, held


@pytest.mark.parametrize("patch", [WORKER_DIES, WORKER_DIES_LATER, WORKER_FAILS],
                         ids=["worker-dies", "worker-dies-after-a-part", "worker-fails"])
def test_a_worker_that_dies_or_fails_has_its_files_loaded_here(corpus, corpus_site, patch):
    two, messages, forks = load(corpus, "always", patch)
    assert forks == 1 and messages == []
    assert two == corpus_site


# This process waits, before its own files, until the worker has sent its first part; it counts its
# own files and notes, at each part it takes, how many of them it had loaded.
TAKES_BETWEEN = """
import atexit, select
real_run, real_take, real_one = parallel_load._load_run, parallel_load._take, parallel_load.load_one
real_start = parallel_load._Worker.start
parent = os.getpid()
loaded_here, taken_at, workers = [0], [], []
def start(self):
    real_start(self)
    workers.append(self)
def run(jobs, errors, model=True, **kw):
    if os.getpid() == parent and workers:
        select.select([workers[0].announce_r], [], [], 60)  # its first part is there
    return real_run(jobs, errors, model, **kw)
def one(*args, **kw):
    if os.getpid() == parent:
        loaded_here[0] += 1
    return real_one(*args, **kw)
def take(part, put=None):
    taken_at.append(loaded_here[0])
    return real_take(part, put)
parallel_load._load_run, parallel_load._take, parallel_load.load_one = run, take, one
parallel_load._Worker.start = start
atexit.register(lambda: sys.stderr.write(f"TAKEN {taken_at} OF {loaded_here[0]}\\n"))
"""


def test_the_parts_a_worker_has_sent_are_taken_between_this_processs_own_files(corpus, corpus_site):
    """A worker's parts are taken as they come, between the files this process loads itself, not
    all after them: at the end only the last part is left to take when the worker is done (this
    process takes a few hundredths of a second to make a part into model objects)."""
    env = dict(os.environ, EVIDENCE_SITE_LOAD_SPLIT="always", EVIDENCE_SITE_WORKERS="2")
    result = subprocess.run([sys.executable, "-c", LOAD.format(src=str(ROOT / "src"), patch=TAKES_BETWEEN),
                             str(corpus)], cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    site, messages, forks = pickle.loads(result.stdout)
    assert forks == 1 and messages == [] and site == corpus_site
    taken, own = re.search(r"TAKEN \[([\d, ]*)\] OF (\d+)", result.stderr.decode()).groups()
    taken_at = [int(n) for n in taken.split(",") if n.strip()]
    assert taken_at and min(taken_at) < int(own), (taken_at, own)  # some before its own files were all loaded
