"""A fast build is the same build: cached, parallel and incremental output equals a cold one-process
build byte for byte (outside pagefind/), and the shortcuts inside equal the slow ways they replace."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CONTENT, ROOT, TEMPLATES, build_site

from evidence_site import cache, load, markdown, parallel, parallel_load, pipeline, render, templating, views, write
from evidence_site import helper as helper_mod

sys.path.insert(0, str(ROOT / "bench"))
import corpus as bench_corpus  # noqa: E402


def tree(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("pagefind/"):
            out[rel] = path.read_bytes()
    return out


def assert_same_site(a: Path, b: Path) -> None:
    ta, tb = tree(a), tree(b)
    assert sorted(ta) == sorted(tb), "the two builds wrote different files"
    differ = [rel for rel in ta if ta[rel] != tb[rel]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"


def cold_build(out: Path, content: Path, monkeypatch) -> Path:
    """The reference: no cache, one process."""
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "1")
    return build_site(out, "/", content, search=False)


def fast_build(out: Path, content: Path, cache: Path, monkeypatch, logs: list | None = None) -> Path:
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", str(cache))
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "2")
    pipeline.build(pipeline.Settings(content=content, templates=TEMPLATES, out=out, search=False),
                   log=(logs.append if logs is not None else lambda *a: None))
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """100 records of the benchmark's corpus: enough pages for the build to use worker processes,
    with Markdown, acronyms, mentions, lists and joint statements."""
    root = tmp_path_factory.mktemp("corpus")
    bench_corpus.write_ours(bench_corpus.generate(100), root)
    return root / "content"


def edit_record(content: Path) -> Path:
    record = sorted((content / "responses").rglob("*.yaml"))[7]
    text = record.read_text()
    first = text.index("    text: |-\n") + len("    text: |-\n")
    end = text.index("\n", first)
    # New Markdown, an acronym's first use and a link in an existing paragraph.
    record.write_text(text[:end] + " Now **CCE** and the [MASH](https://example.org/mash) review." + text[end:])
    return record


def test_parallel_build_equals_one_process_build(synthetic, tmp_path, monkeypatch):
    forked = []
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)  # 100 records: fork even for this little
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)  # other tests' servers run threads
    chunks = parallel._chunks
    monkeypatch.setattr(parallel, "_chunks", lambda jobs, n: forked.append(n) or chunks(jobs, n))
    fast = fast_build(tmp_path / "fast", synthetic, tmp_path / "cache", monkeypatch)
    assert forked == [2], "the build should have rendered in two worker processes"
    cold = cold_build(tmp_path / "cold", synthetic, monkeypatch)
    assert len(list(cold.rglob("*.html"))) > 100
    assert_same_site(fast, cold)


def test_this_process_renders_beside_its_workers_and_every_page_is_written_once(synthetic, tmp_path, monkeypatch):
    """With two cores, one worker is forked and this process, once the data files are written,
    renders the chunks the worker has not started: pages come from both, each page from one."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    log = tmp_path / "writers.log"
    parent, real_write = os.getpid(), parallel._write

    def logged(root, rel, html):
        if os.getpid() != parent:
            time.sleep(0.002)  # however fast the worker, chunks are left for this process
        state = real_write(root, rel, html)
        with open(log, "a") as f:  # one short append per page: lines from two processes do not mix
            f.write(f"{os.getpid()} {rel}\n")
        return state

    monkeypatch.setattr(parallel, "_write", logged)
    fast = fast_build(tmp_path / "fast", synthetic, tmp_path / "cache", monkeypatch)
    writers = [line.split(" ", 1) for line in log.read_text().splitlines()]
    pages = [rel for _, rel in writers]
    assert sorted(pages) == sorted(p.relative_to(fast).as_posix() for p in fast.rglob("*.html"))
    assert len(set(pages)) == len(pages), "a page was written twice"
    pids = {pid for pid, _ in writers}
    assert str(os.getpid()) in pids and len(pids) == 2, pids
    assert_same_site(fast, cold_build(tmp_path / "cold", synthetic, monkeypatch))


@pytest.mark.parametrize("workers", ["2", "1"])
def test_a_build_remembers_its_output_as_a_walk_of_it_finds_it(workers, synthetic, tmp_path, monkeypatch):
    """A build without search remembers each file's size, time and inode from what it wrote (the
    pages as their writer left them) and kept (as the last build left them), not by walking the
    folder again: the same as the walk, file for file, or the next build would take an untouched
    site for a touched one, or the reverse. A full build, then an edit without a spare, then one
    with it."""
    import json

    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    content, store, out = tmp_path / "content", tmp_path / "cache", tmp_path / "site"
    shutil.copytree(synthetic, content)
    walk, walked = cache._output_state, []
    monkeypatch.setattr(cache, "_output_state", lambda root: walked.append(root) or walk(root))
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", str(store))
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", workers)
    logs: list[str] = []
    for edit in range(3):
        if edit:
            edit_record(content)
        pipeline.build(pipeline.Settings(content=content, templates=TEMPLATES, out=out, search=False),
                       log=logs.append)
        remembered = json.loads(cache._state_file(store, out).read_text())["files"]
        assert remembered == walk(out), logs[-1]
        assert len(remembered) > 100
    assert not [w for w in walked if w == out], "a build walked its output to remember it"
    assert "rebuilt" in logs[1] and "rebuilt" in logs[2], logs


def _renderers(content: Path, lang: str = "en"):
    """The model of ``content``, its URLs in ``lang`` and a function that makes a renderer of its
    pages in that language, as a build does (every renderer made shares nothing with another)."""
    from evidence_site.urls import Urls

    site = pipeline.load_site(content)
    urls = Urls("/", lang)
    env = templating.environment(TEMPLATES)
    env.globals["glossary_uses"] = pipeline._Lazy(lambda: pipeline.glossary_uses(site))
    labels = pipeline.load_labels(TEMPLATES, lang)
    return site, urls, lambda: render.Renderer(site, env, urls, labels, build_date=None,
                                               languages=site.config.languages)


def test_a_rendering_process_keeps_no_prepared_text_of_the_groups_it_has_finished(synthetic, tmp_path, monkeypatch):
    """Each paragraph's prepared text (``views.SharedText``) is kept while pages that show it may
    still come, and dropped once its submission's chunk is done: a process rendering an inquiry no
    longer holds every paragraph it ever prepared (50 MB and more of each process's peak at
    100,000 paragraphs). The pages of no group come first and keep what they prepared for the
    groups still to come."""
    site, urls, new_renderer = _renderers(synthetic)
    renderer = new_renderer()
    job = parallel.Job(renderer, render.all_pages(site, urls))
    monkeypatch.setattr(parallel, "_JOBS", [job])
    monkeypatch.setattr(parallel, "_ROOT", tmp_path)
    monkeypatch.setattr(parallel.gc, "freeze", lambda: None)  # the test process's objects stay collectable
    finished: set[str] = set()
    held_by_pages_of_no_group = set()
    for chunk in parallel._chunks([job], 2):
        assert parallel._render_chunk(chunk)[1]
        groups = {parallel._group(job.pages[i][1]) for i in chunk[1]} - {None}
        finished |= groups
        held = {sub for sub, prepared in renderer.shared._prepared.items() if prepared}
        assert not held & finished, "prepared text of a finished group is still kept"
        if not groups:
            held_by_pages_of_no_group |= held
    assert held_by_pages_of_no_group, "the entity pages and the glossary prepare paragraphs of the groups to come"
    assert finished == {s.id for s in site.submissions}
    assert not any(renderer.shared._prepared.values())


@pytest.mark.parametrize("content,lang", [("synthetic", "en"), ("real", "en"), ("real", "cy")])
def test_every_page_renders_alone_as_it_does_after_the_pages_before_it(synthetic, content, lang):
    """Pages share what they make of a paragraph (its prepared text, link and citation) and the parts of the header and
    footer that are the same on every page of a kind (base.html's fragments): every page rendered by
    a renderer of its own, sharing nothing, is byte for byte the page rendered in a build's order
    (the real site's force and question pages show their answers in full, without anchors; its
    entity lists are four, each marked in the navigation)."""
    site, urls, renderer = _renderers(synthetic if content == "synthetic" else CONTENT, lang)
    pages = render.all_pages(site, urls)
    shared = renderer()
    in_order = {rel: shared.render(page) for rel, page in pages}
    assert 0 < len(shared._fragments) < len(pages) / 4, "the header and footer are rendered once per kind of page"
    for rel, page in pages:
        assert renderer().render(page) == in_order[rel], rel


def test_one_process_keeps_the_prepared_text_of_one_group_at_a_time(synthetic, tmp_path, monkeypatch):
    """Rendering in one process (a small site, ``serve``, EVIDENCE_SITE_WORKERS=1), each submission's
    prepared text (``views.SharedText``: its paragraphs' HTML, citations and markup) is let go of
    when the next submission's pages begin, not kept to the end; the site is the same."""
    site, urls, new_renderer = _renderers(synthetic)
    renderer = new_renderer()
    pages = render.all_pages(site, urls)
    held: list[set[str]] = []
    real_html = renderer.html

    def html(page):  # what is held as each page of a group is rendered
        if parallel._group(page) is not None:
            held.append({sub for sub, prepared in renderer.shared._prepared.items() if prepared})
        return real_html(page)

    monkeypatch.setattr(renderer, "html", html)
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "1")
    out = tmp_path / "pages"
    out.mkdir()
    parallel.render_pages([parallel.Job(renderer, pages)], out)
    assert len(held) == sum(parallel._group(page) is not None for _, page in pages)
    assert max(len(subs) for subs in held) == 1, "prepared text of an earlier submission is still kept"
    cold = cold_build(tmp_path / "cold", synthetic, monkeypatch)
    for rel, _ in pages:
        assert (out / rel).read_bytes() == (cold / rel).read_bytes(), rel


@pytest.mark.parametrize("edited", [False, True])
def test_no_collection_walks_every_object_loading_made(synthetic, tmp_path, monkeypatch, edited):
    """Loading turns the cyclic collector off (it makes millions of objects at an inquiry's scale,
    and no cycles) and the model is frozen out of its sight once loaded: frozen before the collector
    is on again, or its first collection walks every object the loading made (0.05 s of a one-record
    rebuild at N = 5,000, whose whole budget is a second; more in a cold build and in ``check``)."""
    import gc

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache_dir, out = tmp_path / "cache", tmp_path / "site"
    if edited:  # a rebuild from the cache's digests, as an editor's next preview
        fast_build(out, content, cache_dir, monkeypatch)
        edit_record(content)
    young: list[int] = []  # objects in the youngest generation as each collection starts

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            young.append(gc.get_count()[0])

    frozen = gc.get_freeze_count()
    gc.callbacks.append(watch)
    try:
        fast_build(out, content, cache_dir, monkeypatch)
        pipeline.check(content, TEMPLATES)
    finally:
        gc.callbacks.remove(watch)
        if gc.get_freeze_count() > frozen:
            gc.unfreeze()  # check's model is frozen for the life of its process: not of this one
    limit = 2 * gc.get_threshold()[0]  # a collection starts once the youngest generation passes the threshold
    assert young, "no collection at all: the collector was left off"
    assert max(young) < limit, f"a collection started with {max(young)} young objects (the loaded model)"


def test_a_worker_is_given_its_next_chunk_only_once_it_has_finished_the_last():
    """Chunks are not queued in a worker ahead of time (it could not give them back): at the end
    this process would have nothing left to render while the worker still had several."""
    from concurrent.futures import Future

    given: list[tuple[tuple, Future]] = []

    class Pool:
        def submit(self, fn, chunk):
            given.append((chunk, Future()))
            return given[-1][1]

    feeder = parallel._Feeder(Pool(), [(0, [i]) for i in range(6)], 1)
    feeder.give()
    feeder.start()
    try:
        assert [c for c, _ in given] == [(0, [0])]
        assert feeder.take() == (0, [1])  # this process takes the next chunk itself
        given[0][1].set_result(None)  # the worker is done with its first
        deadline = time.monotonic() + 10
        while len(given) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [c for c, _ in given] == [(0, [0]), (0, [2])]
        assert [feeder.take() for _ in range(4)] == [(0, [3]), (0, [4]), (0, [5]), None]
    finally:
        for _, future in given:
            if not future.done():
                future.set_result(None)
        feeder.join()
    assert len(given) == 2 and set(feeder.futures) == {f for _, f in given}


def test_a_render_worker_that_dies_leaves_its_pages_to_this_process(synthetic, tmp_path, monkeypatch):
    """A worker killed halfway (out of memory, say) fails the chunk it held; this process renders
    that chunk and every chunk not yet given out, and the site is a cold build's."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    parent, real_write = os.getpid(), parallel._write
    died = tmp_path / "died"

    def dying(root, rel, html):  # the worker dies on the first page it would write
        if os.getpid() != parent:
            died.write_text(rel)
            os._exit(9)
        return real_write(root, rel, html)

    monkeypatch.setattr(parallel, "_write", dying)
    fast = fast_build(tmp_path / "fast", synthetic, tmp_path / "cache", monkeypatch)
    assert died.exists(), "the worker should have been given the first chunk, and died"
    assert (fast / died.read_text()).is_file()
    assert_same_site(fast, cold_build(tmp_path / "cold", synthetic, monkeypatch))


def test_workers_take_the_pages_of_no_group_first_and_every_page_once(synthetic):
    """The glossary, entity, force and question pages (whose work is reckoned least well) are handed
    out before any submission's pages, so none of them is left for one worker alone at the end; each
    submission's pages stay in one chunk, those chunks largest first; every page is in one chunk."""
    from types import SimpleNamespace

    from evidence_site.urls import Urls

    site = pipeline.load_site(synthetic)
    entries = render.all_pages(site, Urls("/"))
    job = parallel.Job(SimpleNamespace(site=site), entries)
    chunks = parallel._chunks([job], 2)
    indexes = [i for _, idx in chunks for i in idx]
    assert sorted(indexes) == list(range(len(entries)))
    grouped = [any(parallel._group(entries[i][1]) is not None for i in idx) for _, idx in chunks]
    assert grouped == sorted(grouped), "a chunk of pages of no group comes after a submission's"
    assert not all(grouped) and any(grouped)
    assert all(parallel._group(entries[i][1]) is not None for (_, idx), g in zip(chunks, grouped) if g for i in idx)
    owner: dict[str, int] = {}
    for n, (_, idx) in enumerate(chunks):
        for i in idx:
            group = parallel._group(entries[i][1])
            if group is not None:
                assert owner.setdefault(group, n) == n, f"{group}'s pages are in two chunks"
    costs = parallel._costs(job)
    sizes = [sum(costs[i] for i in idx) for (_, idx), g in zip(chunks, grouped) if g]
    assert sizes == sorted(sizes, reverse=True)


def test_a_page_given_in_pieces_is_written_whole(tmp_path, monkeypatch):
    # Batches of three pieces; runs of empty pieces longer than a batch must not end the page early.
    monkeypatch.setattr(write, "WRITE_BATCH", 3)
    pieces = ["<p>", "", "", "", "", "", "", "Caerdydd – ", "", "x" * 10, "</p>", "", "\n"]
    parallel._write(tmp_path, "a/b/index.html", iter(pieces))
    assert (tmp_path / "a/b/index.html").read_bytes() == "".join(pieces).encode("utf-8")
    parallel._write(tmp_path, "a/c/index.html", "<p>whole</p>")
    assert (tmp_path / "a/c/index.html").read_text(encoding="utf-8") == "<p>whole</p>"
    parallel._write(tmp_path, "a/d/index.html", iter([]))
    assert (tmp_path / "a/d/index.html").read_bytes() == b""


def test_rebuild_after_an_edit_equals_a_cold_build(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache = tmp_path / "cache"
    out = fast_build(tmp_path / "site", content, cache, monkeypatch)  # fills the cache
    edit_record(content)
    logs: list[str] = []
    fast_build(out, content, cache, monkeypatch, logs)
    assert logs[-1].startswith("rebuilt "), logs[-1]  # only the pages showing the record, in two workers
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_nothing_changed_leaves_the_site_as_it_is_and_a_touched_site_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    out = fast_build(tmp_path / "site", CONTENT, cache, monkeypatch)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    logs: list[str] = []
    fast_build(out, CONTENT, cache, monkeypatch, logs)
    assert "up to date" in logs[-1]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before

    (out / "index.html").unlink()  # the output is not as the last build left it: build again
    fast_build(out, CONTENT, cache, monkeypatch, logs)
    assert "built" in logs[-1] and (out / "index.html").is_file()
    assert_same_site(out, cold_build(tmp_path / "cold", CONTENT, monkeypatch))


def _count_compiles(monkeypatch) -> list[str]:
    """Templates compiled in this process (a forked helper's count stays in the helper)."""
    import jinja2

    compiled: list[str] = []
    compile_ = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return compile_(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return compiled


def _cold_with_helper(out: Path, cache_dir: Path | None, monkeypatch) -> Path:
    """A cold build (into a folder the cache has no build of, or with no cache) on two cores."""
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", str(cache_dir) if cache_dir is not None else "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "2")
    pipeline.build(pipeline.Settings(content=CONTENT, templates=TEMPLATES, out=out, search=False), log=lambda *a: None)
    return out


NAMES = templating.template_names(templating.environment(TEMPLATES))


@pytest.mark.parametrize("cache_on", [True, False])
def test_templates_the_helper_compiled_are_not_compiled_again(cache_on, tmp_path, monkeypatch):
    """The helper done before this process looks (a large site's load outlasts it): every template
    is loaded from the helper's bytecode, with or without a cache to hand it over in."""
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    everything = helper_mod.Stream.poll
    monkeypatch.setattr(helper_mod.Stream, "poll", lambda self, wait=False: everything(self, wait=True))
    compiled = _count_compiles(monkeypatch)
    out = _cold_with_helper(tmp_path / "site", tmp_path / "cache" if cache_on else None, monkeypatch)
    assert compiled == []
    assert_same_site(out, cold_build(tmp_path / "cold", CONTENT, monkeypatch))


def _slow_helper(monkeypatch) -> None:
    """The helper (forked after this) compiles the first template at once, then one every 0.4 s."""
    each = templating.compile_each

    def slow(*args):
        made = each(*args)
        for i in range(len(NAMES)):
            if i:
                time.sleep(0.4)
            yield next(made)  # compiles the next template (or raises its error) only now

    monkeypatch.setattr(templating, "compile_each", slow)


@pytest.mark.parametrize("cache_on", [True, False])
def test_this_process_compiles_from_the_last_template_until_it_meets_the_helper(cache_on, tmp_path, monkeypatch):
    """A helper slower than this process (a small site loads in a blink): this process compiles the
    templates from the last, each once, and stops where the helper has got to; the site is the same."""
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    _slow_helper(monkeypatch)
    compiled = _count_compiles(monkeypatch)
    out = _cold_with_helper(tmp_path / "site", tmp_path / "cache" if cache_on else None, monkeypatch)
    met = len(NAMES) - len(compiled)  # the templates this process left to the helper
    assert 1 <= met < len(NAMES)
    assert compiled == NAMES[met:][::-1]
    assert_same_site(out, cold_build(tmp_path / "cold", CONTENT, monkeypatch))


def test_a_helper_that_dies_leaves_its_templates_to_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    each = templating.compile_each

    def dying(*args):
        yield next(each(*args))
        os._exit(9)  # as if killed, once it has sent the first template

    monkeypatch.setattr(templating, "compile_each", dying)
    compiled = _count_compiles(monkeypatch)
    out = _cold_with_helper(tmp_path / "site", None, monkeypatch)
    assert sorted(compiled) == NAMES[1:]  # every other template, each once, compiled here
    assert_same_site(out, cold_build(tmp_path / "cold", CONTENT, monkeypatch))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_with_no_helper_this_process_compiles_every_template_in_order(workers, tmp_path, monkeypatch):
    """No helper: one process asked for (``EVIDENCE_SITE_WORKERS=1``), or none can be forked (``serve``
    runs threads)."""
    monkeypatch.setattr(helper_mod, "may_fork", lambda: workers == "1")
    compiled = _count_compiles(monkeypatch)
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", workers)
    out = build_site(tmp_path / "site", "/", CONTENT, search=False)
    assert compiled == NAMES
    assert_same_site(out, cold_build(tmp_path / "cold", CONTENT, monkeypatch))


@pytest.mark.parametrize("forks", [True, False])
def test_of_two_broken_templates_the_first_is_reported_as_one_process_finds_it(forks, tmp_path, monkeypatch, capsys):
    """This process compiles from the last template, the helper from the first: this process finds
    the last broken template first, yet the editor is told of the first (file and line), as with no
    helper, and nothing is built."""
    from evidence_site import cli

    monkeypatch.setattr(helper_mod, "may_fork", lambda: forks)
    _slow_helper(monkeypatch)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    first, last = NAMES[2], NAMES[-1]
    for name in (first, last):
        (templates / name).write_text((templates / name).read_text() + "\n{% if %}\n")
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "2")
    code = cli.main(["build", "--content", str(CONTENT), "--templates", str(templates),
                     "--out", str(tmp_path / "site"), "--no-search"])
    said = capsys.readouterr().err.strip().splitlines()
    line = len((templates / first).read_text().splitlines())
    assert code == 1 and len(said) == 1
    assert said[0].startswith(f"{templates / first}:{line}:1: error: template: ")
    assert not (tmp_path / "site").exists()


def test_a_template_error_found_by_the_helper_is_raised_as_it_is(tmp_path, monkeypatch):
    import jinja2

    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    page = templates / "glossary.html"
    page.write_text(page.read_text() + "\n{% if %}\n")
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", str(tmp_path / "cache"))
    settings_ = pipeline.Settings(content=CONTENT, templates=templates, out=tmp_path / "site", search=False)
    with pytest.raises(jinja2.TemplateSyntaxError) as raised:
        pipeline.build(settings_, log=lambda *a: None)
    assert raised.value.name == "glossary.html"
    assert raised.value.lineno == len(page.read_text().splitlines())
    assert not (tmp_path / "site").exists()  # nothing built
    # Raised once the content was loaded: the digests written meanwhile are not left half a file.
    assert not [f.name for f in (tmp_path / "cache").iterdir() if f.name.endswith(".tmp")]


# What the command line has imported when it forks the template compiler: none of what only the
# pages need, which the compiler would otherwise carry (and the build wait for) to no use.
PAGES_ONLY = ("yaml", "markdown_it", "evidence_site.load", "evidence_site.model", "evidence_site.views",
              "evidence_site.render", "evidence_site.pipeline")

COMPILER_OF_THE_COMMAND_LINE = r"""
import json, os, sys, time
sys.path.insert(0, {src!r})
from pathlib import Path
from evidence_site import cli
compiling = cli.compiling(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
imported = sorted(m for m in sys.modules if m in {pages_only!r} or m.split(".")[0] in {pages_only!r})
if compiling is None:
    print(json.dumps({{"started": False, "imported": imported}}))
    sys.exit()
# Nothing is read until the compiler has ended: it must not have to wait for this process to read.
deadline, ended = time.monotonic() + 30, False
while not ended and time.monotonic() < deadline:
    ended = os.waitpid(compiling.pid, os.WNOHANG) != (0, 0)
    time.sleep(0.02)
names = [name for name, _ in compiling.poll(wait=ended)]
print(json.dumps({{"started": True, "imported": imported, "ended": ended, "names": names}}))
os._exit(0)  # the compiler, if it still waits, is not waited for
"""


def test_the_command_line_forks_the_compiler_before_importing_what_only_the_pages_need(tmp_path):
    """A build into a folder the cache has no build of: the compiler is forked before YAML,
    Markdown or the model are imported, and compiles every template without waiting for the build
    to read its bytecode (a cold build reads it once the content is loaded). A rebuild, whose
    templates' bytecode is in the cache, starts none."""
    import json
    import subprocess

    script = tmp_path / "compiler.py"
    script.write_text(COMPILER_OF_THE_COMMAND_LINE.format(src=str(ROOT / "src"), pages_only=PAGES_ONLY))
    env = {**os.environ, "EVIDENCE_SITE_CACHE": str(tmp_path / "cache"), "EVIDENCE_SITE_WORKERS": "2"}
    out = tmp_path / "site"

    def look() -> dict:
        run = subprocess.run([sys.executable, str(script), str(CONTENT), str(TEMPLATES), str(out)], env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    cold = look()
    assert cold == {"started": True, "imported": [], "ended": True, "names": NAMES}
    subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--content", str(CONTENT), "--templates",
                    str(TEMPLATES), "--out", str(out), "--no-search"], env=env, check=True, capture_output=True)
    assert look() == {"started": False, "imported": []}


def test_a_build_from_the_command_line_is_the_one_process_build(tmp_path, monkeypatch):
    """The compiler forked by the command line is the build's (no second one compiles every template
    again) and feeds its pages: the same site, byte for byte."""
    from evidence_site import cli

    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "2")
    started = []
    start = helper_mod.Stream.start
    monkeypatch.setattr(helper_mod.Stream, "start", lambda self: started.append(self) or start(self))
    compiled = _count_compiles(monkeypatch)
    _slow_helper(monkeypatch)  # this process compiles some templates too, from the last
    assert cli.main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES),
                     "--out", str(tmp_path / "site"), "--no-search"]) == 0
    assert len(started) == 1
    assert 1 <= len(compiled) < len(NAMES)
    assert_same_site(tmp_path / "site", cold_build(tmp_path / "cold", CONTENT, monkeypatch))


def test_a_compiler_started_before_a_build_was_remembered_is_stopped(tmp_path, monkeypatch):
    """Between the command line's look and the build's own (under the lock), another build into the
    folder was remembered: this build has the templates' bytecode in the cache, and stops the compiler."""
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    out = fast_build(tmp_path / "site", CONTENT, tmp_path / "cache", monkeypatch)
    compiling = templating.compiling(TEMPLATES, cache.template_bytecode(TEMPLATES))
    assert compiling.pid
    logs: list[str] = []
    pipeline.build(pipeline.Settings(content=CONTENT, templates=TEMPLATES, out=out, search=False),
                   log=logs.append, compiling=compiling)
    assert "up to date" in logs[-1]
    assert compiling.ended and compiling.pid == 0  # stopped and reaped


def test_a_template_change_is_not_up_to_date(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", str(tmp_path / "cache"))
    settings_ = pipeline.Settings(content=CONTENT, templates=templates, out=tmp_path / "site", search=False)
    pipeline.build(settings_, log=lambda *a: None)
    base = templates / "base.html"
    base.write_text(base.read_text().replace("</footer>", "<p>changed footer</p></footer>"))
    logs: list[str] = []
    pipeline.build(settings_, log=logs.append)
    assert "built" in logs[-1]
    assert "changed footer" in (tmp_path / "site" / "index.html").read_text()


# --- the shortcuts against the slow ways they replace ----------------------------------------------

def reference_render(text, mention_urls, abbr, seen):
    """Paragraph rendering as it was before any caching: parse, copy, transform, render."""
    toks = [t.copy() for t in markdown.MD.parseInline(text)[0].children] if text else []
    dead = any(t.type == "link_open" and t.attrGet("href") == markdown.DEAD_LINK for t in toks)
    toks = markdown._drop_dead_links(toks)
    for phrase, url in mention_urls:
        toks = markdown._link(toks, phrase, url)
    if abbr is not None:
        toks = markdown._abbr(toks, abbr[0], abbr[1], seen)
    return markdown.MD.renderer.render(toks, markdown.MD.options, {}), dead


EXPANSIONS = {"CCE": "Child criminal exploitation", "CE": 'Criminal "exploitation"', "ACEs": "Adverse"}
ABBR = (markdown.acronym_pattern(EXPANSIONS), EXPANSIONS)
PIECES = st.sampled_from(list("ab XY.,;:'\"-#$%+=@{}~()?/\t\\`*_[]!<>&^\n\r") + [
    "**", "CCE", "CE", "ACEs", "[a](#)", "[CCE](https://x.org/a)", "&amp;", "^th^", "  \n", "<https://x.org>",
    "![i *j*](https://x.org/i.png)", "`c d`", "\\*", "Operation Falcon"])
TEXTS = st.lists(PIECES, max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), mentioned=st.booleans())
def test_prepared_paragraphs_render_as_markdown_it_does_on_any_page(texts, mentioned):
    """The plain-text shortcut, the remembered parse and the per-page acronym variants give what
    rendering each text afresh gives, along a page's run of paragraphs (first use expands)."""
    mentions = [("Operation Falcon", "/initiatives/op/"), ("CCE", "/e/cce/")] if mentioned else []
    seen_fast: set[str] = set()
    seen_ref: set[str] = set()
    for text in texts + texts:  # the second run meets already-expanded acronyms
        if not markdown.is_plain(text):
            markdown._facts(text)  # as validation leaves it: tokens remembered compactly
        prep = markdown.prepare(text, mentions, ABBR)
        html = markdown.expand(prep, ABBR, seen_fast)
        assert (html, prep.dead_link) == reference_render(text, mentions, ABBR, seen_ref)
        assert seen_fast == seen_ref
        kids = markdown.MD.parseInline(text)[0].children if text else []
        assert markdown.plain_text(text) == "".join(
            t.content for t in kids if t.type in ("text", "code_inline", "text_special"))


TERMS = st.lists(st.text(alphabet="CEAsO'-_é ", min_size=1, max_size=5), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(terms=TERMS, text=st.text(alphabet="CEAsO'-_é x1.", max_size=40))
def test_the_acronym_pattern_finds_what_a_look_behind_in_front_finds(terms, text):
    """markdown.acronym_pattern tests the character before a term after matching it (so the search
    can skip ahead); it finds the same terms at the same places as the plain pattern."""
    ordered = sorted(set(terms), key=len, reverse=True)
    plain = re.compile(r"(?<![\w-])(" + "|".join(re.escape(t) for t in ordered) + r")(?![\w-])")
    fast = markdown.acronym_pattern(terms)
    assert [(m.span(1), m.group(1)) for m in fast.finditer(text)] == \
        [(m.span(1), m.group(1)) for m in plain.finditer(text)]


def test_plain_text_is_one_text_token_for_markdown_it():
    for text in ["plain words, numbers 12 and: colons - dashes (brackets) 'quotes' \"double\" # $ % + = @ { } ~",
                 "  spaces around  ", "tab\tinside", "Welsh: Heddlu Gogledd Cymru – ŵ ŷ"]:
        assert markdown.is_plain(text)
        kids = markdown.MD.parseInline(text)[0].children
        assert [(t.type, t.content) for t in kids] == [("text", text)]


def test_indexes_answer_as_the_scans_did(synthetic):
    site = pipeline.load_site(synthetic)
    fast = views.indexed(site)
    order = {pid: i for s in site.submissions for i, pid in enumerate(s.sequence)}
    joint_seen = 0
    for e in site.entities:
        slow = sorted((p for p in site.paragraph_by_id.values() if any(m.entity == e.id for m in p.mentions)),
                      key=lambda p: (p.submission, order.get(p.id, -1)))
        assert views.mentions_of(fast, e.id) == slow
    for r in site.records:
        ids = {m.entity for p in r.paragraphs for m in p.mentions}
        assert views.entities_in(fast, r.paragraphs) == [e for e in site.entities if e.id in ids]
        for b in site.submission_by_id[r.submission].bodies:
            slow_joint = site.joint_paragraphs(r.submission, b, r.question)  # the model's own scan
            assert fast.joint_paragraphs(r.submission, b, r.question) == slow_joint
            joint_seen += bool(slow_joint)
    for f in site.forces:
        assert views.bodies_of_force(fast, f.id) == [b for b in site.bodies if b.force == f.id]
    assert joint_seen, "the corpus should hold joint statements"


def test_remembered_selectattr_answers_as_jinja_does():
    from jinja2 import Environment

    source = ('{% for t in ["a", "b", "c"] %}{{ items|selectattr("kind", "equalto", t)|map(attribute="n")|list }}'
              '{{ items|selectattr("n", "in", [1, 3])|list|length }}{{ items|selectattr("kind")|list|length }}'
              '{% endfor %}')
    items = tuple({"kind": k, "n": n} for n, k in enumerate(["a", "b", "a", "", "c"]))
    memo = templating.environment(TEMPLATES).from_string(source)
    plain = Environment().from_string(source)
    assert memo.render(items=items) == plain.render(items=items)
    assert memo.render(items=list(items)) == plain.render(items=list(items))


def test_no_cache_folder_is_written_when_the_cache_is_off(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    cold_build(tmp_path / "site", CONTENT, monkeypatch)
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    pipeline.build(pipeline.Settings(content=CONTENT, templates=templates, out=tmp_path / "site2", search=False),
                   log=lambda *a: None)
    assert not (tmp_path / ".build-cache").exists()


def test_an_error_in_a_worker_is_raised_as_in_one_process(synthetic, tmp_path, monkeypatch):
    """A template mistake that only shows when a page renders reaches the editor as it would from a
    one-process build (the worker's chunk is rendered again in the parent), and nothing is swapped in."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_COST", 0)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    record = templates / "record.html"
    record.write_text(record.read_text().replace("{% block main %}", "{% block main %}{{ t.no_such_label_here }}", 1))
    monkeypatch.setenv("EVIDENCE_SITE_CACHE", "off")
    monkeypatch.setenv("EVIDENCE_SITE_WORKERS", "2")
    with pytest.raises(KeyError, match="no_such_label_here"):
        pipeline.build(pipeline.Settings(content=synthetic, templates=templates, out=tmp_path / "site", search=False),
                       log=lambda *a: None)
    assert not (tmp_path / "site").exists()


# --- the loaded content files the cache keeps --------------------------------------------------------

BUILD_COUNTING_PARSES = r"""
import json, sys
sys.path.insert(0, {src!r})
from pathlib import Path
from evidence_site import cache, load, markdown, pipeline
files, texts, reads = [], [], []
content = Path(sys.argv[1]).resolve()
hashed = []
real_inputs = cache.inputs
def inputs(*args, **kwargs):
    try:
        return real_inputs(*args, **kwargs)
    finally:
        hashed.append(True)
cache.inputs = inputs
def reading(event, args):  # every file opened once the inputs are hashed, however it is read
    if event == "open" and hashed and isinstance(args[0], (str, Path)) and Path(args[0]).resolve().is_relative_to(content):
        reads.append(str(args[0]))
sys.addaudithook(reading)
real_parse = load.parse_text
def counting(text, shown, errors):
    files.append(shown)
    return real_parse(text, shown, errors)
load.parse_text = counting
def parsing(real):  # a text's Markdown read by the fast path (_simple_compact) or by markdown-it
    def parse(text):
        texts.append(text)
        return real(text)
    return parse
markdown._simple_compact = parsing(markdown._simple_compact)
markdown._parse_markdown = parsing(markdown._parse_markdown)
if sys.argv[3] == "check":
    pipeline.check(Path(sys.argv[1]), Path(sys.argv[2]))
else:
    pipeline.build(pipeline.Settings(content=Path(sys.argv[1]), templates=Path(sys.argv[2]), out=Path(sys.argv[3]),
                                     search=False), log=lambda *a: None)
print(json.dumps([[f for f in files if "templates/labels/" not in f], texts, reads]))
"""


def build_in_a_process(content: Path, out: Path | str, cache: Path, split: str,
                       fails: bool = False) -> tuple[list[str], list[str]]:
    """Build as build.py does (or check, when ``out`` is "check"), in a fresh process (so loading may
    fork): the content files whose YAML it parsed and the texts whose Markdown it parsed, in this
    process (and, in ``LAST_READS``, the content files it read once the inputs were hashed). With
    ``fails``, the build must stop on a content error (and nothing is returned)."""
    import json
    import os
    import subprocess

    env = dict(os.environ, EVIDENCE_SITE_CACHE=str(cache), EVIDENCE_SITE_WORKERS="2", EVIDENCE_SITE_LOAD_SPLIT=split)
    done = subprocess.run([sys.executable, "-c", BUILD_COUNTING_PARSES.format(src=str(ROOT / "src")), str(content),
                           str(TEMPLATES), str(out)], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if fails:
        assert done.returncode != 0 and "ContentErrors" in done.stderr, done.stderr
        return [], []
    assert done.returncode == 0, done.stderr
    files, texts, reads = json.loads(done.stdout)
    LAST_READS[:] = reads
    return files, texts


LAST_READS: list[str] = []


BUILD_WATCHING_DIGESTS = r"""
import json, os, sys
sys.path.insert(0, {src!r})
from pathlib import Path
from evidence_site import cache, parallel_load, pipeline
{patch}
seen = []
real_put = cache.Digests.put
def put(self, key, blob):
    real_put(self, key, blob)
    ends = [end for _, end in self._written.values()]
    on_disk = os.path.getsize(self._next_path) if self._next_path else 0
    seen.append([len(self._pending), on_disk, max(ends, default=0), bytes(blob) in Path(self._next_path).read_bytes()
                 if self._next_path else False, sys._getframe(1).f_code.co_name])
cache.Digests.put = put
hashed = []
real_hash = cache._hash_file
cache._hash_file = lambda path: hashed.append(path) or real_hash(path)
pipeline.build(pipeline.Settings(content=Path(sys.argv[1]), templates=Path(sys.argv[2]), out=Path(sys.argv[3]),
                                 search=False), log=lambda *a: None)
print(json.dumps([seen, hashed]))
"""


@pytest.mark.parametrize("patch", ["", "WORKER_DIES_LATER"])
def test_each_file_loaded_is_written_to_the_cache_as_it_is_loaded(synthetic, tmp_path, monkeypatch, patch):
    """A cold build keeps every file's digest, but no process holds them all (49 MB at 5,000
    records, counted again in every process forked after loading): each is on disk once given,
    those from the loading worker too, and a file loaded again after its worker died is kept once.
    Every file's hash is taken from the bytes loaded, the worker's too: none is read again to hash
    it. The next build parses only the file edited since, and builds a cold build's site."""
    import json
    import struct
    import subprocess

    from test_load_parallel import WORKER_DIES_LATER

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    env = dict(os.environ, EVIDENCE_SITE_CACHE=str(store), EVIDENCE_SITE_WORKERS="2", EVIDENCE_SITE_LOAD_SPLIT="always")
    script = BUILD_WATCHING_DIGESTS.format(src=str(ROOT / "src"), patch=WORKER_DIES_LATER if patch else "")
    done = subprocess.run([sys.executable, "-c", script, str(content), str(TEMPLATES), str(out)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    seen, hashed = json.loads(done.stdout)
    assert hashed == []
    files = len(list(content.rglob("*.yaml")))
    assert len(seen) >= files  # every file's, and those a dead worker had sent again
    for pending, on_disk, end, found, _ in seen:
        assert pending == 0 and on_disk == end and found  # written when given, none held back
    # Given where they are made: this process's own as it loads them, the worker's as each part comes.
    assert {caller for *_, caller in seen} == {"_load_run", "_take"}
    (kept,) = store.glob("digests-*.pickle")
    assert not list(store.glob("*.tmp"))
    known = cache.Digests(store)
    assert len(known.entries) == files
    # Every byte before the index (the file's last 8 bytes give its size) is an entry's: none written twice.
    data = kept.read_bytes()
    (index_size,) = struct.unpack("<Q", data[-8:])
    assert sum(b - a for a, b in known.entries.values()) == len(data) - 8 - index_size
    record = edit_record(content)
    parsed, _ = build_in_a_process(content, out, store, "never")
    assert len(parsed) == 1 and parsed[0].endswith("/" + record.relative_to(content).as_posix()), parsed
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_a_rebuild_parses_only_the_files_edited_since_and_builds_the_same(synthetic, tmp_path, monkeypatch):
    """The first build (loading in two processes) keeps every file's digest; after an edit, the next
    build parses the YAML of the edited file alone and the Markdown of no other record, and its site
    is a cold build's, byte for byte."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache, out = tmp_path / "cache", tmp_path / "site"
    first, _ = build_in_a_process(content, out, cache, "always")
    assert 0 < len(first) < len(list(content.rglob("*.yaml")))  # a worker parsed the others
    record = edit_record(content)
    files, texts = build_in_a_process(content, out, cache, "never")
    assert len(files) == 1 and files[0].endswith("/" + record.relative_to(content).as_posix()), files
    # The files the cache knows are found by the hashes taken with the build's inputs: not read again.
    assert [Path(f).resolve() for f in LAST_READS] == [record.resolve()], LAST_READS
    site = pipeline.load_site(content)
    others = {p.text for r in site.records if r.path != files[0] for p in r.paragraphs}
    assert texts and not others.intersection(texts)
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_kept_digests_carry_the_markdown_of_texts_the_process_knew(synthetic, tmp_path):
    """`serve` builds again and again in one process, which knows every text from its last build
    and parses none again: the digests it keeps must still carry each text's parsed Markdown, or a
    later build, in a new process, would parse every text again."""
    from evidence_site import cache as cache_mod

    store = tmp_path / "cache"
    pipeline.load_site(synthetic)  # every text parsed, and known to this process from now on
    known = cache_mod.Digests(store)
    pipeline.load_site(synthetic, known=known)
    known.save()
    markdown._FACTS.clear()  # as in a new process
    site = pipeline.load_site(synthetic, known=cache_mod.Digests(store))
    before = markdown.parsed_count()
    pipeline.glossary_uses(site)  # reads every paragraph's words
    assert markdown.parsed_count() == before


def test_texts_parsed_for_the_cache_are_kept_packed(synthetic, tmp_path):
    """A cold build keeping a cache packs each text's parsed Markdown for it: the loading process
    keeps the packed facts of the texts it parsed itself too, as those a worker sent (unpacked, its
    share took 28 MB at 5,000 records, and the page worker forked after loading counted them
    again); reading them parses nothing again and renders as a build without the cache does."""
    from evidence_site import cache as cache_mod

    markdown._FACTS.clear()
    site = pipeline.load_site(synthetic, known=cache_mod.Digests(tmp_path / "cache"))
    marked = {p.text for p in site.paragraph_by_id.values() if not markdown.is_plain(p.text)}
    assert marked and all(isinstance(markdown._FACTS.get(text), bytes) for text in marked)
    before = markdown.parsed_count()
    prepared = {text: markdown.prepare(text).html for text in marked}
    assert markdown.parsed_count() == before
    markdown._FACTS.clear()
    assert prepared == {text: markdown.prepare(text).html for text in marked}  # parsed afresh


def test_a_rebuild_reads_the_kept_digests_without_mapping_them(synthetic, tmp_path, monkeypatch):
    """The digests a rebuild takes are read from the cache file where they lie, one at a time: the
    file is never mapped into memory (its pages, 49 MB at 5,000 records, would count in the memory
    of the process making the model) and is closed once the content is loaded."""
    import pickle

    from evidence_site import cache as cache_mod

    store = tmp_path / "cache"
    first = cache_mod.Digests(store)
    pipeline.load_site(synthetic, known=first)
    first.save()
    (kept,) = store.glob("digests-*.pickle")
    path = str(kept.resolve())

    def mapped() -> bool:
        return path in Path("/proc/self/maps").read_text()

    def open_() -> bool:
        return any(os.path.realpath(f"/proc/self/fd/{fd}") == path for fd in os.listdir("/proc/self/fd"))

    known = cache_mod.Digests(store)
    real_loads = pickle.loads
    seen = []

    def loads(data, *args, **kwargs):
        seen.append(mapped())
        return real_loads(data, *args, **kwargs)

    monkeypatch.setattr(pickle, "loads", loads)
    pipeline.load_site(synthetic, known=known)
    monkeypatch.undo()
    assert len(known.used) == len(known.entries) and seen and not any(seen)  # every file from the cache
    assert open_() and not known.worth_saving()  # nothing to write: pipeline.build lets it go
    known.discard()
    assert not open_() and not mapped()
    assert list(store.iterdir()) == [kept]  # no next file begun, none left
    # `check` reads the digests and never saves: the file is closed once the digests are let go of.
    checking = cache_mod.Digests(store, saving=False)
    pipeline.load_site(synthetic, known=checking)
    assert open_()
    del checking
    assert not open_()


def test_the_half_written_cache_file_of_a_killed_build_is_deleted_by_the_next(synthetic, tmp_path):
    """A build killed while it loads (a closed terminal, the out-of-memory killer) cannot clean up:
    the next cache file it was writing, tens of megabytes, is left. The next build that writes the
    cache deletes it; that of a build still running is left to it."""
    import subprocess

    from evidence_site import cache as cache_mod

    store = tmp_path / "cache"
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    name = cache_mod.Digests(store).path.name
    store.mkdir()
    orphan = store / f"{name}.{killed.pid}.abc123.tmp"
    running = store / f"{name}.{os.getpid()}.def456.tmp"
    for f in (orphan, running):
        f.write_bytes(b"half an entry")
    known = cache_mod.Digests(store)
    pipeline.load_site(synthetic, known=known)
    known.save()
    assert not orphan.exists() and running.exists()
    assert len(cache_mod.Digests(store).entries) == len(list(synthetic.rglob("*.yaml")))


@pytest.mark.parametrize("failing", ["created", "written"])
def test_a_cache_file_that_cannot_be_written_leaves_the_build_as_it_was(synthetic, tmp_path, monkeypatch, failing):
    """Writing the next cache file fails (a full disk, a folder not writable): the loading goes on,
    the files the last file knows are still taken from it, nothing half-written is left, and the
    last file stays as it was."""
    from evidence_site import cache as cache_mod

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store = tmp_path / "cache"
    first = cache_mod.Digests(store)
    fresh = pipeline.load_site(content, known=first)
    first.save()
    (kept,) = store.glob("digests-*.pickle")
    before = kept.read_bytes()
    records = sorted((content / "responses").rglob("*.yaml"))[:10]  # more than a fiftieth: written again
    for record in records:
        record.write_text(record.read_text().replace("    text: |-\n      ", "    text: |-\n      Edited. ", 1))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "created":
        monkeypatch.setattr(cache_mod.tempfile, "mkstemp", full)
    else:
        monkeypatch.setattr(cache_mod.Digests, "_append", full)
    parsed = []
    real_parse = load.parse_text
    monkeypatch.setattr(load, "parse_text", lambda *args: parsed.append(args[1]) or real_parse(*args))
    known = cache_mod.Digests(store)
    site = pipeline.load_site(content, known=known)
    known.save()
    assert len(parsed) == len(records)  # the others taken from the last file
    assert len(site.paragraph_by_id) == len(fresh.paragraph_by_id) and site != fresh
    assert list(store.iterdir()) == [kept] and kept.read_bytes() == before


@pytest.mark.parametrize("block", [64, 20_000, 1 << 18])
def test_kept_digests_read_a_block_at_a_time_are_the_digests(synthetic, tmp_path, monkeypatch, block):
    """The cache file is read a block at a time, whatever the entries' sizes (smaller than an entry,
    a few entries, many): every file's digest taken from it makes the model a load without it makes."""
    from evidence_site import cache as cache_mod

    store = tmp_path / "cache"
    first = cache_mod.Digests(store)
    fresh = pipeline.load_site(synthetic, known=first)
    first.save()
    monkeypatch.setattr(cache_mod, "_BLOCK", block)
    parsed = []
    real_parse = load.parse_text
    monkeypatch.setattr(load, "parse_text", lambda *args: parsed.append(args[1]) or real_parse(*args))
    known = cache_mod.Digests(store)
    assert pipeline.load_site(synthetic, known=known) == fresh
    assert len(known.used) == len(known.entries) == len(list(synthetic.rglob("*.yaml")))
    assert parsed == []  # every entry read whole: none refused, no file parsed instead


@pytest.mark.parametrize("damage", ["cut short", "empty", "index past the end", "an older format"])
def test_a_cache_that_cannot_be_read_is_not_used(synthetic, tmp_path, monkeypatch, damage):
    import pickle
    import struct

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache, out = tmp_path / "cache", tmp_path / "site"
    build_in_a_process(content, out, cache, "never")
    (kept,) = cache.glob("digests-*.pickle")
    data = kept.read_bytes()
    kept.write_bytes({
        "cut short": data[: len(data) // 2],  # as by a full disk
        "empty": b"",
        "index past the end": data[:-8] + struct.pack("<Q", len(data)),  # its size, the file's last 8 bytes
        "an older format": pickle.dumps({b"k" * 16: data[100:200]}),  # the entries pickled in one dict
    }[damage])
    edit_record(content)
    files, _ = build_in_a_process(content, out, cache, "never")
    assert len(files) == len(list(content.rglob("*.yaml")))
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_an_error_across_files_reads_the_same_from_kept_digests(synthetic, tmp_path, monkeypatch):
    """A paragraph id used again in an edited file: the message names where it was first used, in a
    file whose digest came from the cache, as a build from nothing names it."""
    from evidence_site import cache as cache_mod
    from evidence_site.errors import ContentErrors

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store = tmp_path / "cache"
    known = cache_mod.Digests(store)
    pipeline.load_site(content, known=known)
    known.save()
    records = sorted((content / "responses").rglob("*.yaml"))
    first_id = records[0].read_text().split("  - id: ", 1)[1].split("\n", 1)[0]
    last = records[-1]
    last.write_text(last.read_text().replace("  - id: ", f"  - id: {first_id}\n    page: 1\n    text: |-\n      Again."
                                             "\n  - id: ", 1))
    messages = []
    for known in (cache_mod.Digests(store), None):
        with pytest.raises(ContentErrors) as caught:
            pipeline.load_site(content, known=known)
        messages.append(str(caught.value))
    assert f"duplicate paragraph id '{first_id}' (first used at" in messages[0]
    assert messages[0] == messages[1]


def test_after_a_failed_build_only_the_fixed_file_is_parsed_again(synthetic, tmp_path, monkeypatch):
    """An editor's mistake stops the build; the files that loaded well are kept all the same, so the
    build after the fix parses the fixed file alone."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache, out = tmp_path / "cache", tmp_path / "site"
    record = sorted((content / "responses").rglob("*.yaml"))[3]
    good = record.read_text()
    record.write_text(good.replace("    page: ", "    page: two\n    pge: ", 1))
    build_in_a_process(content, out, cache, "never", fails=True)
    record.write_text(good)
    files, _ = build_in_a_process(content, out, cache, "never")
    assert len(files) == 1 and files[0].endswith("/" + record.relative_to(content).as_posix()), files
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


# build.py's build, every page rendered by a worker where one can be (100 records are too few
# otherwise), noting when a first chunk of pages is given to a worker and when the checks across files
# begin.
BUILD_LOGGING_CHECKS = r"""
import sys
sys.path.insert(0, {src!r})
from evidence_site import cli, parallel, validate
parallel.MIN_PARALLEL_COST = 0
def note(what):
    with open({events!r}, "a") as f:
        f.write(what + "\n")
real_give, real_register = parallel._Feeder.give, validate._register_ids
def give(self):
    running = real_give(self)
    if running:
        note("worker")
    return running
def register(*args):
    note("checks")
    return real_register(*args)
parallel._Feeder.give, validate._register_ids = give, register
cli.run(sys.argv[1:])
"""


@pytest.mark.parametrize("mistake", ["an unknown body", "a second record for one answer"])
def test_a_mistake_across_files_stops_a_full_build_as_check_reports_it(synthetic, tmp_path, mistake):
    """A full build of a large site checks across files (references, duplicate ids, one record per
    answer, sequences) while a worker renders its first pages. A mistake found there stops the
    build with the messages ``check`` prints, in its order, also when the model it breaks fails
    before the checks have run (a submission listing a body no file defines has no page to
    render); the last good site is left as it was, nothing is left beside it, and the files that
    loaded well are kept by the cache: after the fix only the fixed file is parsed again."""
    import subprocess

    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache_dir, out = tmp_path / "cache", tmp_path / "site"
    build_in_a_process(content, out, cache_dir, "never")  # the last good site
    before, beside = tree(out), sorted(p.name for p in tmp_path.iterdir())
    # Records edited too: parsed by the build that fails (more than the few the cache would not be
    # rewritten for), and kept for the next.
    for record in sorted((content / "responses").rglob("*.yaml"))[10:14]:
        text = record.read_text()
        end = text.index("\n", text.index("    text: |-\n") + len("    text: |-\n"))
        record.write_text(text[:end] + " Edited before the mistake." + text[end:])
    if mistake == "an unknown body":
        fixed = sorted((content / "submissions").glob("*.yaml"))[1]
        good = fixed.read_text()
        fixed.write_text(re.sub(r"(?m)^bodies: \[", "bodies: [nobody-police, ", good, count=1))
        expected = "unknown body 'nobody-police'"
    else:
        record = sorted((content / "responses").rglob("*.yaml"))[3]
        fixed = record.with_name("again-" + record.name)
        shutil.copy(record, fixed)
        expected = "duplicate paragraph id"
    env = dict(os.environ, EVIDENCE_SITE_CACHE=str(cache_dir), EVIDENCE_SITE_WORKERS="2")
    events = tmp_path / "events"  # what the build did, in order (outside tmp_path's listing below)

    def run(*args: str, boot: str = "") -> subprocess.CompletedProcess:
        command = ["-c", boot] if boot else [str(ROOT / "build.py")]
        return subprocess.run([sys.executable, *command, *args, "--content", str(content),
                               "--templates", str(TEMPLATES)],
                              env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)

    built = run("build", "--out", str(out), "--no-search", boot=BUILD_LOGGING_CHECKS.format(
        src=str(ROOT / "src"), events=str(events)))
    logged = events.read_text().split() if events.exists() else []
    events.unlink(missing_ok=True)
    checked = run("check")
    assert built.returncode == 1 == checked.returncode, built.stderr
    if mistake == "a second record for one answer":  # the model renders: the checks run beside a worker
        assert logged[0] == "worker" and "checks" in logged, logged
    assert expected in built.stderr and "Traceback" not in built.stderr, built.stderr
    assert built.stderr == checked.stderr
    assert tree(out) == before, "the last good site changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == beside, "something was left beside the site"
    if mistake == "an unknown body":
        fixed.write_text(good)
    else:
        fixed.unlink()
    files, _ = build_in_a_process(content, out, cache_dir, "never")
    assert not [f for f in files if not f.endswith("/" + fixed.relative_to(content).as_posix())], \
        f"parsed again after the fix: {files}"


def test_check_reads_the_kept_digests_and_writes_nothing(synthetic, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    cache = tmp_path / "cache"
    build_in_a_process(content, tmp_path / "site", cache, "never")
    before = {f: f.stat().st_mtime_ns for f in cache.rglob("*")}
    record = edit_record(content)
    files, _ = build_in_a_process(content, "check", cache, "never")
    assert len(files) == 1 and files[0].endswith("/" + record.relative_to(content).as_posix()), files
    assert {f: f.stat().st_mtime_ns for f in cache.rglob("*")} == before


def test_the_cache_names_each_file_as_os_path_relpath_would(tmp_path, monkeypatch):
    """Relative paths are cut from the walked paths (for speed): the same names as relpath gives,
    whether the folder is given relative, absolute or with a trailing separator."""
    for rel in ["a.yaml", "responses/s/b/q1.yaml", "responses/s/b/q2.yaml", "x/y/z/deep.yaml", ".hidden"]:
        (tmp_path / "root" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "root" / rel).write_text(rel)
    monkeypatch.chdir(tmp_path)
    for root in [tmp_path / "root", Path("root"), Path("./root"), str(tmp_path / "root") + os.sep]:
        expected = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
        assert sorted(rel for _, rel in cache._walk(root)) == expected
        assert sorted(cache._output_state(Path(root))) == expected
        stats = {rel: os.lstat(os.path.join(root, rel)) for rel in expected}
        assert cache._output_state(Path(root)) == {rel: [st.st_size, st.st_mtime_ns, st.st_ino]
                                                   for rel, st in stats.items()}
        assert sorted(cache._file_hashes(Path(root))) == expected


# --- the content files' hashes, kept with their size, times and inode -------------------------------

def _hashing(monkeypatch) -> tuple[list[str], list[str]]:
    """The content files the build reads from now on, in this process (loading is kept to it): read
    to hash the build's inputs, and read whole to be loaded and kept by the cache (and hashed)."""
    hashed: list[str] = []
    loaded: list[str] = []
    real_hash, real_read = cache._hash_file, parallel_load.read_hashed
    monkeypatch.setattr(cache, "_hash_file", lambda path: hashed.append(os.fspath(path)) or real_hash(path))
    monkeypatch.setattr(parallel_load, "read_hashed", lambda path: loaded.append(os.fspath(path)) or real_read(path))
    monkeypatch.setenv("EVIDENCE_SITE_LOAD_SPLIT", "never")
    return hashed, loaded


def test_an_unchanged_file_is_not_read_again_to_hash_the_inputs(synthetic, tmp_path, monkeypatch):
    """A first build into a folder reads each content file once, hashing the bytes it loads (not
    once to hash the inputs and again to load them: 5,000 files took a tenth of a second). A rebuild
    hashes the inputs again to find what changed: the files whose size, times and inode are as the
    first build found them are not read (5,000 of them took a tenth of a second); the edited one is,
    and the rebuild is a cold build's, byte for byte."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    (content / "notes.txt").write_text("not content: hashed with the inputs all the same")
    store, out = tmp_path / "cache", tmp_path / "site"
    files = sorted(os.fspath(f) for f in content.rglob("*") if f.is_file())
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the copies are new: trust their times at once
    hashed, loaded = _hashing(monkeypatch)
    fast_build(out, content, store, monkeypatch)
    assert sorted(hashed + loaded) == files  # the first build reads every file, once
    assert hashed == [os.fspath(content / "notes.txt")]
    hashed.clear()
    loaded.clear()
    record = edit_record(content)
    fast_build(out, content, store, monkeypatch)
    assert [Path(f).resolve() for f in hashed] == [record.resolve()]
    hashed.clear()
    (content / "notes.txt").write_text("edited")
    fast_build(out, content, store, monkeypatch)  # only a file that is not content changed: a rebuild
    assert hashed == [os.fspath(content / "notes.txt")]
    hashed.clear()
    loaded.clear()
    logs: list[str] = []
    fast_build(out, content, store, monkeypatch, logs)  # nothing changed: nothing read
    assert hashed == [] and loaded == [] and "up to date" in logs[-1]
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_an_edit_that_keeps_the_size_and_the_time_is_still_seen(synthetic, tmp_path, monkeypatch):
    """An editor's tool that writes a file of the same length and sets its modification time back
    (as `touch -r` or a sync can) still changes the file's change time: the edit is built."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    monkeypatch.setattr(cache, "RACY_NS", 0)
    fast_build(out, content, store, monkeypatch)
    record = sorted((content / "responses").rglob("*.yaml"))[3]
    before = record.stat()
    text = record.read_text()
    first = text.index("    text: |-\n      ") + len("    text: |-\n      ")
    changed = text[:first] + ("X" if text[first] != "X" else "Y") + text[first + 1:]
    record.write_text(changed)
    os.utime(record, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (record.stat().st_size, record.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    fast_build(out, content, store, monkeypatch)
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_a_file_edited_while_a_first_build_runs_is_built_by_the_next(synthetic, tmp_path, monkeypatch):
    """A first build hashes the content files from the bytes it loads: a record saved again once it
    was loaded is not taken for built (its page shows the text before the edit); the next build
    builds it."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    real_load = pipeline.load_model
    edited: list[Path] = []

    def load_then_edit(*args, **kwargs):
        try:
            return real_load(*args, **kwargs)
        finally:
            edited.append(edit_record(content))

    monkeypatch.setattr(pipeline, "load_model", load_then_edit)
    fast_build(out, content, store, monkeypatch)
    monkeypatch.setattr(pipeline, "load_model", real_load)
    (record,) = edited
    logs: list[str] = []
    fast_build(out, content, store, monkeypatch, logs)
    assert "up to date" not in logs[-1] and "1 record file(s) edited" in logs[-1], logs
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_a_file_hashed_just_after_it_changed_is_read_again(synthetic, tmp_path, monkeypatch):
    """A file written in the same tick of the clock as it was hashed could be written again with its
    times unchanged: a file changed within RACY_NS before it was hashed is read again next time."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    monkeypatch.setattr(cache, "RACY_NS", 3600 * 10**9)  # an hour: every file is "just changed"
    hashed, loaded = _hashing(monkeypatch)
    fast_build(out, content, store, monkeypatch)
    files = sorted(hashed + loaded)
    hashed.clear()
    fast_build(out, content, store, monkeypatch)
    assert sorted(hashed) == files


def test_a_hashes_file_that_cannot_be_read_is_not_used(synthetic, tmp_path, monkeypatch):
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    monkeypatch.setattr(cache, "RACY_NS", 0)
    fast_build(out, content, store, monkeypatch)
    (kept,) = (store / "hashes").glob("*.pickle")
    kept.write_bytes(kept.read_bytes()[: kept.stat().st_size // 2])
    edit_record(content)
    fast_build(out, content, store, monkeypatch)
    assert_same_site(out, cold_build(tmp_path / "cold", content, monkeypatch))


def test_the_libraries_versions_in_the_cache_key_are_those_installed(tmp_path, monkeypatch):
    """The cache's key names each library's version as importlib.metadata finds it, read from the
    dist-info folders' names; a library installed again at another version (earlier on the path)
    changes the key, so nothing kept by the old one is used."""
    import importlib.metadata

    def found(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "none"

    assert cache._versions() == ";".join(f"{name}={found(name)}" for name in cache._PACKAGES)
    before = cache.code_key()
    (tmp_path / "Jinja2-99.0.1.dist-info").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "jinja2=99.0.1;" in cache._versions()
    assert cache.code_key() != before


def test_record_files_are_named_from_the_content_folder_however_it_is_given(monkeypatch):
    """The rows a rebuild compares with the last build's: each record's file relative to the content
    folder, whether the folder was given relative to here, absolute, as "." or from below it."""
    truth = sorted(p.relative_to(CONTENT).as_posix() for p in (CONTENT / "responses").rglob("*.yaml"))
    assert truth
    for cwd, given in [(ROOT, Path("content")), (ROOT, CONTENT), (CONTENT, Path(".")),
                       (CONTENT / "responses", Path("..")), (CONTENT, CONTENT)]:
        monkeypatch.chdir(cwd)
        site = pipeline.load_site(given)
        assert sorted(row[0] for row in pipeline._record_files(site, given)) == truth, (cwd, given)


# --- the listings a rebuild checks, read by a helper while the content loads ------------------------

def test_a_helper_reads_the_listings_as_this_process_would(synthetic, tmp_path, monkeypatch):
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    fast_build(out, content, store, monkeypatch)
    edit_record(content)
    fast_build(out, content, store, monkeypatch)  # a rebuild: it keeps a spare
    spare = out.with_name(f".{out.name}.spare")
    saved = cache.saved_state(store, out)
    assert saved is not None and isinstance(saved.get("spare"), list)
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    walks = cache.Walks(out, spare, saved).start()
    assert walks.helper.pid  # a helper runs
    assert walks.output() == cache._output_state(out)
    assert walks.spare() == cache._inodes(spare, cache._folders(saved["files"]))
    assert walks.helper.pid == 0  # reaped once its listings were taken


def test_a_helper_that_dies_leaves_the_listings_to_this_process(synthetic, tmp_path, monkeypatch):
    """A helper killed or failing sends nothing usable: this process reads the folders itself, with
    the same result, and no helper is left behind."""
    content = tmp_path / "content"
    shutil.copytree(synthetic, content)
    store, out = tmp_path / "cache", tmp_path / "site"
    fast_build(out, content, store, monkeypatch)
    saved = cache.saved_state(store, out)
    parent = os.getpid()
    walk = cache.Walks._walk

    def dying(self):
        if os.getpid() != parent:
            os._exit(3)
        return walk(self)

    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    monkeypatch.setattr(cache.Walks, "_walk", dying)
    walks = cache.Walks(out, None, saved).start()
    pid = walks.helper.pid
    assert pid
    assert walks.output() == cache._output_state(out)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already


def test_a_touched_output_is_seen_by_the_helper(synthetic, tmp_path, monkeypatch):
    """A page changed by hand after a build: the rebuild after an edit builds every page, whether
    the listings were read by a helper or here, and equals a cold build."""
    for helper in (True, False):
        monkeypatch.setattr(helper_mod, "may_fork", lambda: helper)
        content = tmp_path / f"content-{helper}"
        shutil.copytree(synthetic, content)
        store, out = tmp_path / f"cache-{helper}", tmp_path / f"site-{helper}"
        fast_build(out, content, store, monkeypatch)
        page = next(out.glob("forces/*/index.html"))
        page.write_text(page.read_text(encoding="utf-8") + "<!-- touched -->", encoding="utf-8")
        edit_record(content)
        logs: list = []
        fast_build(out, content, store, monkeypatch, logs)
        assert "the output folder was changed since the last build" in logs[-1], logs
        assert_same_site(out, cold_build(tmp_path / f"cold-{helper}", content, monkeypatch))


def test_the_files_hashed_as_inputs_are_the_content_files_a_walk_finds(tmp_path):
    """A build loads the YAML files whose hashes it took with its inputs instead of walking the
    content folder again: the same files, in the same order, as ``content_files`` finds, whatever
    the folder holds (a folder linked in, a folder named like a YAML file, a hidden `.yaml`, a
    linked file, other files)."""
    from evidence_site.content import content_files, listed_files

    root = tmp_path / "content"
    for rel in ["site.yaml", "a.yml", "responses/s/b/q1.yaml", "responses/s/b/q2.yaml", "notes.txt", ".yaml",
                "folder.yaml/inner.yaml", "responses/s.yaml", "x/y/z/deep.yaml", "x/.hidden.yaml"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "out.yaml").write_text("x")
    os.symlink(tmp_path / "elsewhere", root / "linked")
    os.symlink(root / "a.yml", root / "x" / "link.yaml")
    listed = listed_files(root, cache._file_hashes(root))
    assert listed == listed_files(root) and [file for file, _ in listed] == content_files(root)
    files = [file for file, _ in listed]
    assert root / "x" / "link.yaml" in files and root / "folder.yaml" / "inner.yaml" in files
    assert not any("linked" in str(p) or p.name in ("notes.txt", ".yaml") for p in files)


def test_kept_markdown_is_unpacked_only_when_a_text_is_read(synthetic, tmp_path):
    """A rebuild takes every paragraph's parsed Markdown from the cache but renders a few pages: the
    facts stay packed, and a text read is read as if just parsed (none parsed again) and left packed
    (unpacked, they took three times the memory in every process that read them); one that cannot
    be unpacked is parsed again instead of breaking the build."""
    from evidence_site import cache as cache_mod

    store = tmp_path / "cache"
    known = cache_mod.Digests(store)
    fresh = pipeline.glossary_uses(pipeline.load_site(synthetic, known=known))
    known.save()
    markdown._FACTS.clear()  # as in a new process
    site = pipeline.load_site(synthetic, known=cache_mod.Digests(store))
    marked = [p.text for p in site.paragraph_by_id.values() if not markdown.is_plain(p.text)]
    packed = [text for text in marked if isinstance(markdown._FACTS.get(text), bytes)]
    assert len(packed) > len(marked) // 2  # left packed by loading and checking
    before = markdown.parsed_count()
    assert pipeline.glossary_ids(pipeline.glossary_uses(site)) == pipeline.glossary_ids(fresh)
    assert markdown.parsed_count() == before
    assert [text for text in marked if isinstance(markdown._FACTS.get(text), bytes)] == packed
    markdown._FACTS[packed[0]] = b"not a pickle"
    assert markdown.plain_text(packed[0]) and markdown.parsed_count() == before + 1
