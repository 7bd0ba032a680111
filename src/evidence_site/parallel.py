"""Render pages on every core: forked workers render chunks of pages and write them straight into
the staging folder, while the parent writes the data files and then renders the chunks not given
to a worker (``_Feeder``).

Workers are forked after the site is loaded, so they share the model with the parent and nothing but
page numbers and file names crosses between processes. A page renders the same in any process (a
page's HTML depends only on the site, the templates and the page), so the output is the same as a
one-process build; tests/test_cache.py checks it byte for byte. Falls back to rendering in this
process when the site is small, when fork is unavailable, when the process runs other threads (a
fork would copy their locks), or when EVIDENCE_SITE_WORKERS=1.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from . import helper, render, templating, views, write
from .render import Page, Renderer

# Below this much work (roughly: paragraphs rendered) a fork costs about what it saves: the real
# site's 281 pages (3,666) render 0.04 s sooner on two cores, the benchmark's one submission (N = 20,
# 1,412) no sooner; a one-record rebuild's pages (768 on the real site) stay in one process. (20,000
# while the templates compiled in this process before the fork; they now load from the bytecode the
# build compiled on both cores, ``pipeline._compiled``.)
MIN_PARALLEL_COST = 2000


@dataclass
class Job:
    """The pages of one interface language and the renderer for them."""

    renderer: Renderer
    pages: list[tuple[str, Page]]  # (output path, page)


def cost(page: Page) -> int:
    """A rough measure of a page's rendering work: the paragraphs it shows."""
    c = page.context
    if c.get("record") is not None:
        return 5 + len(c["record"].paragraphs)
    if page.template == "response.html" and "submission" in c:
        return 5 + len(c["submission"].sequence) + len(c["submission"].introduction)
    return 10


def _costs(job: Job) -> list[int]:
    """Each page's ``cost``; a question or force page showing its answers in full costs their
    paragraphs, one listing them (``views.in_full``) a few links."""
    site = job.renderer.site
    out = []
    for _, page in job.pages:
        n = views.answer_paragraphs(site, page)
        if n is None:
            out.append(cost(page))
        elif page.template == "question.html":
            out.append(5 + (n if views.in_full(n) else len(page.context.get("submissions") or ())))
        else:
            out.append(5 + (n if views.in_full(n) else 10))
    return out


# Set in the parent just before forking; the workers read it.
_JOBS: list[Job] = []
_ROOT: Path | None = None
_REPORT = None  # ``render_pages``'s ``report``
_REPORTED = [False]  # its report was sent (by this process, a worker or the parent)


def _write(root: Path, rel: str, html) -> list[int]:
    """Write a page given whole or in pieces (``Renderer.html``; ``write.write_pieces``: a very
    large page never exists as one string). Returns the file's size, modification time and inode as
    it is left (``cache.remember_build`` keeps them, without walking the folder again)."""
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with write.create(target) as f:
        if isinstance(html, str):
            f.write(html.encode("utf-8"))
        else:
            write.write_pieces(f, html)
        f.flush()
        st = os.fstat(f.fileno())
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _render_chunk(chunk: tuple[int, list[int]]) -> tuple[tuple[int, list[int]], bool, object, dict]:
    """Render and write a chunk's pages: (the chunk, whether it went well, what ``_REPORT`` found,
    each page's ``_write`` state)."""
    job_index, indexes = chunk
    job = _JOBS[job_index]
    # What the chunks before made and keep (each paragraph's prepared text, the templates) leaves the
    # collector's sight, as the model did before the fork: otherwise every collection of the oldest
    # generation walks all of it again, a sixth of a worker's time (0.9 s of 5.5 s at N = 5,000).
    gc.freeze()
    states = {}
    try:
        for i in indexes:
            rel, page = job.pages[i]
            states[rel] = _write(_ROOT, rel, job.renderer.html(page))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the parent renders this chunk again to raise it as it is
        return chunk, False, None, {}
    # A chunk holds whole groups, and the pages of no group come first (``_chunks``): no later chunk
    # shows the paragraphs of this one's groups, whose prepared text need not be kept.
    job.renderer.shared.forget({group for i in indexes if (group := _group(job.pages[i][1])) is not None})
    found = None
    if _REPORT is not None and not _REPORTED[0]:
        found = _REPORT()
        _REPORTED[0] = found is not None
    return chunk, True, found, states


def _group(page: Page):
    """Pages that show the same paragraphs: a submission's full response and its record pages. A
    chunk holds whole groups, so each paragraph is prepared (``views.SharedText``) by one worker
    instead of by every worker whose pages reach it."""
    sub = page.context.get("submission")
    return sub.id if sub is not None else None


def _chunks(jobs: list[Job], n_workers: int) -> list[tuple[int, list[int]]]:
    """Chunks of pages, each holding whole groups of pages that share paragraphs (``_group``): first
    the pages of no group, then the groups, the largest first (so no worker is left with a big
    chunk at the end while the other has nothing to do).

    The pages of no group come first because their work is the least well reckoned (``cost``): the
    glossary searches every paragraph for its acronyms, an entity page shows the paragraphs naming
    it. Reckoned as a few links each, they made a chunk that came last and kept one process busy for
    a second alone at N = 5,000 (docs/performance.md); done first, whatever they take, the other
    process meanwhile renders groups, whose work is their paragraphs', and the chunks left are
    shared out as the processes come free (``_Feeder``)."""
    alone: list[tuple[int, int, list[int]]] = []  # (cost, job, [index]) of each page of no group
    groups: dict[tuple[int, str], tuple[int, list[int]]] = {}  # (job, group) -> (cost, indexes)
    for j, job in enumerate(jobs):
        for i, (c, (_, page)) in enumerate(zip(_costs(job), job.pages)):
            group = _group(page)
            if group is None:
                alone.append((c, j, [i]))
                continue
            acc, idx = groups.get((j, group), (0, []))
            idx.append(i)
            groups[j, group] = (acc + c, idx)
    grouped = [(c, j, idx) for (j, _), (c, idx) in groups.items()]
    total = sum(c for c, _, _ in alone) + sum(c for c, _, _ in grouped)
    target = max(1, total // (n_workers * 16))
    return _packed(alone, target) + _packed(grouped, target)


def _packed(weighted: list[tuple[int, int, list[int]]], target: int) -> list[tuple[int, list[int]]]:
    """Units of work (cost, job, page indexes) packed into chunks of about ``target`` cost (a unit
    never split), the largest chunk first."""
    weighted = sorted(weighted, key=lambda x: -x[0])
    chunks: list[tuple[int, int, list[int]]] = []  # (cost, job, indexes)
    current: dict[int, tuple[int, list[int]]] = {}
    for c, j, idx_unit in weighted:
        if c >= target:
            chunks.append((c, j, idx_unit))
            continue
        acc, idx = current.get(j, (0, []))
        idx = idx + idx_unit
        acc += c
        if acc >= target:
            chunks.append((acc, j, idx))
            acc, idx = 0, []
        current[j] = (acc, idx)
    for j, (acc, idx) in current.items():
        if idx:
            chunks.append((acc, j, idx))
    chunks.sort(key=lambda x: -x[0])
    return [(j, idx) for _, j, idx in chunks]


class _Feeder:
    """Hands the chunks out in order, to the workers and to this process. A worker is given its
    next chunk only when it has finished the last (a thread of this process waits on them), since a
    chunk given to a worker cannot be taken back: given ahead, chunks waited in the worker's queue
    at the end while this process, which takes the others (``take``), had nothing left to do."""

    def __init__(self, pool, chunks: list[tuple[int, list[int]]], workers: int) -> None:
        self.pool, self.workers = pool, workers
        self.pending = deque(chunks)
        self.futures: dict = {}  # every chunk given to a worker, by its future
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="render-feeder", daemon=True)

    def give(self) -> list:
        """A chunk to each worker without one; the futures of those still rendering."""
        with self.lock:
            running = [f for f in self.futures if not f.done()]
            while self.pending and len(running) < self.workers:
                chunk = self.pending.popleft()
                try:
                    future = self.pool.submit(_render_chunk, chunk)
                except Exception:  # noqa: BLE001 - a broken or shut pool: this process takes the rest
                    self.pending.appendleft(chunk)
                    return []
                self.futures[future] = chunk
                running.append(future)
            return running

    def _run(self) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait  # noqa: PLC0415 - as render_pages

        while running := self.give():
            wait(running, return_when=FIRST_COMPLETED)

    def start(self) -> None:
        self.thread.start()

    def take(self) -> tuple[int, list[int]] | None:
        """The next chunk for this process, None when all are given out."""
        with self.lock:
            return self.pending.popleft() if self.pending else None

    def stop(self) -> None:
        with self.lock:
            self.pending.clear()

    def join(self) -> None:
        if self.thread.ident is not None:  # started
            self.thread.join()


def render_pages(jobs: list[Job], root: Path | None, other_work=None, side_work=None,
                 report=None, on_report=None, written: dict[str, list[int]] | None = None,
                 idle_work=None) -> dict[str, str]:
    """Render every page of every job. With ``root``, pages are written there (by worker processes
    when worthwhile), each page's state as it was left goes into ``written`` (its path -> its size,
    modification time and inode) and the returned dict is empty; without, the pages are returned.
    ``other_work`` (no arguments) runs in this process while the workers render; then this process
    renders beside them (one worker fewer than the cores: a worker forked for the last core would
    copy, page by page, the model it reads, where this process has it already; ``_Feeder``).
    ``report`` (no arguments), asked after each chunk until it gives something other than None,
    tells what rendering made there that this process keeps: ``on_report`` is called here with
    each process's (something a page computed, such as the glossary's uses). ``side_work``,
    (function, arguments) that can be pickled, runs in a worker beside the pages (in a thread of this
    process, when there are no workers: hard-linking a rebuild's kept pages is mostly waiting on the
    file system, which a thread does while this one renders). ``idle_work`` (no arguments) runs in
    this process once it has no page left to render, while the workers may still render their last
    chunks (after every page, in one process)."""
    for job in jobs:
        for rel, _ in job.pages:
            write.safe_rel(rel)
    written = {} if written is None else written
    n_workers = helper.workers_wanted()
    total = sum(sum(_costs(job)) for job in jobs) if root is not None and n_workers > 1 else 0
    parallel = root is not None and n_workers > 1 and total >= MIN_PARALLEL_COST and helper.may_fork()
    if not parallel:
        out: dict[str, str] = {}
        side = None
        if side_work is not None:
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

            side = ThreadPoolExecutor(1, thread_name_prefix="side-work")
            done = side.submit(side_work[0], *side_work[1])
        try:
            if other_work is not None:
                other_work()
            for job in jobs:
                current = None  # the group whose pages came last
                for rel, page in job.pages:
                    group = _group(page)
                    if group is not None and group != current:
                        # A group's pages come together (``render.all_pages``): the last is done, and its
                        # prepared text is let go of, as a chunk's is (``_render_chunk``). Were a later
                        # page to show its paragraphs, they would be prepared again, the same.
                        if current is not None:
                            job.renderer.shared.forget({current})
                        current = group
                    if root is not None:
                        written[rel] = _write(root, rel, job.renderer.html(page))
                    else:
                        out[rel] = job.renderer.render(page)
            if idle_work is not None:
                idle_work()
        finally:
            if side is not None:
                side.shutdown(wait=True)
        if side is not None:
            done.result()  # its error, raised here as it was
        return out

    import multiprocessing  # noqa: PLC0415 - only a large build needs it
    import sys  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: PLC0415
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    global _JOBS, _ROOT, _REPORT
    _JOBS, _ROOT, _REPORT = jobs, root, report
    _REPORTED[0] = False
    # Templates compile once, here, so a template error is raised in this process as it is; those
    # the pages' templates extend, import or include too, or each worker would compile them again.
    for env in {id(job.renderer.env): job.renderer.env for job in jobs}.values():
        templating.compile_templates(env)
    froze = gc.get_freeze_count() == 0
    if froze:  # the model lives as long as the build: keep the collector (and copy-on-write) off it
        gc.collect()
        gc.freeze()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered to be written twice
        stream.flush()
    failed: list[tuple[int, list[int]]] = []
    try:
        # A worker that dies (killed, out of memory) fails its chunk instead of hanging the build.
        with ProcessPoolExecutor(n_workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            feeder = _Feeder(pool, _chunks(jobs, n_workers), n_workers - 1)
            feeder.give()  # the workers forked here, before the feeder's thread starts
            # A chunk to each worker, then the side work (queued behind a chunk, not before every one).
            side = pool.submit(*side_work[:1], *side_work[1]) if side_work is not None else None
            feeder.start()

            def done(chunk, ok: bool, found, states: dict) -> None:
                if not ok:
                    failed.append(chunk)
                if found is not None and on_report is not None:
                    on_report(found)
                written.update(states)

            try:
                if other_work is not None:
                    other_work()
                while (chunk := feeder.take()) is not None:  # the chunks no worker has been given
                    done(*_render_chunk(chunk))
                if idle_work is not None:
                    idle_work()  # the workers may still be rendering their last chunks
                if side is not None:
                    try:
                        side.result()  # its own error is raised here as it was
                    except BrokenProcessPool:  # its worker died: do it here
                        side_work[0](*side_work[1])
                feeder.join()  # every chunk given out: the futures are all there
                for future in as_completed(feeder.futures):
                    try:
                        result = future.result()
                    except Exception:  # noqa: BLE001 - a broken pool: this process renders the chunk
                        result = feeder.futures[future], False, None, {}
                    done(*result)
            except BaseException:
                feeder.stop()
                pool.shutdown(wait=True, cancel_futures=True)
                feeder.join()
                raise
    finally:
        _JOBS, _ROOT, _REPORT = [], None, None
        if froze:
            gc.unfreeze()
    for job_index, indexes in failed:  # render again here: raises the worker's error as it was
        job = jobs[job_index]
        for i in indexes:
            rel, page = job.pages[i]
            written[rel] = _write(root, rel, job.renderer.html(page))
    return {}
