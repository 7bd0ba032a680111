"""Rebuilds take turns between two folders: the output a rebuild replaced is kept as the spare
(``._site.spare`` beside ``_site``) and the next rebuild brings it up to date and swaps it in, instead
of linking every page into an empty folder and deleting the last output (write.py, cache.spare_files).

What an editor would notice if this went wrong: a page of the live site changed while a rebuild ran
(the spare shares most files with it), a site that differs from a cold build, a page left over from
a spare someone touched, or a stray folder beside the site after a build.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CONTENT, ROOT
from test_cache import assert_same_site, tree
from test_incremental import BUILT, REBUILT, Workspace, append_to_text, edit_paragraph

from evidence_site import cache, pipeline, write
from evidence_site import helper as helper_mod


class Editor:
    """Edits a paragraph of one record, then of another, and so on, each a new sentence at its end:
    each rebuild renders pages that the rebuild before it did not, which the spare shares with the
    live site."""

    def __init__(self, ws: Workspace) -> None:
        self.files = [ws.record("policing-in-wales", "gwent-police", "strategic-direction"),
                      ws.record("policing-in-wales", "dyfed-powys-police", "resource-allocation")]
        self.n = 0

    def edit(self) -> None:
        self.n += 1
        file = self.files[self.n % len(self.files)]
        prose = re.findall(r"^  - id: (\S+)\n    page: \d+\n    text: \|-\n", file.read_text(encoding="utf-8"), re.M)
        edit_paragraph(file, prose[0], append_to_text(f" Edit number {self.n}."))


def ino(path: Path) -> int:
    return path.stat().st_ino


def files_and_inodes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): ino(p) for p in root.rglob("*") if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith((f".{out.name}.build-", f"{out.name}.old")))


@pytest.fixture(params=["listings read by a helper", "listings read here"])
def ws(request, tmp_path, monkeypatch) -> Workspace:
    """The real content built once, then rebuilt after an edit: a spare is kept. Each test runs
    twice: with the output's and the spare's listings read by a forked helper while the content
    loads (as a rebuild from the command line does), and read in this process (as in ``serve``)."""
    helper = request.param == "listings read by a helper"
    monkeypatch.setattr(helper_mod, "may_fork", lambda: helper)
    started = cache.Walks.start

    def start(self):
        started(self)
        ws.helpers.append(bool(self.helper.pid))
        return self

    monkeypatch.setattr(cache.Walks, "start", start)
    ws = Workspace(tmp_path, CONTENT)
    ws.helpers = []  # type: ignore[attr-defined]
    assert BUILT.match(ws.build(monkeypatch))
    assert not write.spare(ws.out).exists(), "a full build keeps no spare"
    ws.editor = Editor(ws)  # type: ignore[attr-defined]
    ws.editor.edit()
    assert REBUILT.match(ws.build(monkeypatch))
    assert (write.spare(ws.out) / write.MARKER).is_file(), "a rebuild keeps the output it replaced as the spare"
    assert ws.helpers == [helper], "the rebuild (and only it: the first build has no listing to check) reads them"
    return ws


def test_rebuilds_take_turns_and_never_write_into_the_live_site(ws, monkeypatch):
    for _ in range(3):
        live, spare = ino(ws.out), ino(write.spare(ws.out))
        before = tree(ws.out)
        inodes = files_and_inodes(ws.out)
        ws.editor.edit()
        assert REBUILT.match(ws.build(monkeypatch))
        assert ino(ws.out) == spare, "the rebuild should have brought the spare up to date and swapped it in"
        assert ino(write.spare(ws.out)) == live, "the output it replaced should be the next spare"
        # The site that was live while the rebuild ran is untouched, file for file and byte for byte,
        # though most of its files are shared with the folder the rebuild wrote into.
        assert tree(write.spare(ws.out)) == before
        assert files_and_inodes(write.spare(ws.out)) == inodes
        assert_same_site(ws.out, ws.cold(monkeypatch))
        assert leftovers(ws.out) == []


def _replace_a_page(spare: Path) -> None:
    page = next(spare.glob("forces/*/index.html"))
    text = page.read_text(encoding="utf-8")
    page.unlink()
    page.write_text(text.replace("</body>", "<p>changed by hand</p></body>"), encoding="utf-8")


def _remove_a_page(spare: Path) -> None:
    next(spare.glob("forces/*/index.html")).unlink()


def _link_a_folder(spare: Path) -> None:
    os.symlink(spare / "forces", spare / "elsewhere")


@pytest.mark.parametrize("touch", [_replace_a_page, _remove_a_page, _link_a_folder],
                         ids=["a page replaced", "a page removed", "a symbolic link added"])
def test_a_spare_changed_by_hand_is_not_used(ws, monkeypatch, touch):
    spare = write.spare(ws.out)
    touched = ino(spare)
    touch(spare)
    ws.editor.edit()
    assert REBUILT.match(ws.build(monkeypatch))
    assert ino(ws.out) != touched
    assert ino(write.spare(ws.out)) != touched, "the touched spare should be gone"
    assert "changed by hand" not in "".join(p.read_text(encoding="utf-8") for p in ws.out.glob("forces/*/index.html"))
    assert_same_site(ws.out, ws.cold(monkeypatch))
    assert leftovers(ws.out) == []


def test_what_was_added_to_the_spare_while_it_was_live_is_removed(ws, monkeypatch):
    """``serve`` writes a search index into the live folder after each rebuild; that folder is the
    next spare, and a stray file may be there too: neither reaches the next output."""
    spare = write.spare(ws.out)
    (spare / "pagefind" / "fragment").mkdir(parents=True)
    (spare / "pagefind" / "pagefind.js").write_text("// an index of the site before\n")
    (spare / "pagefind" / "fragment" / "x.pf_fragment").write_bytes(b"\0")
    (spare / "forces" / "notes.txt").write_text("a stray file\n")
    used = ino(spare)
    ws.editor.edit()
    assert REBUILT.match(ws.build(monkeypatch))
    assert ino(ws.out) == used
    assert not (ws.out / "pagefind").exists() and not (ws.out / "forces" / "notes.txt").exists()
    assert_same_site(ws.out, ws.cold(monkeypatch))
    assert leftovers(ws.out) == []


def test_a_full_build_leaves_no_spare(ws, monkeypatch):
    css = ws.templates / "static" / "site.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n/* a template edit */\n", encoding="utf-8")
    assert BUILT.match(ws.build(monkeypatch))
    assert not write.spare(ws.out).exists()
    assert leftovers(ws.out) == []
    assert_same_site(ws.out, ws.cold(monkeypatch))


def test_a_rebuild_with_search_leaves_no_spare(ws, monkeypatch):
    ws.editor.edit()
    ws.build(monkeypatch, search=True)
    assert not write.spare(ws.out).exists()
    assert (ws.out / "pagefind" / "pagefind.js").is_file()
    assert leftovers(ws.out) == []


def test_a_rebuild_that_fails_in_the_spare_keeps_the_live_site(ws, monkeypatch):
    before = tree(ws.out)
    ws.editor.edit()

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as mp:
        mp.setattr(pipeline, "_other_files", broken)
        with pytest.raises(RuntimeError, match="the disk is full"):
            ws.build(mp)
    assert tree(ws.out) == before
    assert leftovers(ws.out) == []
    assert not write.spare(ws.out).exists(), "the spare the failed rebuild was bringing up to date is gone"
    assert REBUILT.match(ws.build(monkeypatch)), "the next rebuild links the pages it keeps, as without a spare"
    assert_same_site(ws.out, ws.cold(monkeypatch))


def test_a_rebuild_killed_while_it_brings_the_spare_up_to_date(ws, monkeypatch):
    """SIGKILL at several moments of rebuilds that recycle the spare: the live site is the last good
    one each time, and the next build clears what was left and equals a cold build."""
    env = dict(os.environ, EVIDENCE_SITE_CACHE=str(ws.cache), EVIDENCE_SITE_WORKERS="2")
    cmd = [sys.executable, str(ROOT / "build.py"), "build", "--content", str(ws.content), "--templates",
           str(ws.templates), "--out", str(ws.out), "--no-search"]
    for moment in (0.1, 0.2, 0.3, 0.4, 0.6):
        good = tree(ws.out)
        ws.editor.edit()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        time.sleep(moment)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=120)
        if not ws.out.exists():  # killed between the two renames of the swap
            write.recover(ws.out)
        now = tree(ws.out)
        cold = ws.cold(monkeypatch)
        assert now in (good, tree(cold)), f"killed after {moment}s, the site is neither the last good one nor the new"
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert leftovers(ws.out) == []
        assert_same_site(ws.out, cold)


def test_a_spare_that_cannot_be_moved_is_left_and_the_rebuild_starts_afresh(ws, monkeypatch):
    """If the spare cannot be renamed (a file system that refuses), the rebuild links every page into
    an empty folder, as without a spare, and the site is still a cold build's."""
    spare = write.spare(ws.out)
    real_rename = os.rename

    def refuse_the_spare(src, dst, *args, **kwargs):
        if Path(src) == spare:
            raise PermissionError(13, "refused", str(src))
        return real_rename(src, dst, *args, **kwargs)

    ws.editor.edit()
    with monkeypatch.context() as mp:
        mp.setattr(write.os, "rename", refuse_the_spare)
        assert REBUILT.match(ws.build(mp))
    assert_same_site(ws.out, ws.cold(monkeypatch))
    assert leftovers(ws.out) == []


# --- the first edit after a full build: no spare, the pages linked while the content loads -----------

@pytest.fixture
def built(tmp_path, monkeypatch) -> Workspace:
    """The real content after a full build (no spare), helpers forked as from the command line; the
    calls to ``cache.Walks.linked`` (what the helper linked) and the pages ``write.link_files`` was
    given in this process (beside the rendering) are recorded."""
    monkeypatch.setattr(helper_mod, "may_fork", lambda: True)
    ws = Workspace(tmp_path, CONTENT)
    assert BUILT.match(ws.build(monkeypatch))
    ws.editor = Editor(ws)  # type: ignore[attr-defined]
    ws.linked, ws.beside = [], []  # type: ignore[attr-defined]
    linked, link_files = cache.Walks.linked, write.link_files

    def spy_linked(self):
        found = linked(self)
        ws.linked.append(found)
        return found

    def spy_link_files(src, dst, rels):
        ws.beside.append(list(rels))
        return link_files(src, dst, rels)

    monkeypatch.setattr(cache.Walks, "linked", spy_linked)
    monkeypatch.setattr(write, "link_files", spy_link_files)
    return ws


def pages_of(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))


def test_the_first_edit_after_a_full_build_finds_every_page_linked_while_it_loaded(built, monkeypatch):
    """The helper that reads the output's listing links the last build's pages into the new folder
    while the content loads; the rebuild only replaces the links of the pages it renders, and the
    site is a cold build's. The live site is untouched meanwhile, and the next edit recycles the
    spare as usual."""
    ws = built
    pages, before, inodes = pages_of(ws.out), tree(ws.out), files_and_inodes(ws.out)
    ws.editor.edit()
    rebuilt = REBUILT.match(ws.build(monkeypatch))
    assert rebuilt
    assert ws.linked == [pages], "the helper should have linked every page of the full build"
    assert ws.beside == [], "no page should be left to link beside the rendering"
    assert tree(write.spare(ws.out)) == before and files_and_inodes(write.spare(ws.out)) == inodes
    now = files_and_inodes(ws.out)
    assert sum(now[rel] != inodes[rel] for rel in pages) == int(rebuilt[1]) < len(pages), \
        "every page but those the rebuild rendered is the last build's file"
    assert_same_site(ws.out, ws.cold(monkeypatch))
    assert leftovers(ws.out) == []
    ws.editor.edit()
    assert REBUILT.match(ws.build(monkeypatch))
    assert ws.linked == [pages], "with a spare to bring up to date, nothing is linked while loading"
    assert_same_site(ws.out, ws.cold(monkeypatch))
    assert leftovers(ws.out) == []


def test_a_content_error_found_after_the_pages_were_linked_leaves_no_folder(built, monkeypatch):
    before = tree(ws_out := built.out)
    record = built.record("policing-in-wales", "gwent-police", "strategic-direction")
    record.write_text(record.read_text(encoding="utf-8") + "  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(pipeline.ContentErrors):
        built.build(monkeypatch)
    assert tree(ws_out) == before
    assert leftovers(ws_out) == []


def test_linked_pages_a_rebuild_cannot_keep_are_thrown_away(built, monkeypatch):
    """When the loaded content shows that no page may be kept after all (here: every page stale),
    the folder of links is not used: every page is built into a folder of its own."""
    built.editor.edit()
    with monkeypatch.context() as mp:
        mp.setattr(pipeline, "_stale_pages", lambda *args: None)
        assert BUILT.match(built.build(mp))
    assert built.linked == [], "the links were not asked for"
    assert_same_site(built.out, built.cold(monkeypatch))
    assert leftovers(built.out) == []


def test_a_helper_that_dies_while_linking_leaves_the_links_to_the_rebuild(built, monkeypatch):
    """The helper killed halfway through the links: its half-filled folder is thrown away and the
    pages are linked beside the rendering, into a folder of their own."""
    parent = os.getpid()
    link_files = cache.link_files

    def dying(src, dst, rels):
        if os.getpid() != parent:
            link_files(src, dst, rels[: len(rels) // 2])
            os._exit(1)
        return link_files(src, dst, rels)

    monkeypatch.setattr(cache, "link_files", dying)
    pages = pages_of(built.out)
    built.editor.edit()
    assert REBUILT.match(built.build(monkeypatch))
    assert built.linked == [None]
    assert len(built.beside) == 1 and 0 < len(built.beside[0]) < len(pages), "the kept pages linked beside the rendering"
    assert_same_site(built.out, built.cold(monkeypatch))
    assert leftovers(built.out) == []
