"""One function run on the other core: a forked helper process runs it while this process goes on,
and sends back its result (pickled, through a pipe).

A rebuild after an edit runs in one process and leaves the second core idle; work that does not need
what this process does next can be handed to a helper, forked while this process is still small (a
fork after the model is loaded makes this process copy every page of it that it goes on to touch):
reading the output's and the spare's listings while the content loads (``cache.Walks``, which, when
there is no spare to bring up to date, also links the last build's pages into the new folder), and, on
a cold build, compiling the templates while this process hashes the inputs (``pipeline.build``). The result
is the one the function returns here: when no helper can be forked (``may_fork``), or it fails or
dies, the function is run in this process when its result is asked for.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


def may_fork() -> bool:
    """A fork copies every thread's locks but only this thread: fork only a single-threaded process
    (``serve`` runs threads). The one rule for every fork: this helper, loading and rendering workers."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Helper(Generic[T]):
    """``work()`` run by a forked helper from ``start`` on; ``result()`` waits for it."""

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self.pid = 0
        self._read = -1
        self._done = False
        self._result: T | None = None

    def start(self) -> Helper[T]:
        if not may_fork():
            return self
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return self
        if pid == 0:  # pragma: no cover - the helper, which never returns
            try:
                os.close(read)
                data = pickle.dumps(self.work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as f:
                    f.write(data)
                os._exit(0)
            finally:
                os._exit(1)
        os.close(write)
        self.pid, self._read = pid, read
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
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0
