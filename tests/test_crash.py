"""A build that dies, or two that race, never leave a broken site; two builds are byte-identical.

Builds run as real subprocesses of ``build.py`` and are killed with SIGKILL (the whole process
group, so Pagefind's own process dies too), as a crash, an out-of-memory kill or a cancelled CI
job would. After each kill the output folder must be the last good site, byte for byte outside
``pagefind/`` (Pagefind's filter and meta files vary between runs, Pagefind issue #638), with a
whole search bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CONTENT, ROOT, TEMPLATES, Server

from evidence_site import write

HANG_GUARD = 120  # seconds; only so a broken build cannot hang the suite


def build_cmd(content: Path, out: Path, *extra: str) -> list[str]:
    # The templates copied beside the content (see `contents`), so every build here uses the same.
    templates = content.parent / "templates"
    return [sys.executable, str(ROOT / "build.py"), "build", "--content", str(content), "--out", str(out),
            "--templates", str(templates if templates.is_dir() else TEMPLATES), *extra]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("SOURCE_DATE_EPOCH", None)
    e["PYTHONUNBUFFERED"] = "1"  # a "waiting for another build" line must reach us at once
    return e


INCOMPLETE_INDEX = "the search index was not written whole"


def build(content: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    for _ in range(3):
        r = subprocess.run(build_cmd(content, out, *extra), cwd=ROOT, env=env(), capture_output=True, text=True,
                           timeout=HANG_GUARD)
        # Pagefind's service mode can cut its own files short under load (Pagefind #1271); the
        # build then refuses to publish them and says so. That refusal is not what these tests
        # test, so such a build is run again.
        if r.returncode == 0 or INCOMPLETE_INDEX not in r.stderr:
            break
    assert r.returncode == 0, r.stderr
    return r


def start(content: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(build_cmd(content, out), cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the build and everything it started; True when it was still running."""
    running = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=HANG_GUARD)
    return running


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file of the site outside pagefind/, as bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file() and p.relative_to(out).parts[0] != "pagefind"}


def assert_same(actual: dict[str, bytes], expected: dict[str, bytes]) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])
    assert not (missing or extra or changed), f"missing {missing[:5]}, extra {extra[:5]}, changed {changed[:5]}"


def assert_whole_bundle(out: Path) -> None:
    """pagefind.js, its entry file, the language's meta and wasm files and one fragment per page."""
    bundle = out / "pagefind"
    assert (bundle / "pagefind.js").is_file()
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert entry["languages"], "the search bundle lists no language"
    for lang in entry["languages"].values():
        assert (bundle / f"pagefind.{lang['hash']}.pf_meta").is_file()
        assert (bundle / f"wasm.{lang['wasm']}.pagefind").is_file()
        fragments = list((bundle / "fragment").glob("*.pf_fragment"))
        assert len(fragments) == lang["page_count"] > 0
    assert write.bundle_problems(out) == []  # no index file cut short


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith((f".{out.name}.build-", f"{out.name}.old")))


@pytest.fixture(scope="module")
def contents(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the real content (A) and a variant (B) whose every page differs from A's.

    The templates are copied too, so an edit made while the tests run cannot change a build.
    """
    root = tmp_path_factory.mktemp("contents")
    shutil.copytree(TEMPLATES, root / "templates")
    a = root / "a"
    shutil.copytree(CONTENT, a)
    b = root / "b"
    shutil.copytree(CONTENT, b)
    site = b / "site.yaml"
    text = site.read_text(encoding="utf-8")
    assert "\ntitle: " in "\n" + text
    site.write_text(text.replace("title: ", "title: Variant B of ", 1), encoding="utf-8")
    return a, b


@pytest.fixture(scope="module")
def built(contents, tmp_path_factory) -> dict[str, Path]:
    """A and B built once each; tests start from copies of these folders."""
    a, b = contents
    root = tmp_path_factory.mktemp("built")
    build(a, root / "a")
    build(b, root / "b")
    return {"a": root / "a", "b": root / "b"}


@pytest.fixture(scope="module")
def snaps(built) -> dict[str, dict[str, bytes]]:
    out = {name: snapshot(folder) for name, folder in built.items()}
    assert out["a"] != out["b"]
    return out


def good_site(built: dict[str, Path], name: str, out: Path) -> Path:
    shutil.copytree(built[name], out)
    return out


def test_two_builds_are_byte_identical_outside_pagefind(contents, snaps, tmp_path):
    """A diff of the output shows exactly what an edit changed, and nothing else."""
    a, _ = contents
    out = tmp_path / "elsewhere" / "second"
    build(a, out)
    assert_same(snapshot(out), snaps["a"])
    assert_whole_bundle(out)


# Fractions of the time a whole build of B takes (measured: the build gets faster, and a kill at a
# fixed time once came after its swap), then two moments found by what the build has written.
MOMENTS = (0.05, 0.2, 0.5, "pages written", "pagefind")


@pytest.fixture(scope="module")
def after_kills(contents, built, snaps, tmp_path_factory):
    """The last good site is A; builds of B are killed at several moments, one after another.

    Returns, per moment, whether the build had finished and what was left; a copy of the folder
    as the kills left it; and what the next (whole) build left beside the output folder.
    """
    a, b = contents
    root = tmp_path_factory.mktemp("kills")
    started = time.monotonic()
    build(b, root / "timed")  # as the builds below: a whole build of B, the cache as they find it
    seconds = time.monotonic() - started
    out = good_site(built, "a", root / "site")
    left = []
    for moment in MOMENTS:
        proc = start(b, out)
        if isinstance(moment, float):
            time.sleep(moment * seconds)
        else:
            # "pages written": the staging folder holds the marker (pages done, the index not yet
            # or partly made); "pagefind": Pagefind has begun writing its bundle there.
            deadline = time.monotonic() + HANG_GUARD
            probe = write.MARKER if moment == "pages written" else "pagefind"
            while not any((s / probe).exists() for s in out.parent.glob(f".{out.name}.build-*")):
                assert proc.poll() is None, f"the build ended before the moment {moment!r} came"
                assert time.monotonic() < deadline
                time.sleep(0.001)
        finished = not kill(proc)
        if not out.exists():  # killed between the two renames: the next run puts the old site back
            assert (out.with_name(out.name + ".old") / write.MARKER).is_file()
            write.recover(out)
        try:
            assert_whole_bundle(out)
            bundle = None
        except AssertionError as exc:
            bundle = str(exc) or "incomplete search bundle"
        left.append((moment, finished, snapshot(out), bundle))
    shutil.copytree(out, root / "as-left")
    build(a, out)
    return {"left": left, "as_left": root / "as-left", "after_next_build": (leftovers(out), snapshot(out))}


@pytest.mark.parametrize("i", range(len(MOMENTS)), ids=[str(m) for m in MOMENTS])
def test_a_killed_build_leaves_the_last_good_site(after_kills, snaps, i):
    moment, finished, site, bundle_problem = after_kills["left"][i]
    # A build killed before its swap leaves the site as it was: A, or B once a build of B has put
    # B in place. One killed after its swap, while it tidies up and writes its cache, has put B in
    # place whole: whether a kill at a given moment comes before or after the swap depends on how
    # fast the build is, so either is right, but nothing else is, and B, once there, stays.
    b_before = any(f or left == snaps["b"] for _, f, left, _ in after_kills["left"][:i])
    if finished or b_before or site == snaps["b"]:
        assert_same(site, snaps["b"])
    else:
        assert_same(site, snaps["a"])
    assert bundle_problem is None, bundle_problem


def test_the_build_after_a_kill_clears_what_it_left(after_kills, snaps):
    left, site = after_kills["after_next_build"]
    assert left == []
    assert_same(site, snaps["a"])


@pytest.mark.browser
def test_search_works_on_the_site_left_by_killed_builds(after_kills, page):
    """The bundle left in place after the kills is not only present but answers a query."""
    server = Server(after_kills["as_left"])
    try:
        page.goto(server.url)
        found = page.evaluate("""async (bundle) => {
            const pagefind = await import(bundle + "pagefind.js");
            const search = await pagefind.search("exploitation");
            const first = search.results.length ? await search.results[0].data() : null;
            return {count: search.results.length, url: first && first.url};
        }""", server.url + "pagefind/")
    finally:
        server.close()
    assert found["count"] > 0
    assert found["url"].startswith("/")


def test_a_swap_cut_short_is_undone_by_the_next_build_even_with_broken_content(contents, built, snaps, tmp_path):
    """Killed between `out` → `out.old` and `new` → `out`: no `out`, only `out.old`."""
    a, _ = contents
    out = tmp_path / "site"
    good_site(built, "a", out.with_name("site.old"))
    broken = tmp_path / "broken"
    shutil.copytree(a, broken)
    (broken / "site.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    r = subprocess.run(build_cmd(broken, out), cwd=ROOT, env=env(), capture_output=True, text=True,
                       timeout=HANG_GUARD)
    assert r.returncode == 1
    assert "site.yaml:" in r.stderr and ": error:" in r.stderr
    assert leftovers(out) == []
    assert_same(snapshot(out), snaps["a"])
    assert_whole_bundle(out)


def test_an_old_folder_the_builder_did_not_make_is_left_alone(contents, tmp_path):
    a, _ = contents
    out = tmp_path / "site"
    mine = out.with_name("site.old")
    mine.mkdir()
    (mine / "notes.txt").write_text("someone's work", encoding="utf-8")
    r = subprocess.run(build_cmd(a, out, "--no-search"), cwd=ROOT, env=env(), capture_output=True, text=True,
                       timeout=HANG_GUARD)
    assert r.returncode == 1
    assert "site.old" in r.stderr and "not made by this builder" in r.stderr
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "someone's work"
    assert not out.exists()


def test_two_builds_at_once_take_turns_and_leave_one_whole_site(contents, built, snaps, tmp_path):
    """The lock: both builds wait while it is held, then run one after the other."""
    a, b = contents
    out = good_site(built, "a", tmp_path / "site")
    with write.lock(out):
        procs = [start(a, out), start(b, out)]
        for p in procs:
            line = p.stdout.readline()  # printed before the build blocks on the lock
            assert "waiting for another build" in line, line
        assert leftovers(out) == []  # nobody touched the output while the lock was held
        assert_same(snapshot(out), snaps["a"])
    results = [p.communicate(timeout=HANG_GUARD) for p in procs]
    assert all(p.returncode == 0 or INCOMPLETE_INDEX in err for p, (_, err) in zip(procs, results)), results
    assert leftovers(out) == []
    site = snapshot(out)
    assert site == snaps["a"] or site == snaps["b"], "the output mixes two builds"
    assert_whole_bundle(out)


def test_builds_started_together_leave_one_whole_site(contents, built, snaps, tmp_path):
    a, b = contents
    out = good_site(built, "a", tmp_path / "site")
    procs = [start(b, out), start(a, out), start(b, out)]
    results = [p.communicate(timeout=HANG_GUARD) for p in procs]
    assert all(p.returncode == 0 or INCOMPLETE_INDEX in err for p, (_, err) in zip(procs, results)), results
    assert leftovers(out) == []
    site = snapshot(out)
    assert site == snaps["a"] or site == snaps["b"], "the output mixes two builds"
    assert_whole_bundle(out)


def test_serve_puts_back_a_site_whose_swap_was_cut_short(contents, built, snaps, tmp_path):
    """The preview recovers too, even when the content it starts with is broken, and serves it."""
    import queue
    import threading
    import urllib.request

    a, _ = contents
    out = tmp_path / "site"
    good_site(built, "a", out.with_name("site.old"))
    broken = tmp_path / "broken"
    shutil.copytree(a, broken)
    (broken / "site.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--content", str(broken),
                             "--templates", str(a.parent / "templates"), "--out", str(out), "--port", "0",
                             "--no-search"], cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        seen = []
        while not any("serving http://" in line for line in seen):
            seen.append(lines.get(timeout=HANG_GUARD))
        url = next(line for line in seen if "serving http://" in line).split()[1]
        with urllib.request.urlopen(url, timeout=HANG_GUARD) as r:
            home = r.read()
        assert home.startswith(snaps["a"]["index.html"][:200])
        assert leftovers(out) == []
        assert_same(snapshot(out), snaps["a"])
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_GUARD)
