#!/usr/bin/env python3
"""A probe of the streamed build that the memory target asks for (docs/performance.md, "This round
(issue 9, eighteenth session)"): not the generator, and no build runs it (one test does:
tests/test_scale.py).

    .venv/bin/python bench/probe_streamed.py CONTENT OUT [--compare BUILT] [--templates DIR]
    .venv/bin/python bench/probe_streamed.py CONTENT OUT --rest

It builds what a streamed build's two processes would build, the way they would build it: every
submission's own pages (its answers' pages and its full response, in every interface language),
one submission at a time, in this process and one forked from it once the small shared files are
loaded (settings, forces, bodies, questions, entities, glossary, and every submission's file). Each
process takes the next submission left, loads that submission's record files itself, makes a site
of them and the shared files (every other submission hollow: no introduction, no sequence), renders
and writes its pages, sends the main process the summary the shared pages and the checks across
files would need (each record's size, every paragraph id in reading order, the paragraphs that
mention an entity, the glossary's uses), and lets the submission go before the next.

What it leaves out is the rest of a build: the pages that draw on every submission (home, question,
force and entity pages, glossary, figures, comparison, search), the data files, the checks across
files and the cache. So its time is a part of a build's, and its memory is what the two processes
hold without those. With ``--compare BUILT`` (the output of ``build.py build`` of the same content and
templates), it says how many of its pages are byte for byte the built ones, and exits with 1 if
any is not: the design's premise is that a submission's pages need nothing of the other submissions
but their hollow entries (tests/test_scale.py holds the pages to it).

With ``--rest``, it times instead what it leaves out, made by today's build code from the whole
model: the checks across files, then the pages that draw on every submission and the files beside
the pages (data files, sitemap, static files), written into OUT. A streamed build would make those
from the summaries; today's code gives their cost.

Time it as the benchmark times a tool (whole process, each process's peak resident set summed):
see docs/performance.md for the commands and the figures.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import pickle
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from evidence_site import markdown, parallel, pipeline, render, templating, write  # noqa: E402
from evidence_site.content import _shown_paths, classify, listed_files  # noqa: E402
from evidence_site.errors import Collector  # noqa: E402
from evidence_site.parallel_load import load_files  # noqa: E402
from evidence_site.urls import Urls  # noqa: E402
from evidence_site.validate import _build, digest  # noqa: E402


def summary(site, sub: str) -> tuple:
    """What the shared pages and the checks across files would need of one submission."""
    s = site.submission_by_id[sub]
    records = [(r.body, r.question, len(r.paragraphs)) for r in site.records]
    mentions = [(p.id, p.mentions, p.text) for r in site.records for p in r.paragraphs if p.mentions]
    uses = pipeline.glossary_ids(pipeline.glossary_uses(site))
    return sub, records, list(s.sequence), mentions, uses


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rest(content: Path, templates: Path, out: Path) -> None:
    """``--rest``: the checks across files, then the pages of no submission and the files beside the
    pages, by today's code (``pipeline``) from the whole model, each timed."""
    gc.disable()
    site, checks = pipeline.load_model(content)
    gc.freeze()
    gc.enable()
    wall, cpu = time.perf_counter(), _cpu()
    checks()
    print(f"checks across files: {time.perf_counter() - wall:.2f} s wall, {_cpu() - cpu:.2f} s CPU")
    wall, cpu = time.perf_counter(), _cpu()
    out.mkdir(parents=True)
    files = pipeline.render_site(site, templates, "/", pages_out=out,
                                 only=lambda rel, page: page.context.get("submission") is None)
    write.write_files(out, files, marker=False)  # the data files are made as they are written
    print(f"{len(files.pages) - len(files.kept)} pages of no submission and the files beside them: "
          f"{time.perf_counter() - wall:.2f} s wall, {_cpu() - cpu:.2f} s CPU")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("content", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--templates", type=Path, default=ROOT / "templates")
    p.add_argument("--compare", type=Path, default=None, help="a built site of the same content to compare pages with")
    p.add_argument("--rest", action="store_true", help="time what the probe leaves out instead, by today's code")
    args = p.parse_args(argv)
    if args.rest:
        rest(args.content, args.templates, args.out)
        return 0

    gc.disable()  # as the build loads: no cycles are made; collected by hand after each submission
    errors = Collector()
    shown_of = _shown_paths(args.content)
    shared_jobs, by_sub = [], {}
    for file, rel in listed_files(args.content):
        kind = classify(rel)
        job = (file, shown_of(file, rel), kind)
        if kind == "record":
            by_sub.setdefault(rel.split("/")[1], []).append(job)
        else:
            shared_jobs.append(job)
    shared = [digest(f, errors) for f in load_files(shared_jobs, errors)]
    errors.raise_if_any()
    # Every submission hollow but the one being built, made whole for its turn.
    whole = {}
    for k, d in enumerate(shared):
        if d.kind == "submission":
            whole[d.data[0].id] = (k, d)
            hollow = copy.copy(d)
            hollow.data = (replace(d.data[0], introduction=(), sequence=()), d.data[1])
            shared[k] = hollow
    subs = sorted(by_sub)
    env = templating.environment(args.templates)
    templating.compile_templates(env)
    languages = _build(shared).config.languages
    labels = {lang: pipeline.load_labels(args.templates, lang) for lang in languages}
    gc.freeze()

    turns_r, turns_w = os.pipe()  # a token per submission: each process takes the next one left
    for i in range(len(subs)):
        os.write(turns_w, i.to_bytes(4, "big"))
    os.close(turns_w)
    sums = tempfile.TemporaryFile()  # the worker's summaries, read by the main process at the end
    child = os.fork()
    kept: list[tuple] = []
    pages = 0
    while got := os.read(turns_r, 4):
        sub = subs[int.from_bytes(got, "big")]
        found = Collector()
        k, d = whole[sub]
        mine = list(shared)
        mine[k] = d
        site = _build(mine + [digest(f, found) for f in load_files(by_sub[sub], found)])
        found.raise_if_any()
        s = site.submission_by_id[sub]
        for lang in languages:
            urls = Urls("/", lang)
            renderer = render.Renderer(site, env, urls, labels[lang], build_date=pipeline.build_date(lang),
                                       languages=languages)
            own = render.submission_pages(site, urls, s)
            for page in own:
                parallel._write(args.out, urls.output_path(page.url), renderer.html(page))
                pages += 1
        got_summary = summary(site, sub)
        if child == 0:
            pickle.dump(got_summary, sums)
        else:
            kept.append(got_summary)
        del site, renderer, own, got_summary
        gc.collect()  # the site's and renderer's cycles
        markdown.forget_facts()  # every text of the submission: none is asked for again
    if child == 0:
        sums.flush()
        os._exit(0)
    _, status = os.waitpid(child, 0)
    if status != 0:
        raise SystemExit("the forked process failed")
    sums.seek(0)
    while True:
        try:
            kept.append(pickle.load(sums))
        except EOFError:
            break
    paragraphs = sum(len(x[2]) for x in kept)
    mentions = sum(len(x[3]) for x in kept)
    print(f"{len(kept)} submissions, {paragraphs} paragraphs in their sequences, {mentions} that mention an "
          f"entity; {pages} pages in this process")
    if args.compare is not None:
        same, differ = 0, []
        for page in args.out.rglob("*.html"):
            rel = page.relative_to(args.out)
            built = args.compare / rel
            if built.is_file() and built.read_bytes() == page.read_bytes():
                same += 1
            else:
                differ.append(rel.as_posix())
        print(f"{same} pages byte for byte those of {args.compare}; {len(differ)} not: {differ[:5]}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
