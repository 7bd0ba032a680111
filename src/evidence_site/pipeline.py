"""The build: load → validate → model → render → write → index, one call each."""

from __future__ import annotations

import gc
import os
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from . import cache, data, deps, helper, parallel, render, templating, views, write
from .content import read_content, shown_path
from .errors import Collector, ContentErrors
from .load import LocDict, load_file
from .model import Site
from .urls import DEFAULT_LANGUAGE, Urls, normalise_base


@dataclass(frozen=True)
class Settings:
    content: Path
    templates: Path
    out: Path
    base_url: str = "/"
    site_url: str | None = None
    search: bool = True


def load_site(content: Path, site_url: str | None = None, known: cache.Digests | None = None,
              hashes: dict[str, str] | None = None) -> Site:
    """Read and validate all content; raises ContentErrors with every problem found. ``known``: the
    cache's digests of content files loaded before (only the other files are parsed), and kept
    with those of the files that loaded well when there are errors, so that they are not parsed
    again once the others are fixed; ``hashes``: the content files' hashes taken with the build's
    inputs (``read_content``)."""
    site, checks = load_model(content, site_url, known, hashes)
    checks()
    return site


def load_model(content: Path, site_url: str | None = None, known: cache.Digests | None = None,
               hashes: dict[str, str | None] | None = None,
               read: dict[str, tuple] | None = None) -> tuple[Site, Callable[[], None]]:
    """``load_site`` with its checks across files left for later (``validate.combine``): the
    model, and a function that runs those checks and raises ContentErrors with every problem found
    (as ``load_site`` would have), run once however often it is called. Until it has run without
    raising, the model may break any rule those checks enforce: it is only rendered into a staging
    folder, which their errors throw away (``build``). Every problem a file has on its own is raised
    here, as by ``load_site``. ``known``, ``hashes``, ``read``: see ``content.read_content``."""
    from .validate import validate_later  # noqa: PLC0415 - keeps import of the CLI light for --help

    errors = Collector()
    # Loading makes millions of objects and no cycles: the cyclic collector would walk them all again
    # and again (a quarter of the loading time), so it is off meanwhile, whoever calls.
    collecting = gc.isenabled()
    gc.disable()
    try:
        raw = read_content(content, errors, known, hashes, read)  # on several cores when the content is large
        site, later = validate_later(raw, errors)  # runs after load errors too, so every file's mistakes are listed
        del raw
    finally:
        if collecting:
            gc.enable()

    def raise_found() -> None:
        if errors.errors and known is not None:
            known.save()  # the files that loaded well are not parsed again once the others are fixed
        errors.raise_if_any()

    raise_found()
    assert site is not None
    if site_url:
        site = replace(site, config=replace(site.config, site_url=site_url))

    def checks() -> None:
        later()  # once: ``validate.combine``
        raise_found()

    return site, checks


def load_labels(templates: Path, lang: str, unreviewed: list[str] | None = None) -> render.Labels:
    """One interface language's labels. English (en.yaml) holds plain strings and defines the keys;
    every other language's file holds, for exactly the same keys, ``{text: ..., reviewed: bool}``.
    A missing, extra or malformed label is a build error: never an English fallback. Keys whose
    translation no speaker has reviewed yet are appended to ``unreviewed``."""
    errors = Collector()
    file = templates / "labels" / f"{lang}.yaml"
    shown = shown_path(file)
    raw = load_file(file, shown, errors)
    out: dict[str, str] = {}
    if raw is not None and lang == DEFAULT_LANGUAGE:
        for key, value in raw.items():
            if not isinstance(value, str):
                m = raw.value_at(key)
                errors.add(shown, m.line, m.col, f"label '{key}' must be text")
            out[key] = value
    elif raw is not None:
        english = load_labels(templates, DEFAULT_LANGUAGE)
        for key, value in raw.items():
            m = raw.value_at(key)
            if key not in english:
                mk = raw.key_at(key)
                errors.add(shown, mk.line, mk.col, f"label '{key}' is not in {DEFAULT_LANGUAGE}.yaml: remove it "
                           f"or add it there first")
            elif (not isinstance(value, dict) or set(value) != {"text", "reviewed"}
                  or not isinstance(value["text"], str) or not isinstance(value["reviewed"], bool)):
                errors.add(shown, m.line, m.col, f"label '{key}' must be a mapping "
                           "{text: \"...\", reviewed: false} (true once a Welsh speaker has reviewed it)")
            else:
                if _placeholders(value["text"]) != _placeholders(english[key]):
                    errors.add(shown, m.line, m.col, f"label '{key}' must use the placeholders "
                               f"{sorted(_placeholders(english[key])) or 'none'}, as in {DEFAULT_LANGUAGE}.yaml")
                out[key] = value["text"]
                if not value["reviewed"] and unreviewed is not None:
                    unreviewed.append(key)
        for key in english:
            if key not in raw:
                errors.add(shown, raw.mark.line, raw.mark.col,
                           f"label '{key}' is missing: every key of {DEFAULT_LANGUAGE}.yaml needs a translation "
                           "here (no English fallback)")
    errors.raise_if_any()
    assert isinstance(raw, LocDict)
    return render.Labels(out)


def _placeholders(text: str) -> set[str]:
    import re

    return set(re.findall(r"\{(\w*)\}", text))


WELSH_MONTHS = ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst", "Medi",
                "Hydref", "Tachwedd", "Rhagfyr")


def build_date(lang: str = DEFAULT_LANGUAGE) -> str | None:
    """The build's date in the interface's language ('10 June 2024', '10 Mehefin 2024')."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None  # no date rather than an unreproducible one
    day = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    if lang == "cy":
        return f"{day.day} {WELSH_MONTHS[day.month - 1]} {day.year}"
    return day.strftime("%-d %B %Y")


GLOSSARY_BATCH = 4096  # paragraphs searched at a time: their words joined are about a megabyte


def glossary_uses(site: Site, reuse: tuple[dict[str, list[str]], frozenset[str]] | None = None) -> dict[str, list]:
    """Each glossary term's paragraphs (where its words stand as a whole word), in reading order.

    ``reuse``: the last build's uses (term -> paragraph ids, ``glossary_ids``) and the paragraphs of
    the records edited since, for an incremental rebuild: only those paragraphs are searched (no
    other paragraph's text, nor the glossary, can have changed); the result is the same."""
    from bisect import bisect_right, insort

    from . import markdown

    terms = [a.term for a in site.acronyms]
    if reuse is not None and set(reuse[0]) != set(terms):
        reuse = None
    by_id = site.paragraph_by_id
    paragraphs = list(by_id.values()) if reuse is None else [by_id[pid] for pid in reuse[1] if pid in by_id]
    patterns = [markdown.acronym_pattern([term]) for term in terms]  # the term as a word, as pages expand it
    hits: list[list] = [[] for _ in terms]
    # A batch of paragraphs' words in one string, NUL between two (no text holds one: markdown.is_plain),
    # so each term is looked for in one pass at C speed, not once per paragraph; a batch at a time, so
    # the words of an inquiry's 100,000 paragraphs are never one string of tens of megabytes.
    for at in range(0, len(paragraphs), GLOSSARY_BATCH):
        batch = paragraphs[at:at + GLOSSARY_BATCH]
        starts: list[int] = []
        end = 0
        words = []
        for p in batch:
            plain = markdown.plain_text(p.text)
            starts.append(end)
            words.append(plain)
            end += len(plain) + 1
        joined = "\0".join(words)
        starts.append(end)
        for pat, found in zip(patterns, hits):
            m = pat.search(joined)
            while m is not None:
                i = bisect_right(starts, m.start()) - 1
                found.append(batch[i])
                m = pat.search(joined, starts[i + 1])  # one use per paragraph: on to the next
    # Reading order: a paragraph's place in its submission (its introduction, then its answers'
    # sequence), then the introduction's before the answers', then the submission's place.
    key = _reading_order_key(site)
    uses: dict[str, list] = {}
    for term, found in zip(terms, hits):
        if reuse is None:
            uses[term] = sorted(found, key=key)
        else:
            # The last build's uses in the paragraphs not edited are in reading order still: only
            # record files were edited, so every submission's order, and the model's, is as it was.
            edited = reuse[1]
            kept = [by_id[pid] for pid in reuse[0][term] if pid not in edited and pid in by_id]
            for p in found:
                insort(kept, p, key=key)
            uses[term] = kept
    return uses


def _reading_order_key(site: Site):
    """The place of a paragraph in ``glossary_uses``'s reading order, worked out for the paragraphs
    asked about only: (place in its submission, introduction first, the submission's place)."""
    from itertools import count

    rank = {s.id: i for i, s in enumerate(site.submissions)}
    places: dict[str, dict[str, int]] = {}

    def key(p) -> tuple[int, bool, int]:
        place = places.get(p.submission)
        if place is None:
            sub = site.submission_by_id[p.submission]
            place = places[p.submission] = {q.id: i for i, q in enumerate(sub.introduction)}
            place.update(zip(sub.sequence, count(1000)))
        return place.get(p.id, 0), p.body is not None, rank[p.submission]

    return key


def glossary_ids(uses: dict[str, list]) -> dict[str, list[str]]:
    """``glossary_uses`` as the cache keeps it: paragraph ids."""
    return {term: [p.id for p in found] for term, found in uses.items()}


class SiteFiles(dict):
    """Output files by relative path; ``pages`` lists every HTML page's path, written or not;
    ``entries`` every (path, page); ``kept`` the pages left unrendered (``only`` said no)."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[str] = []
        self.entries: list[tuple[str, render.Page]] = []
        self.kept: list[str] = []
        self.searched: list[str] = []  # the pages search indexes (``render.searched``), written or not
        self.layouts: dict[str, data.Layout] = {}  # where the data files' items lie (data.Reuse)
        self.written: dict[str, list[int]] = {}  # each page written: its state as left (parallel._write)
        # The glossary's uses (``glossary_ids``) once a page read them, in this process or a worker.
        self.glossary: dict[str, list[str]] | None = None


class _Lazy:
    """A mapping made on its first look-up (in the worker process that renders the page reading it,
    and not at all by a rebuild that does not render that page)."""

    def __init__(self, make) -> None:
        self._make = make
        self._made = None

    @property
    def made(self):
        """The mapping if this process made it, else None."""
        return self._made

    def __getitem__(self, key):
        if self._made is None:
            self._made = self._make()
        return self._made[key]


def render_site(site: Site, templates: Path, base_url: str, pages_out: Path | None = None,
                only=None, keep_from: Path | None = None, meanwhile=None,
                data_reuse: data.Reuse | None = None, already: frozenset[str] = frozenset(),
                glossary_reuse=None, idle=None, checks=None, bytecode: dict[str, bytes] | None = None,
                ) -> dict[str, str | bytes]:
    """Every output file except the search index, as {relative path: content}. ``meanwhile`` runs in
    this process once the files beside the pages are made, given them (``SiteFiles``), while
    workers render the pages.

    With ``pages_out``, the HTML pages are written straight into that folder (by a worker process
    per core on a large site) and only the other files are returned. With ``only`` (a function of
    the page's output path and the page), only the pages it accepts are rendered; the others are
    listed in ``kept`` and, with ``keep_from`` (the last build's folder), hard-linked from there into
    ``pages_out`` while the other pages render, except those ``already`` there as that build left
    them (a recycled spare's, ``write.recycle``). With ``data_reuse``, the data files copy the items
    of the paragraphs not edited from the last build's (``data.Reuse``); with ``glossary_reuse``, the
    glossary's uses are the last build's, the edited paragraphs searched again (``glossary_uses``).
    ``idle`` runs in this process, given the files (``SiteFiles``, every page listed), once it has no
    page left to render, while workers may still render theirs. ``checks`` (``load_model``'s) runs
    in this process before anything else it does once the workers have their first pages.
    ``bytecode``: the templates compiled already (``_compiled``)."""
    base = normalise_base(base_url)
    env = _environment(templates, bytecode)
    files = SiteFiles()
    page_urls: list[str] = []
    uses = _Lazy(lambda: glossary_uses(site, glossary_reuse))  # only the glossary reads it: found where it renders

    def glossary_found():  # in a worker that rendered a glossary page, its uses for the next rebuild
        return glossary_ids(uses.made) if uses.made is not None else None

    def keep_glossary(found: dict[str, list[str]]) -> None:
        files.glossary = found

    jobs: list[parallel.Job] = []
    claimed: set[str] = set()
    languages = site.config.languages
    for lang in languages:
        urls = Urls(base, lang)
        labels = load_labels(templates, lang)
        env.globals["glossary_uses"] = uses
        renderer = render.Renderer(site, env, urls, labels, build_date=build_date(lang), languages=languages)
        entries = listed = render.all_pages(site, urls)
        for rel, _ in entries:
            if rel in claimed:
                raise AssertionError(f"two pages claim {rel}")
            claimed.add(rel)
        files.entries += entries
        files.pages += [rel for rel, _ in entries]
        files.searched += [rel for rel, page in entries if render.searched(page, urls)]
        if only is not None:
            chosen = []
            for entry in entries:
                if only(*entry):
                    chosen.append(entry)
                else:
                    files.kept.append(entry[0])
            entries = chosen
        jobs.append(parallel.Job(renderer, entries))
        page_urls += [page.url for _, page in listed if page.template != "404.html"]  # render.pages

    link = [rel for rel in files.kept if rel not in already]
    keep = (write.link_files, (keep_from, pages_out, link)) if keep_from and pages_out and link else None
    def other_work() -> None:
        if checks is not None:
            checks()
        _other_files(site, templates, base, page_urls, files, data_reuse, stream=pages_out is not None)
        if meanwhile is not None:
            meanwhile(files)

    files.update(parallel.render_pages(jobs, pages_out, other_work, keep, glossary_found, keep_glossary,
                                       written=files.written,
                                       idle_work=(lambda: idle(files)) if idle is not None else None))
    if files.glossary is None:
        files.glossary = glossary_found()  # rendered here, if at all
    return files


def _environment(templates: Path, bytecode: dict[str, bytes] | None = None):
    """The templates' environment, compiling into the cache's bytecode (``cache.template_bytecode``);
    ``bytecode``: templates compiled already (``_compiled``), loaded from it instead."""
    behind = cache.template_bytecode(templates)
    return templating.environment(templates, templating.Bytecode(behind, bytecode) if bytecode is not None else behind)


def _compiled(templates: Path, compiling: helper.Stream[tuple[str, dict[str, bytes]]]) -> dict[str, bytes]:
    """Every template's bytecode, compiled on both cores. The helper compiles them first to last
    (``templating.compiling``) and sends each as it is done; once the content is loaded, this process compiles
    them last to first until the two meet (none, after a large site's load, by when the helper is
    done; about half after a small one's, where compiling is a third of the build). What the helper
    does not send (it failed, or none could be forked) is compiled here. A template error is the one
    a single process compiling them in order raises: the first broken template's."""
    store = templating.Bytecode(cache.template_bytecode(templates))
    env = templating.environment(templates, store)
    names = templating.template_names(env)
    sent: dict[str, dict[str, bytes]] = {}
    end = len(names)  # names[end:] compiled here

    def first() -> int:  # how many of the first names the helper sent
        n = 0
        while n < end and names[n] in sent:
            n += 1
        return n

    try:
        while True:
            sent.update(compiling.poll())
            if first() >= end or compiling.ended:
                break
            end -= 1
            env.get_template(names[end])
    except Exception:
        sent.update(compiling.poll(wait=True))
        for name in names[first():end]:  # a broken template before this one raises its own error
            env.get_template(name)
        raise
    compiling.stop()
    for name in names[first():end]:
        env.get_template(name)
    return {k: v for name in names if name in sent for k, v in sent[name].items()} | store.known


def _other_files(site: Site, templates: Path, base: str, page_urls: list[str], files: SiteFiles,
                 reuse: data.Reuse | None = None, stream: bool = False) -> None:
    """The files beside the pages: data, sitemap, robots.txt, static assets. With ``stream``, the data
    files are made as they are written (``write.Streamed``), and their layouts with them: tens of
    megabytes each for an inquiry, whose making was the main process's largest moment."""
    urls = Urls(base)
    files["data/evidence.json"] = data.evidence_json(site, urls, reuse, files.layouts, stream=stream)
    files["data/evidence.csv"] = data.evidence_csv(site, urls, reuse, files.layouts, stream=stream)
    files["sitemap.xml"] = data.sitemap(site, page_urls, base)
    files["robots.txt"] = data.robots(site, base)
    files[".nojekyll"] = ""
    static = templates / "static"
    for f in sorted(static.rglob("*")):
        if f.is_file():
            files["static/" + f.relative_to(static).as_posix()] = f.read_bytes()


def build(settings: Settings, log=print,
          compiling: helper.Stream[tuple[str, dict[str, bytes]]] | None = None) -> float:
    """Build the site into settings.out atomically. Returns seconds taken. ``compiling``: the helper
    compiling the templates, when the caller started it already (``cli.compiling``); this build
    takes what it sends, or stops it when it has no use for it.

    When only record files were edited since the last build into the same folder (and nothing else:
    code, templates, settings, other content), the pages depending on an edited record are rendered
    and every other page is hard-linked from the last build (``deps``, ``cache.last_build``); the
    content is still loaded and validated whole, and the data files and search index are made as
    in a full build. The output is the same as a full build's, byte for byte."""
    start = time.perf_counter()
    # Never build into (or around) the content, the templates or the project; checked before
    # anything is created, and again under the lock once a cut-short swap is undone.
    write.check_build_output(settings.out, settings.content, settings.templates)
    # The lock covers recovery too: recovery deletes stale staging folders, which must never be
    # those of a build still running.
    # The helpers a build starts are reaped (``helper.Helper.close``) when it ends, however it ends.
    with write.lock(settings.out, on_wait=lambda: log(f"waiting for another build of {settings.out} to finish")), \
            ExitStack() as reap:
        write.recover(settings.out)
        write.check_build_output(settings.out, settings.content, settings.templates)
        store = cache.cache_dir(settings.templates)
        saved = cache.saved_state(store, settings.out)
        # Compiling the templates takes 0.16 s when the cache holds no bytecode of them (0.3 s on a
        # slower host): on a build into a folder the cache has no build of (a cold build, and every
        # build with no cache), a helper compiles them (into the cache too) on the other core while
        # this process starts loading, and this process joins in once it has loaded (``_compiled``);
        # the environment that renders the pages then only loads their bytecode. A rebuild finds
        # it in the cache. The command line starts that helper before it imports what only the
        # pages need (``cli.compiling``); it is stopped if a build into this folder was remembered
        # since it looked.
        bytecode = None
        if saved is None:
            if compiling is None:  # not started by the command line (``build`` called as a function, ``serve``)
                compiling = templating.compiling(settings.templates, cache.template_bytecode(settings.templates))
            reap.callback(compiling.close)
        elif compiling is not None:
            compiling.close()
            compiling = None
        inputs_settings = {"base_url": normalise_base(settings.base_url), "site_url": settings.site_url,
                           "search": settings.search, "out": str(settings.out.resolve())}
        walks = last = edits = prelink = hashing = now = None
        if saved is None:
            # No last build to compare the inputs with before loading (a first build into this
            # folder): the content files are hashed from the bytes loading reads (cache.Hashing),
            # not each read once more before it (0.1 s at N = 5,000).
            hashing = cache.Hashing(settings.content, settings.templates, inputs_settings, store)
            last = cache.LastBuild(why=cache.NOT_REMEMBERED if store is not None else cache.NO_CACHE)
        else:
            # Hashed before reading, so an edit made during the build makes the next one build again.
            now = cache.inputs(settings.content, settings.templates, inputs_settings, store)
            if saved.get("key") != now.key:
                # Something changed: the output's and the spare's listings, which tell whether pages
                # may be kept, are read on the other core while the content loads (cache.Walks).
                # With no spare to bring up to date and only records edited, the helper links the
                # last build's pages into the folder this build will write (cache.Walks's
                # ``link_into``) meanwhile.
                spare_folder = None if settings.search else write.spare(settings.out)
                edits = cache.record_edits(store, settings.out, now, saved)
                if not isinstance(edits, str) and helper.may_fork() and (
                        spare_folder is None or not os.path.lexists(spare_folder)):
                    prelink = write.staging(settings.out)
                walks = cache.Walks(settings.out, spare_folder, saved, prelink).start()
            else:
                last = cache.last_build(store, settings.out, now, saved)
                if last.pages is not None:
                    elapsed = time.perf_counter() - start
                    log(f"{settings.out} is up to date ({last.pages} pages): nothing changed since it was "
                        f"built ({elapsed:.2f}s)")
                    return elapsed
        digests = cache.Digests(store) if store is not None else None
        if digests is not None:
            reap.callback(digests.discard)  # the next file of digests, half written, when the build fails
        # Loading makes millions of objects and no garbage cycles: the cyclic collector would walk
        # them all again and again (a quarter of the loading time). After loading, the model is
        # frozen out of the collector's sight until the build ends.
        collecting = gc.isenabled()
        gc.disable()
        loaded = False
        try:
            # With the hashes taken before reading (above), a file edited since is loaded as it was
            # hashed or as it is now; with them taken from the bytes loaded (``hashing``), as it was
            # hashed: either way the next build sees the edit and builds again.
            site, checks = load_model(settings.content, settings.site_url, digests,
                                      hashing.listing if hashing is not None else now.content,
                                      hashing.read if hashing is not None else None)
            if hashing is not None and store is not None:  # what the next build compares its inputs with
                now = hashing.inputs()
            hashing = None  # its listing and stamps (3 MB at N = 5,000) not held by the processes forked next
            if last is None:
                last = cache.last_build(store, settings.out, now, saved, walks, edits)
            if last.previous is not None:
                checks()  # a rebuild works out from the model which pages it keeps: checked first
            if compiling is not None:
                bytecode = _compiled(settings.templates, compiling)  # a template's error raised as it is
            loaded = True
        finally:
            if walks is not None:
                walks.close()  # the helper reaped; what it read is kept (or read here if asked)
            if not loaded and prelink is not None:
                shutil.rmtree(prelink, ignore_errors=True)
            if collecting and not loaded:
                gc.enable()
        # Frozen before the collector is on again: every object loading made is still in the youngest
        # generation, and the first collection would walk them all (0.05 s of a rebuild at N = 5,000).
        gc.freeze()
        if collecting:
            gc.enable()
        if digests is not None and not digests.worth_saving():
            digests.discard()
            digests = None  # nothing to write
        new = None
        trash: list[Path] = [prelink] if prelink is not None else []  # folders renamed away, to delete
        try:
            records = _record_files(site, settings.content) if store is not None else []
            stale = _stale_pages(site, records, last.previous) if last.previous is not None else None
            data_reuse = _data_reuse(site, records, last.previous, store, settings.out) if stale is not None else None
            glossary_reuse = _glossary_reuse(site, records, last.previous, store, settings.out) \
                if stale is not None else None
            # A rebuild without search starts from the spare when it is as the build before left it.
            spare = cache.spare_files(write.spare(settings.out), last.previous, walks) \
                if stale is not None and not settings.search else None
            new = write.recycle(settings.out) if spare is not None else None
            # Else the last build's pages, linked by the helper while the content loaded (listed when it did).
            linked = walks.linked() if prelink is not None and walks is not None and stale is not None else None
            if new is None and linked is not None:
                trash.remove(prelink)
                spare, new = cache.Spare(frozenset(linked), (), frozenset(linked)), prelink
            elif new is None:
                spare, new = None, write.staging(settings.out)

            def meanwhile(others: SiteFiles) -> None:
                # The files beside the pages and the cache's digests are written while the workers
                # render (this process waits on them then): 0.2 s and more off a large cold build.
                write.write_files(new, others, marker=False)  # the marker once the pages are there too
                if digests is not None:
                    digests.save()

            # Each page's dependencies, for the next rebuild: worked out here while the last pages render.
            page_sets: list = []

            def idle(listed: SiteFiles) -> None:
                if store is not None:
                    page_sets.append(_page_sets(site, records, listed.entries))

            # A full build checks across files in this process while a worker renders its first pages
            # (in a folder their errors throw away); whatever fails before they have run, their
            # errors come first, since a model that breaks their rules can break anything made of it.
            try:
                files = render_site(site, settings.templates, settings.base_url, pages_out=new, only=stale,
                                    keep_from=settings.out, meanwhile=meanwhile,
                                    data_reuse=data_reuse, already=spare.shared if spare is not None else frozenset(),
                                    glossary_reuse=glossary_reuse, idle=idle, checks=checks, bytecode=bytecode)
            except Exception as exc:
                if not isinstance(exc, ContentErrors):
                    checks()
                raise
            del digests, meanwhile
            heavy = views.over_budget(files.entries, lambda rel: _size(rel, files, last.previous))
            write.mark(new)
            if spare is not None:  # what the folder holds that this build does not make
                made = set(files.pages) | set(files) | {write.MARKER}
                trash += write.tidy(new, settings.out, spare.strays, spare.held - made)
            # What a walk of the output would find, from what this build wrote and what it kept of the
            # last one (which that build left as it is: a link is the same file). A search index
            # adds files: then the folder is read after the swap (``cache.remember_build``).
            state = written = None
            if not settings.search:
                written = [*files.written, *files, write.MARKER]
                kept = {rel: last.previous.files[rel] for rel in files.kept}
                state = cache.written_state(new, kept | files.written, [*files, write.MARKER])
            if settings.search:
                from .index import build_index  # noqa: PLC0415

                build_index(new, pages=files.searched)
                write.check_bundle(new)  # never swap in a search bundle cut short
            cache.forget_build(store, settings.out)
            retired = write.swap(new, settings.out, later=True)
        except BaseException:
            for folder in ([new] if new is not None else []) + trash:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            gc.unfreeze()
        # A rebuild that kept most pages keeps the output it replaced as the spare, for the next
        # rebuild to bring up to date instead of linking every page again; any other build leaves none.
        kept_spare, moved = write.settle(retired, settings.out, keep=stale is not None and not settings.search)
        trash += moved
        # What is left to delete is deleted in a thread while the cache is written (both mostly wait
        # on the file system); both finish before the lock is released.
        cleaner = threading.Thread(target=_delete, args=(trash,)) if trash else None
        if cleaner is not None:
            cleaner.start()
        try:
            if store is not None:
                assert now is not None
                cache.remember_build(store, settings.out, now.key, len(files.pages), state,
                                     written if kept_spare else None)
                cache.remember_pages(store, settings.out, now, records, *page_sets[0])
                cache.remember(store, settings.out, "data", now.key, files.layouts)
                if files.glossary is not None:
                    cache.remember(store, settings.out, "glossary", now.key, files.glossary)
        finally:
            if cleaner is not None:
                cleaner.join()
    for line in _weight_warnings(heavy):  # before the summary, which stays the last line
        log(line)
    elapsed = time.perf_counter() - start
    if stale is not None:
        log(f"rebuilt {len(files.pages) - len(files.kept)} of {len(files.pages)} pages into {settings.out} in "
            f"{elapsed:.2f}s ({len(last.previous.changed)} record file(s) edited; the other pages kept)")
    else:
        why = "" if last.previous is None and last.why in (cache.NO_CACHE, cache.NOT_REMEMBERED) else \
            f" (every page: {last.why or 'a record file names another submission, body or question'})"
        log(f"built {len(files.pages)} pages into {settings.out} in {elapsed:.2f}s{why}")
    return elapsed


HEAVY_SHOWN = 10  # pages over their weight budget named one by one; the rest counted


def _size(rel: str, files: SiteFiles, previous: cache.Previous | None) -> int:
    """A page's size as the build leaves it: written now, or kept as the last build left it."""
    state = files.written.get(rel)
    if state is None and previous is not None:
        state = previous.files.get(rel)
    return state[0] if state is not None else 0


def _weight_warnings(heavy: list[views.Heavy]) -> list[str]:
    """What a build says of the pages over their weight budget (``views.over_budget``). Not an
    error: the evidence is published whatever its length, but an editor learns that a phone on a
    slow line will struggle with the page."""
    lines = []
    for h in heavy[:HEAVY_SHOWN]:
        what = "a submission's full response" if h.full_response else "a page"
        lines.append(f"warning: {h.rel} weighs {h.size / 1000:.1f} KB, over the {h.budget // 1000} KB budget of "
                     f"{what}: slow to open on a phone (docs/editing.md)")
    if len(heavy) > HEAVY_SHOWN:
        lines.append(f"warning: and {len(heavy) - HEAVY_SHOWN} more pages over their weight budget")
    return lines


def _delete(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _record_files(site: Site, content: Path) -> list[list[str]]:
    """[file relative to the content folder, submission, body, question] of every record."""
    root = os.path.abspath(content)
    inside = root + os.sep
    # A record's path is as ``content._shown_paths`` wrote it: the content folder as seen from here,
    # then the file's path inside it. Cut that off when it is so (no path made absolute: 0.015 s).
    shown = os.path.relpath(content) if os.sep == "/" else ".."
    prefix = None if shown.startswith("..") else "" if shown == "." else shown + "/"

    def rel(path: str) -> str:  # cut, not os.path.relpath: 5,000 of those took a tenth of a second
        if prefix is not None and path.startswith(prefix) and not os.path.isabs(path):
            return path[len(prefix):]
        path = os.path.abspath(path)
        return (path[len(inside):] if path.startswith(inside) else os.path.relpath(path, root)).replace(os.sep, "/")

    return [[rel(r.path), r.submission, r.body, r.question] for r in site.records]


def _stale_pages(site: Site, records: list[list[str]], previous: cache.Previous):
    """A test of (output path, page): must the page be rendered again? None when no page may be
    kept: a record moved (its submission, body or question changed), or an edited file is not
    one of the records."""
    if records != previous.records:
        return None
    index = {row[0]: i for i, row in enumerate(records)}
    changed: set[int] = set()
    for rel in previous.changed:
        if rel in index:
            changed.add(index[rel])
        elif os.path.splitext(rel)[1] in (".yaml", ".yml"):
            return None  # read as content, yet no record: never guess which pages show it
    paths = frozenset(site.records[i].path for i in changed)
    try:
        old_stale = [bool(changed) if s == "*" else not changed.isdisjoint(s) for s in previous.sets]
        pages = {rel: old_stale[i] for rel, i in previous.pages.items()}
    except (TypeError, IndexError):
        return None
    files = previous.files

    def stale(rel: str, page: render.Page) -> bool:
        was = pages.get(rel)
        if was is None or was or rel not in files:
            return True  # new, or it showed an edited record, or the last build left no such file
        return not paths.isdisjoint(deps.page_deps(site, page))

    return stale


def _data_reuse(site: Site, records: list[list[str]], previous: cache.Previous, store: Path | None,
                out: Path) -> data.Reuse | None:
    """For an incremental rebuild into ``out``: its data files, where they hold each paragraph's
    item, and the ids of the paragraphs of the records edited since; None when that is not known."""
    layouts = cache.kept(store, out, "data", previous.key)
    if not isinstance(layouts, dict) or not layouts:
        return None
    return data.Reuse({kind: out / "data" / f"evidence.{kind}" for kind in layouts}, layouts,
                      _edited_paragraphs(site, records, previous))


def _edited_paragraphs(site: Site, records: list[list[str]], previous: cache.Previous) -> frozenset[str]:
    """The ids of the paragraphs of the records edited since the last build."""
    return frozenset(p.id for row, r in zip(records, site.records) if row[0] in previous.changed
                     for p in r.paragraphs)


def _glossary_reuse(site: Site, records: list[list[str]], previous: cache.Previous, store: Path | None,
                    out: Path) -> tuple[dict[str, list[str]], frozenset[str]] | None:
    """For an incremental rebuild into ``out``: the glossary's uses in the last build and the ids of
    the paragraphs of the records edited since (``glossary_uses``); None when they are not known."""
    uses = cache.kept(store, out, "glossary", previous.key)
    if not isinstance(uses, dict):
        return None
    return uses, _edited_paragraphs(site, records, previous)


def _page_sets(site: Site, records: list[list[str]], entries) -> tuple[list, dict[str, int]]:
    """Each page's dependencies (``deps.page_deps``) as cache.remember_pages keeps them: the distinct
    sets, as sorted indexes into ``records`` ("*" for every record), and each page's set."""
    index = {r.path: i for i, r in enumerate(site.records)}
    everything = len(records)
    sets: list = []
    seen: dict[frozenset[str], int] = {}
    pages: dict[str, int] = {}
    for rel, page in entries:
        found = deps.page_deps(site, page)
        i = seen.get(found)
        if i is None:
            i = seen[found] = len(sets)
            sets.append("*" if everything and len(found) == everything else sorted(index[p] for p in found))
        pages[rel] = i
    return sets, pages


def check(content: Path, templates: Path, unreviewed: dict[str, list[str]] | None = None) -> Site:
    """Validate content and labels; render nothing to disk. ``unreviewed`` receives, per interface
    language other than English, the labels no speaker of it has reviewed yet."""
    store = cache.cache_dir(templates)
    collecting = gc.isenabled()
    gc.disable()
    try:
        site = load_site(content, known=cache.Digests(store, saving=False) if store is not None else None)
        # The model lives as long as the process: frozen out of the collector's sight before it is on
        # again, or its first collection would walk every object loading made (see build).
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    for lang in site.config.languages:
        found: list[str] = []
        load_labels(templates, lang, found)
        if unreviewed is not None and lang != DEFAULT_LANGUAGE:
            unreviewed[lang] = found
    return site


def unreviewed_editorial(site: Site) -> list[str]:
    """Welsh versions of editorial text that no Welsh speaker has reviewed yet, as 'kind id' strings."""
    out = [f"summary of {e.id}" for e in site.entities if e.summary_cy and not e.summary_cy_reviewed]
    out += [f"comparison {t.id} / {c.force}" for t in site.topics for c in t.cells
            if c.answer_cy and not c.answer_cy_reviewed]
    out += [f"glossary {a.id}" for a in site.acronyms if a.expansion_cy and not a.expansion_cy_reviewed]
    return out
