"""Load and check the content files on every core.

Loading is file by file: read, parse the YAML, check it against its schema, run each paragraph's
own checks (Markdown parsed once here) and keep a compact digest (``validate.digest``); only the
checks across files need everything at once. A large content folder is cut, in content order, into
one run of files per process, balanced by size; this process forks a worker for each run but the
last, loads the last itself, then takes each worker's digests and messages through a pipe. The
digests are plain values (paragraphs as tuples, marks packed into ints) because unpickling model
objects costs more than making them here. Messages keep the content order whatever the cut, so the
result is that of one process (tests/test_load_parallel.py checks both ways give equal models and
equal messages).

Falls back to this process alone for a small folder (a fork and a pipe cost more than they save),
when fork is unavailable, when the process runs other threads (``serve``: a fork would copy their
locks), with EVIDENCE_SITE_WORKERS=1, or with EVIDENCE_SITE_LOAD_SPLIT=never;
EVIDENCE_SITE_LOAD_SPLIT=always splits whatever the size (for tests). A worker that fails or dies
has its files loaded again here, so an error reads as it would from one process.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import threading
from pathlib import Path

from . import validate
from .content import RawFile
from .errors import ContentError, Collector
from .load import load_file

WORKERS_ENV = "EVIDENCE_SITE_WORKERS"  # shared with page rendering (parallel.py)
SPLIT_ENV = "EVIDENCE_SITE_LOAD_SPLIT"
# Below this many bytes of YAML (about 250 records) the fork, the pipe and the unpickling cost more
# than a second core saves.
MIN_PARALLEL_BYTES = 2_000_000

Job = tuple[Path, str, str]  # (file, path shown in messages, kind)
Result = tuple[list[ContentError], RawFile | None]  # per file: its loading errors and what was kept


def load_one(file: Path, shown: str, kind: str, errors: Collector) -> RawFile | None:
    """Load one file and digest it; loading errors go to ``errors``, schema errors into the digest."""
    data = load_file(file, shown, errors)
    if data is None:
        return None
    return RawFile(kind, shown, None, validate.digest(RawFile(kind, shown, data), errors))


def _load_run(jobs: list[Job], errors: Collector) -> list[Result]:
    out: list[Result] = []
    for file, shown, kind in jobs:
        before = len(errors.errors)
        raw = load_one(file, shown, kind, errors)
        out.append((errors.errors[before:], raw))
    return out


def _processes(jobs: list[Job]) -> int:
    split = os.environ.get(SPLIT_ENV, "")
    if split == "never" or not hasattr(os, "fork") or threading.active_count() != 1:
        return 1
    env = os.environ.get(WORKERS_ENV)
    wanted = max(1, int(env)) if env else max(1, min(os.cpu_count() or 1, 8))
    if split == "always":
        return max(2, wanted) if env != "1" else 1
    if wanted == 1:
        return 1
    size = 0
    for file, _, _ in jobs:
        try:
            size += file.stat().st_size
        except OSError:
            pass
        if size >= MIN_PARALLEL_BYTES:
            return min(wanted, len(jobs))
    return 1


def _runs(jobs: list[Job], n: int) -> list[list[Job]]:
    """``jobs`` cut, in order, into ``n`` runs of about equal size in bytes."""
    sizes = []
    for file, _, _ in jobs:
        try:
            sizes.append(file.stat().st_size + 512)  # a file's own cost beside its bytes
        except OSError:
            sizes.append(512)
    total = sum(sizes)
    runs: list[list[Job]] = [[] for _ in range(n)]
    acc = 0
    for job, size in zip(jobs, sizes):
        runs[min(n - 1, acc * n // max(total, 1))].append(job)
        acc += size
    return runs


def load_files(jobs: list[Job], errors: Collector) -> list[RawFile]:
    """Every file of ``jobs`` (in content order) loaded and digested; loading errors added to
    ``errors`` in content order. The collector is off meanwhile: loading makes no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        for file, shown, _ in jobs:  # lines for a later message are read again from the file
            errors.remember_file(shown, file)
        n = _processes(jobs)
        results = _load_run(jobs, errors.sub()) if n == 1 else _load_split(jobs, n, errors)
        raw = []
        for found, kept in results:
            errors.errors.extend(found)
            if kept is not None:
                raw.append(kept)
        return raw
    finally:
        if collecting:
            gc.enable()


def _load_split(jobs: list[Job], n: int, errors: Collector) -> list[Result]:
    runs = _runs(jobs, n)
    for stream in (sys.stdout, sys.stderr):  # nothing buffered to be written twice
        stream.flush()
    workers: list[tuple[int, int]] = []  # (pid, read end of its pipe), in content order
    try:
        for run in runs[:-1]:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the worker, which never returns
                os.close(read)
                _worker(run, write)
            os.close(write)
            workers.append((pid, read))
        mine = _load_run(runs[-1], errors.sub())
        results: list[Result] = []
        for run in runs[:-1]:
            pid, read = workers.pop(0)
            got = _receive(read)
            os.waitpid(pid, 0)
            if got is None:  # the worker failed or died: load its files here (raising its error as it is)
                got = _load_run(run, errors.sub())
            results += got
        return results + mine
    finally:
        for pid, read in workers:  # only after an exception here: stop the workers left
            for stop in (lambda: os.close(read), lambda: os.kill(pid, 9), lambda: os.waitpid(pid, 0)):
                try:
                    stop()
                except OSError:
                    pass


def _receive(read: int) -> list[Result] | None:
    with os.fdopen(read, "rb") as stream:
        try:
            got = pickle.load(stream)
        except Exception:  # noqa: BLE001 - a worker that died leaves a cut-short stream
            return None
    return got if isinstance(got, list) else None


def _worker(run: list[Job], write: int) -> None:  # pragma: no cover - runs in a forked worker
    code = 1
    try:
        gc.disable()
        validate.SHIP_FACTS = True
        results = _load_run(run, Collector())
        with os.fdopen(write, "wb") as stream:
            pickle.dump(results, stream, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent loads these files again and meets the error itself
        try:
            with os.fdopen(write, "wb", closefd=False) as stream:
                pickle.dump("failed", stream)
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)
