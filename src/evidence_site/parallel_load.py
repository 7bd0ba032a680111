"""Load and check the content files on every core.

Loading is file by file: read, parse the YAML, check it against its schema, run each paragraph's
own checks (Markdown parsed once, here) and keep a compact digest (``validate.digest``); only the
checks across files need every file at once. A large content folder is cut, in content order, into
one run of files per process, balanced by size. This process forks a worker for each run but the
first, loads the first itself (making its records' model objects as it goes), then takes each
worker's digests and messages, in content order, so the result is that of one process
(tests/test_load_parallel.py checks the models and the messages, in order, are equal).

A worker sends plain values (paragraphs as tuples, marks packed into ints, the Markdown facts it
found), which pickle fast; unpickling model objects would cost more than making them here. It
writes them, in parts, into a file in memory and announces each part through a pipe, so it never
waits for this process, which takes the parts already written as soon as its own files are done.

With the cache's digests (``cache.Digests``), a file whose bytes the cache knows is not parsed
again: its digest is unpickled and its records made into the model here; only the other files are
loaded (on several cores when they are many), and their digests, pickled as a worker sends them, are
given to the cache.

Falls back to this process alone for a small folder (the fork and the pickling cost more than they
save), when fork is unavailable, when the process runs other threads (``serve``: a fork would copy
their locks), with EVIDENCE_SITE_WORKERS=1, or with EVIDENCE_SITE_LOAD_SPLIT=never;
EVIDENCE_SITE_LOAD_SPLIT=always splits whatever the size (for tests). The files of a worker that
cannot start, fails or dies are loaded again here, so an error reads as it would from one process.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import struct
import sys
from pathlib import Path

from . import helper, markdown, validate
from .content import RawFile
from .cache import Digests, read_at, read_hashed
from .errors import ContentError, Collector
from .load import load_file

WORKERS_ENV = helper.WORKERS_ENV  # shared with page rendering and the template compiler
SPLIT_ENV = "EVIDENCE_SITE_LOAD_SPLIT"
# Below this many bytes of YAML (about 170 of the benchmark's records; the real content is a fifth
# of it) the fork and the pickling cost about what a second core saves (measured: 100 records load in
# 0.09 s either way, 200 in 0.18 s alone and 0.16 s split, 400 in 0.35 s and 0.23 s).
MIN_PARALLEL_BYTES = 1_000_000

Job = tuple[Path, str, str]  # (file, path shown in messages, kind)
Entry = tuple[bytes, bytes]  # a file's digest as the cache keeps it: (cache.Digests.key_of, pickled RawFile)
Result = tuple[list[ContentError], RawFile | None]  # per file: its loading errors and what was kept
# A file read whole to be kept by the cache: its stamp and content hash (``cache.read_hashed``),
# for a build that hashes its inputs as it loads them (``cache.Hashing``).
Read = tuple[tuple, str]


def load_one(file: Path, shown: str, kind: str, errors: Collector, model: bool = True,
             data: bytes | None = None) -> RawFile | None:
    """Load one file (from its bytes ``data`` when already read) and digest it; loading errors go to
    ``errors``, schema errors into the digest. With ``model``, a record's paragraphs are made into
    the model at once (a worker leaves that to the parent: model objects cost more to send than to
    make)."""
    loaded = load_file(file, shown, errors, data)
    if loaded is None:
        return None
    raw = RawFile(kind, shown, None, validate.digest(RawFile(kind, shown, loaded), errors))
    if model:
        _make_model(raw)
    return raw


def _make_model(raw: RawFile | None) -> None:
    """A sound record's paragraphs made into model objects, where they are used (see load_one)."""
    if raw is not None and raw.kind == "record" and raw.digest.ok:
        validate.record_of(raw.digest)


def _load_run(jobs: list[Job], errors: Collector, model: bool = True, keep: bool = False,
              put=None, between=None) -> list[tuple[list[ContentError], RawFile | None, Entry | None, Read | None]]:
    """Each file's errors, digest and, with ``keep``, the entry the cache keeps of it when it
    loaded without a message (pickled before its records are made into the model) and how it was
    read (``Read``); with ``put`` (``Digests.put``), each entry is given to it as it is made instead
    (none is returned). ``between`` (no arguments) is called after every ``BETWEEN`` files."""
    out = []
    for n, (file, shown, kind) in enumerate(jobs, 1):
        if between is not None and n % BETWEEN == 0:
            between()
        before = len(errors.errors)
        data = read = None
        if keep:
            try:
                data, read = read_hashed(file)
            except OSError:
                pass  # read again by load_file, which says why it cannot be
        raw = load_one(file, shown, kind, errors, False, data)
        found = errors.errors[before:]
        entry = None
        if read is not None and raw is not None and not found:
            d = raw.digest
            if d.ok and not d.errors and not d.deferred:
                entry = (Digests.key_of(kind, shown, read[1]), pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))
                if put is not None:
                    put(*entry)
                    entry = None
        if model:
            _make_model(raw)
        out.append((found, raw, entry, read))
    return out


def _processes(jobs: list[Job]) -> int:
    split = os.environ.get(SPLIT_ENV, "")
    if split == "never" or not helper.may_fork():
        return 1
    env = os.environ.get(WORKERS_ENV)
    wanted = helper.workers_wanted()
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


# The share of the files this process loads, beside the workers' equal shares: besides its own
# files it unpickles the workers' parts and makes their records into model objects, between its own
# files as the parts come (``_Worker.ready``), some 0.12 s at N = 5,000 on 2 cores. At 0.9 its own
# run, parts taken, ends with the worker's; at 1.0 with the parts taken after its own files, the
# worker waited 0.15-0.2 s at the end (six alternating runs, loading to model: 1.34-1.38 s against
# 1.40-1.48 s).
OWN_SHARE = 0.9


def _runs(jobs: list[Job], n: int) -> list[list[Job]]:
    """``jobs`` cut, in order, into ``n`` runs of about equal size in bytes (the first, this
    process's own, ``OWN_SHARE`` times as large as the others)."""
    sizes = []
    for file, _, _ in jobs:
        try:
            size = file.stat().st_size
        except OSError:
            size = 0
        # A byte costs about as much in any kind of file (a submission's sequence of ids as a
        # record's paragraphs: 93 and 97 ns at N = 5,000); every file costs something beside.
        sizes.append(size + 512)
    bounds = [OWN_SHARE]
    for _ in range(n - 1):
        bounds.append(bounds[-1] + 1)
    scale = sum(sizes) / bounds[-1]
    runs: list[list[Job]] = [[] for _ in range(n)]
    acc = 0
    run = 0
    for job, size in zip(jobs, sizes):
        while run < n - 1 and acc >= bounds[run] * scale:
            run += 1
        runs[run].append(job)
        acc += size
    return runs


def load_files(jobs: list[Job], errors: Collector, known: Digests | None = None,
               hashes: list[str | None] | None = None, read: list[Read | None] | None = None) -> list[RawFile]:
    """Every file of ``jobs`` (in content order) loaded and digested; loading errors added to
    ``errors`` in content order. With ``known`` (the cache's digests), a file whose bytes it knows
    is taken from it, the others are loaded and their entries given to it; ``hashes``, each job's
    ``cache.content_hash`` when the caller has it (hashed as the build's inputs), saves reading and
    hashing a known file again; ``read`` is filled with how each job's file was read whole to be
    hashed (``Read``; None for a file not read so). The collector is off meanwhile: loading makes
    no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    shipping = validate.SHIP_FACTS
    try:
        results: list[Result | None] = [None] * len(jobs)
        todo = list(range(len(jobs)))
        keep = known is not None and known.saving
        how: list[Read | None] = [None] * len(jobs)
        if known is not None and known.entries:  # an empty cache: no file is read only to be looked up
            todo = [i for i in todo if not _known(jobs[i], known, results, i, hashes[i] if hashes else None, how)]
        if keep:
            validate.SHIP_FACTS = "all"  # kept entries carry all their texts' Markdown facts
        missing = [jobs[i] for i in todo]
        n = _processes(missing)
        # Each entry goes to the cache where it is made or taken from a worker: no process holds
        # them all (``Digests.put``), and none is returned here.
        put = known.put if keep else None
        loaded = _load_run(missing, errors.sub(), keep=keep, put=put) if n == 1 else \
            _load_split(missing, n, errors, keep, put)
        for i, (found, raw, _, got) in zip(todo, loaded):
            results[i] = (found, raw)
            how[i] = got
        if read is not None:
            read[:] = how
        raw_files = []
        for (file, shown, _), result in zip(jobs, results):
            assert result is not None
            found, kept = result
            errors.errors.extend(found)
            if kept is not None:
                raw_files.append(kept)
                errors.remember_file(shown, file)  # a later message reads its line from the file
        return raw_files
    finally:
        validate.SHIP_FACTS = shipping
        if collecting:
            gc.enable()


def _known(job: Job, known: Digests, results: list, i: int, hashed: str | None, how: list[Read | None]) -> bool:
    """Take the file's digest from the cache when it knows the file's bytes (or their hash,
    ``hashed``; else read, and how left in ``how``); False when it does not."""
    file, shown, kind = job
    if hashed is None:
        try:
            _, how[i] = read_hashed(file)
        except OSError:
            return False
        hashed = how[i][1]
    blob = known.get(Digests.key_of(kind, shown, hashed))
    if blob is None:
        return False
    try:
        raw = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - an entry that cannot be read: the file is loaded instead
        return False
    _make_model(raw)
    results[i] = ([], raw)
    return True


# A worker hands its results over in parts, each announced when whole, so this process can take
# (unpickle and make into model objects) the first parts while the worker loads the last.
PARTS = 8
BETWEEN = 32  # files this process loads between two looks at what its workers have sent
_DONE = (1 << 64) - 1  # announced after the last part
_ANNOUNCE = struct.Struct("<Q")  # the end of a part in the worker's file


class _Worker:
    """A forked worker loading a run of files: the file it writes its results into, part after
    part, and the pipe it announces each part through."""

    def __init__(self, run: list[Job], fd: int, keep: bool = False) -> None:
        self.run, self.fd, self.pid, self.keep = run, fd, 0, keep
        self.status: int | None = None  # exit code once reaped
        self.announce_r = self.announce_w = -1
        self.got: list = []  # what ``take`` made of the parts so far
        self.start_at = 0  # where the next part begins in its file
        self.done = self.broken = False

    def start(self) -> None:
        try:
            self.announce_r, self.announce_w = os.pipe()
            self.pid = os.fork()
        except OSError:  # no process to be had: its files are loaded here
            self.pid, self.status = 0, -1
            return
        if self.pid == 0:  # pragma: no cover - runs in the worker, which never returns
            try:
                os.close(self.announce_r)
                _worker(self.run, self.fd, self.announce_w, self.keep)
            finally:
                os._exit(1)  # whatever happens, never back into the parent's code
        os.close(self.announce_w)
        self.announce_w = -1

    def ready(self, take) -> None:
        """The parts it has announced so far passed to ``take`` (see ``results``), without waiting
        for more: this process takes them between its own files instead of after them all."""
        while self.pid and not self.done and not self.broken and select.select([self.announce_r], [], [], 0)[0]:
            self._next(take)

    def results(self, take) -> list | None:
        """Its results, each part passed to ``take`` as it comes (and replaced by what it returns);
        None if it did not start, failed or died (then nothing it sent is to be used)."""
        if not self.pid:
            return None
        while not self.done and not self.broken:
            self._next(take)
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        return self.got if self.done and not self.broken and self.status == 0 else None

    def _next(self, take) -> None:
        """Wait for its next announcement: a part, taken, or that it is done. A worker that exits
        without saying it is done, or a part that cannot be read or taken, leaves it ``broken``."""
        try:
            word = os.read(self.announce_r, _ANNOUNCE.size)  # one write each: never split in a pipe
            if len(word) < _ANNOUNCE.size:
                self.broken = True  # it exited without saying it was done
                return
            (end,) = _ANNOUNCE.unpack(word)
            if end == _DONE:
                self.done = True
                return
            part = pickle.loads(read_at(self.fd, self.start_at, end - self.start_at))
            self.start_at = end
            self.got += take(part)
        except Exception:  # noqa: BLE001 - results cut short or unreadable: the files are loaded here instead
            self.broken = True

    def close(self) -> None:
        """Stop it if it still runs (only after an error here), reap it, drop its file and pipe."""
        if self.pid and self.status is None:
            try:
                os.kill(self.pid, 9)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.status = -9
        for name in ("fd", "announce_r", "announce_w"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


def _take(part: list, put=None) -> list:
    """A worker's part as this process's own results: each file kept by the cache sent once, as
    the cache keeps it, and made into its digest here (and given to ``put`` at once, when given:
    see ``_load_run``); records made into model objects here, as this process does with its own."""
    out = []
    for found, kept, entry, read in part:
        if entry is not None:
            kept = pickle.loads(entry[1])
            if put is not None:
                put(*entry)
                entry = None
        _make_model(kept)
        out.append((found, kept, entry, read))
    return out


def _load_split(jobs: list[Job], n: int, errors: Collector, keep: bool = False, put=None) -> list:
    runs = _runs(jobs, n)
    workers: list[_Worker] = []
    try:
        try:
            for run in runs[1:]:
                workers.append(_Worker(run, _scratch(), keep))
        except OSError:  # nowhere to put a worker's results: load everything here
            return _load_run(jobs, errors.sub(), keep=keep, put=put)
        for stream in (sys.stdout, sys.stderr):  # nothing buffered to be written twice
            stream.flush()
        for worker in workers:
            worker.start()
        def take(part: list) -> list:
            return _take(part, put)

        def between() -> None:  # the workers' parts that have come, taken between this process's files
            for worker in workers:
                worker.ready(take)

        results = _load_run(runs[0], errors.sub(), keep=keep, put=put, between=between)
        for worker in workers:
            got = worker.results(take)
            worker.close()
            if got is None:  # it failed or died: load its files here (raising its error as it is)
                got = _load_run(worker.run, errors.sub(), keep=keep, put=put)
            results += got
        return results
    finally:
        for worker in workers:
            worker.close()


def _scratch() -> int:
    """A file in memory (or an unnamed temporary file) for a worker to write its results into: a
    worker writing into a pipe would wait for this process to read, which it does only between its
    own files (every ``BETWEEN``), so the worker's loading would wait on this process's."""
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create("evidence-site-load", os.MFD_CLOEXEC)
        except OSError:
            pass
    import tempfile  # noqa: PLC0415

    handle = tempfile.TemporaryFile()
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


def _worker(run: list[Job], fd: int, announce: int, keep: bool) -> None:  # pragma: no cover - runs in a forked worker
    code = 1
    try:
        gc.disable()
        validate.SHIP_FACTS = "all" if keep else True
        errors = Collector()
        size = max(1, -(-len(run) // PARTS))
        with os.fdopen(fd, "wb", closefd=False) as stream:
            for at in range(0, len(run), size):
                part = [(found, None if entry is not None else kept, entry, read)  # sent once: as the cache keeps it
                        for found, kept, entry, read in _load_run(run[at:at + size], errors, model=False, keep=keep)]
                pickle.dump(part, stream, protocol=pickle.HIGHEST_PROTOCOL)
                stream.flush()
                os.write(announce, _ANNOUNCE.pack(stream.tell()))
                del part
                markdown.forget_facts()  # sent with the part: the texts of the next are others
        os.write(announce, _ANNOUNCE.pack(_DONE))
        code = 0
    except BaseException:  # noqa: BLE001 - the parent loads these files again and meets the error itself
        pass
    finally:
        os._exit(code)
