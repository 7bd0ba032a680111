"""One function run on the other core: a forked helper process runs it while this process goes on,
and sends back its result (pickled, through a pipe).

A rebuild after an edit runs in one process and leaves the second core idle; work that does not need
what this process does next can be handed to a helper, forked while this process is still small (a
fork after the model is loaded makes this process copy every page of it that it goes on to touch):
reading the output's and the spare's listings while the content loads (``cache.Walks``, which, when
there is no spare to bring up to date, also links the last build's pages into the new folder). The result
is the one the function returns here: when no helper can be forked (``may_fork``), or it fails or
dies, the function is run in this process when its result is asked for.

A ``Stream`` helper sends each item of its work as it is made, so this process can share the work
with it: on a cold build, the helper (forked by the command line before the build imports what the
pages need, ``cli.compiling``) compiles the templates from the first while this process imports and
loads the content, then compiles them from the last until the two meet (``pipeline._compiled``).
"""

from __future__ import annotations

import fcntl
import os
import pickle
import select
import struct
import threading
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


WORKERS_ENV = "EVIDENCE_SITE_WORKERS"


def workers_wanted() -> int:
    """How many processes a build may keep busy: the cores, or ``EVIDENCE_SITE_WORKERS`` (1: one
    process, no helper nor worker)."""
    env = os.environ.get(WORKERS_ENV)
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def may_fork() -> bool:
    """A fork copies every thread's locks but only this thread: fork only a single-threaded process
    (``serve`` runs threads). The one rule for every fork: this helper, loading and rendering workers."""
    return hasattr(os, "fork") and threading.active_count() == 1


# How much a helper may send before this process reads it. A pipe holds 64 KB on Linux: the
# templates' bytecode (290 KB of this project's) filled it in six templates, and the compiler then
# waited for the build to finish importing and loading instead of compiling on.
PIPE_SIZE = 1 << 20


def _pipe() -> tuple[int, int]:
    """A pipe (its ends to read and to write) holding ``PIPE_SIZE``, or as much as the system allows."""
    read, write = os.pipe()
    try:
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, OSError):  # not Linux, or more than an unprivileged pipe may hold
        pass
    return read, write


def _fork(send: Callable[[int], None]) -> tuple[int, int]:
    """A helper forked to run ``send(fd)``, which writes into the pipe ``fd``: (its pid, the pipe's end to
    read here), or (0, -1) when none can be forked (``may_fork``). The helper exits 0 once ``send``
    returns, 1 if it raises."""
    if not may_fork():
        return 0, -1
    read, write = _pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return 0, -1
    if pid == 0:  # pragma: no cover - the helper, which never returns
        try:
            os.close(read)
            send(write)
            os._exit(0)
        finally:
            os._exit(1)
    os.close(write)
    return pid, read


def _reap(pid: int) -> None:
    if pid:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass


class Helper(Generic[T]):
    """``work()`` run by a forked helper from ``start`` on; ``result()`` waits for it."""

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self.pid = 0
        self._read = -1
        self._done = False
        self._result: T | None = None

    def start(self) -> Helper[T]:
        def send(fd: int) -> None:
            data = pickle.dumps(self.work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(fd, "wb") as f:
                f.write(data)

        self.pid, self._read = _fork(send)
        return self

    def result(self) -> T:
        """What ``work()`` returned in the helper, or returns here if the helper did not run, failed
        or died."""
        if not self._done:
            sent = False
            if self.pid:
                try:
                    fd, self._read = self._read, -1
                    with os.fdopen(fd, "rb") as f:
                        data = f.read()
                    if os.waitpid(self.pid, 0)[1] == 0:
                        self._result, sent = pickle.loads(data), True
                except (OSError, EOFError, pickle.UnpicklingError):
                    pass
                self.close()
            if not sent:
                self._result = self.work()
            self._done = True
        return self._result  # type: ignore[return-value]

    def close(self) -> None:
        """Stop waiting for the helper: its pipe closed (a helper still writing ends), it is reaped."""
        if self._read >= 0:
            os.close(self._read)
            self._read = -1
        _reap(self.pid)
        self.pid = 0


_LENGTH = struct.Struct("<Q")  # before each item a ``Stream``'s helper sends: its pickle's length


class Stream(Generic[T]):
    """``work()``, a generator, run by a forked helper from ``start`` on, each item it yields sent here
    as soon as it is made: this process takes what has come (``poll``) while the helper makes the
    rest, and may stop it once it has what it needs (``stop``). When no helper can be forked, or it
    fails or dies, nothing more comes (``ended``): this process does what is missing itself."""

    def __init__(self, work: Callable[[], Iterator[T]]) -> None:
        self.work = work
        self.pid = 0
        self._read = -1
        self._buffer = b""
        self.ended = True  # until a helper runs

    def start(self) -> Stream[T]:
        def send(fd: int) -> None:
            for item in self.work():
                data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(_LENGTH.pack(len(data)) + data)
                while view:  # blocks while the pipe is full; fails once this process stopped reading
                    view = view[os.write(fd, view):]

        self.pid, self._read = _fork(send)
        self.ended = not self.pid
        return self

    def poll(self, wait: bool = False) -> list[T]:
        """The items sent since the last call, without waiting for more (with ``wait``: every item
        left, waiting until the helper ends)."""
        while not self.ended and (wait or select.select([self._read], [], [], 0)[0]):
            chunk = os.read(self._read, 1 << 16)
            if not chunk:  # the helper's end: done, failed or killed
                self.close()
                break
            self._buffer += chunk
        items = []
        while len(self._buffer) >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < _LENGTH.size + n:
                break
            items.append(pickle.loads(self._buffer[_LENGTH.size:_LENGTH.size + n]))
            self._buffer = self._buffer[_LENGTH.size + n:]
        return items

    def stop(self) -> None:
        """Take nothing more: the helper ends at its next item (``close`` reaps it)."""
        self.ended = True
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def close(self) -> None:
        """Stop, and reap the helper."""
        self.stop()
        _reap(self.pid)
        self.pid = 0
