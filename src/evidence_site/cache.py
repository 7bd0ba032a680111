"""What a build keeps for the next one, in ``.build-cache/`` beside the templates folder (gitignored).

Nothing here changes what is built; each entry is keyed by what produced it, so a stale entry is
never used:

- **Up to date.** The hash of every input (content and template files, byte for byte; this code
  and the libraries' versions; the settings; SOURCE_DATE_EPOCH) and the size and time of every
  file the last build left in the output folder. When the inputs hash the same and the output is
  as that build left it, there is nothing to build.
- **What each page was built from** (beside the above, ``builds/<folder>.pages``): the hash of every
  content file, each record file's submission, body and question, and for every page the record
  files its HTML depends on (``deps.page_deps``). When only record files were edited since the last
  build and every file that build wrote is still as it left it, the next build renders only the
  pages depending on an edited file and hard-links the rest (pipeline.build).
- **Loaded content files** (``Digests``). What loading keeps of each content file (its digest:
  ids, references, the model's part, each text's Markdown facts), keyed by the file's bytes, kind
  and shown path, in a file keyed by this code and the libraries; only files that loaded without a
  message. A rebuild parses the YAML and Markdown of the files edited since and checks across all
  files as ever. Written again only when it misses or holds more than a fiftieth of the files.
- **Content files' hashes** (``hashes/<folder>.pickle``): each content file's hash with its size,
  times and inode when it was hashed; a file whose size, times and inode are unchanged is not read
  again to hash its inputs (``_file_hashes``).
- **Compiled templates.** Jinja2's bytecode cache (keyed by each template's source).

``EVIDENCE_SITE_CACHE`` names another cache folder; ``off`` keeps no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .helper import Helper
from .write import link_files


CACHE_ENV = "EVIDENCE_SITE_CACHE"
KEEP_BUILDS = 64  # output folders whose last build is remembered
_PACKAGES = ("jinja2", "markupsafe", "markdown-it-py", "mdit-py-plugins", "pyyaml", "pagefind", "pagefind-bin")


def cache_dir(templates: Path) -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "no") else Path(env)
    return templates.resolve().parent / ".build-cache"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _versions() -> str:
    """Each of ``_PACKAGES`` with the version installed, as ``importlib.metadata.version`` finds it
    (the first ``<name>-<version>.dist-info`` folder on ``sys.path``), read from the folders' names:
    importing importlib.metadata took 15 ms of every command."""
    wanted = {_normal(name): name for name in _PACKAGES}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if entry.endswith(".dist-info") and "-" in entry:
                dist, version = entry[: -len(".dist-info")].split("-", 1)
                key = _normal(dist)
                if key in wanted and key not in found:
                    found[key] = version
    return ";".join(f"{name}={found.get(_normal(name), 'none')}" for name in _PACKAGES)


def code_key() -> str:
    """This generator's code and the libraries it uses: any change makes every entry stale."""
    h = hashlib.blake2b(digest_size=16)
    h.update(sys.version.encode())
    h.update(_versions().encode())
    here = Path(__file__).resolve().parent
    for f in sorted(here.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _walk(root: Path, ordered: bool = False) -> Iterator[tuple[str, str]]:
    """(path, path relative to ``root``) of every file under ``root``, in name order when ``ordered``.
    The relative path is cut from the path os.walk joined, not worked out by os.path.relpath, which
    makes both absolute first (a third of a rebuild's walks at 5,000 files)."""
    top = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(top):
        if ordered:
            dirnames.sort()
            filenames.sort()
        folder = dirpath[len(top):].lstrip(os.sep)
        prefix = folder + os.sep if folder else ""
        for name in filenames:
            yield os.path.join(dirpath, name), prefix + name


def _tree_hash(h, root: Path) -> None:
    if not root.exists():
        h.update(b"\0missing\0" + str(root).encode())
        return
    for path, rel in _walk(root, ordered=True):
        h.update(rel.encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.blake2b(f.read(), digest_size=16).digest())


@dataclass(frozen=True)
class Inputs:
    """What a build is made from, hashed: ``key`` covers everything (equal keys: nothing to build);
    ``frame`` everything but the content files; ``content`` each content file's hash by its path
    relative to the content folder."""

    key: str
    frame: str
    content: dict[str, str]


def content_hash(data: bytes) -> str:
    """A content file's hash, as ``Inputs.content`` holds it and ``Digests.key_of`` uses it."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# A file changed this close before its hash was taken may have changed again since within the same
# tick of the file system's clock, leaving its size and times as they were: it is read again next time.
RACY_NS = 2_000_000_000


def _hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return content_hash(f.read())


def _stamp(st: os.stat_result) -> tuple:
    """What tells a file unchanged since it was hashed (see ``_file_hashes``)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def read_hashed(path) -> tuple[bytes, tuple[tuple, str]]:
    """A file's bytes, with its ``_stamp`` (taken before they were read: a write after it changes
    what the next build sees) and their ``content_hash``."""
    with open(path, "rb") as f:
        stamp = _stamp(os.fstat(f.fileno()))
        data = f.read()
    return data, (stamp, content_hash(data))


def _hashes_file(cache: Path, content: Path) -> Path:
    key = hashlib.blake2b(str(content.resolve()).encode(), digest_size=8).hexdigest()
    return cache / "hashes" / f"{key}.pickle"


def _file_hashes(root: Path, cache: Path | None = None) -> dict[str, str]:
    """Each file's ``content_hash`` by its path relative to ``root``, in name order.

    With ``cache``, a file whose size, modification and change times, inode and device are what
    they were when it was last hashed is not read again, as ``make``, Git and Hugo tell a file
    unchanged (the change time cannot be set back: any write moves it). A file hashed within
    ``RACY_NS`` after its last change is read again all the same, as Git treats a "racily clean"
    file, since a second write in the same tick of the clock would leave its times as they were."""
    known: dict[str, tuple] = {}
    file = _hashes_file(cache, root) if cache is not None else None
    if file is not None:
        try:
            with open(file, "rb") as f:
                saved = pickle.load(f)
            if isinstance(saved, dict):
                known = saved
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
            pass
    taken = time.time_ns() - RACY_NS  # a file last changed before this is not racy
    out: dict[str, str] = {}
    seen: dict[str, tuple] = {}
    read = 0
    for path, rel in _walk(root, ordered=True):
        rel = rel.replace(os.sep, "/")
        stamp = _stamp(os.stat(path))  # before reading: a write after it changes what the next build sees
        old = known.get(rel)
        if type(old) is tuple and len(old) == 3 and old[0] == stamp and old[2] is True:
            hashed = old[1]
        else:
            hashed = _hash_file(path)
            read += 1
        out[rel] = hashed
        seen[rel] = (stamp, hashed, _settled(stamp, taken))
    if file is not None and (read or seen.keys() != known.keys()):
        _keep_hashes(file, seen, prune=not known)
    return out


def _settled(stamp: tuple, taken: int) -> bool:
    """Whether a file of ``stamp`` last changed before ``taken`` (see ``RACY_NS``)."""
    return stamp[2] < taken and stamp[1] < taken


def _keep_hashes(file: Path, seen: dict[str, tuple], prune: bool) -> None:
    """The hashes ``seen`` (path -> (stamp, hash, settled)) kept for the next build; with ``prune``
    (a content folder not seen before), only the newest folders' hashes are kept."""
    try:
        _atomic_write(file, pickle.dumps(seen, protocol=pickle.HIGHEST_PROTOCOL))
        if prune:
            kept = sorted(file.parent.glob("*.pickle"), key=lambda f: f.stat().st_mtime, reverse=True)
            for stale in kept[KEEP_BUILDS:]:
                stale.unlink()
    except OSError:
        pass  # a cache that cannot be written only makes the next build slower


def _frame(content: Path, templates: Path, settings: dict) -> str:
    """The hash of a build's inputs but the content files (``Inputs.frame``)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(code_key().encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update((os.environ.get("SOURCE_DATE_EPOCH") or "").encode())
    h.update(b"\0content\0" + (b"present" if content.is_dir() else b"missing"))
    h.update(b"\0templates\0")
    _tree_hash(h, templates)
    return h.hexdigest()


def _inputs_of(frame: str, files: dict[str, str]) -> Inputs:
    k = hashlib.blake2b(frame.encode(), digest_size=20)
    for rel, digest in files.items():
        k.update(rel.encode() + b"\0" + digest.encode() + b"\0")
    return Inputs(k.hexdigest(), frame, files)


def inputs(content: Path, templates: Path, settings: dict, cache: Path | None = None) -> Inputs:
    """What a build is made from (``Inputs``); with ``cache``, the content files unchanged since
    they were last hashed are not read again (``_file_hashes``)."""
    return _inputs_of(_frame(content, templates, settings),
                      _file_hashes(content, cache) if content.is_dir() else {})


class Hashing:
    """A build's ``Inputs`` whose content files are hashed as loading reads them: for a build that
    has no last build to compare its inputs with before loading (a first build into a folder),
    which would otherwise read every content file twice (0.1 s before loading at N = 5,000).

    ``listing``: every file ``inputs`` would hash (path relative to the content folder -> None),
    found before any is read; loading puts each file's ``_stamp`` and ``content_hash`` into ``read``
    (``content.read_content``), from the very bytes it loads, so a file edited during the build is
    seen by the next as changed. ``inputs`` hashes the files loading did not read (not YAML), keeps
    the hashes for the next build as ``_file_hashes`` does, and gives what ``inputs`` would have."""

    def __init__(self, content: Path, templates: Path, settings: dict, cache: Path | None = None) -> None:
        self.content, self.cache = content, cache
        self.frame = _frame(content, templates, settings)
        self.taken = time.time_ns() - RACY_NS  # a file last changed before this is not racy
        self.paths = {rel.replace(os.sep, "/"): path for path, rel in _walk(content, ordered=True)} \
            if content.is_dir() else {}
        self.read: dict[str, tuple[tuple, str]] = {}

    @property
    def listing(self) -> dict[str, None]:
        return dict.fromkeys(self.paths)

    def inputs(self) -> Inputs:
        files: dict[str, str] = {}
        seen: dict[str, tuple] = {}
        for rel, path in self.paths.items():
            got = self.read.get(rel)
            if got is None:  # a file loading does not read (not YAML): hashed now
                try:
                    got = _stamp(os.stat(path)), _hash_file(path)
                except OSError:
                    continue  # gone since it was listed: as the next build's walk will find it
            stamp, hashed = got
            files[rel] = hashed
            seen[rel] = (stamp, hashed, _settled(stamp, self.taken))
        if self.cache is not None and self.content.is_dir():
            _keep_hashes(_hashes_file(self.cache, self.content), seen, prune=True)
        return _inputs_of(self.frame, files)


def _entries(root: Path, folders: set[str] | None = None,
             strays: list[str] | None = None) -> Iterator[tuple[str, os.DirEntry]]:
    """(path relative to ``root``, its directory entry) of everything under ``root`` but folders,
    from the folder listings alone (a third faster than os.walk and a stat of each path). With
    ``folders``, only the folders named there are walked; the others go to ``strays``."""
    stack = [("", os.fspath(root))]
    while stack:
        prefix, path = stack.pop()
        with os.scandir(path) as listing:
            for entry in listing:
                rel = prefix + entry.name
                if not entry.is_dir(follow_symlinks=False):
                    yield rel, entry
                elif folders is None or rel in folders:
                    stack.append((rel + os.sep, entry.path))
                elif strays is not None:
                    strays.append(rel)


def _output_state(out: Path) -> dict[str, list[int]]:
    state: dict[str, list[int]] = {}
    for rel, entry in _entries(out):
        st = entry.stat(follow_symlinks=False)
        state[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return state


class Walks:
    """The listings a rebuild checks before it may keep pages: the output folder's state
    (``_output_state``) and, for a rebuild without search, the spare's inodes (``_inodes``). Both are
    mostly waiting on the file system (13,000 folders at N = 5,000), so a helper reads them on the
    other core while this process loads the content (``helper.Helper``: read here instead when no
    helper can run), with the same results.

    ``link_into``: a staging folder (``write.staging``) into which the helper then links every page
    the last build left (``write.link_files``), for a rebuild with no spare to bring up to date: the
    first edit after a full build. Done there while this process loads the content, not beside the
    pages it renders (0.3 s of mostly the kernel's work at N = 5,000); a page the rebuild renders
    replaces its link (``write.create``). Never done here: this process would wait for it, where
    the pages' side work does it beside them (``linked`` is then None)."""

    _FAILED = "failed"

    def __init__(self, out: Path, spare: Path | None, saved: dict, link_into: Path | None = None) -> None:
        self.out = out
        self.spare_folder = spare
        # The last build's files: the spare's walk reads their folders (``_folders``, worked out by
        # whoever walks: the helper, not this process, 0.01 s of a rebuild at N = 5,000).
        self.files = saved["files"] if spare is not None and isinstance(saved.get("spare"), list) else None
        self.link_into = link_into
        self.last_files = saved["files"]
        self.parent = os.getpid()
        self.helper = Helper(self._walk)

    def _walk(self) -> tuple:
        def attempt(walk, *args):
            try:
                return walk(*args)
            except OSError:
                return self._FAILED

        spare = attempt(_inodes, self.spare_folder, _folders(self.files)) if self.files is not None else self._FAILED
        output = attempt(_output_state, self.out)
        linked = None
        if self.link_into is not None and os.getpid() != self.parent:  # in the helper only (see above)
            pages = sorted(rel for rel in self.last_files if rel.endswith(".html"))
            try:
                link_files(self.out, self.link_into, pages)
                linked = pages
            except OSError:
                pass  # the pages are linked beside the rendering instead, into a folder of their own
        return output, spare, linked

    def start(self) -> Walks:
        self.helper.start()
        return self

    def output(self) -> dict[str, list[int]]:
        """``_output_state`` of the output folder (raises OSError as it would)."""
        state = self.helper.result()[0]
        return _output_state(self.out) if state == self._FAILED else state

    def linked(self) -> list[str] | None:
        """The pages linked into ``link_into``; None when they were not (all of them, from a helper)."""
        return self.helper.result()[2]

    def spare(self):
        """``_inodes`` of the spare, for the folders of the files the last build left."""
        found = self.helper.result()[1]
        if found != self._FAILED:
            return found
        return _inodes(self.spare_folder, _folders(self.files) if self.files is not None else None)

    def close(self) -> None:
        self.helper.close()


def _state_file(cache: Path, out: Path) -> Path:
    key = hashlib.blake2b(str(out.resolve()).encode(), digest_size=8).hexdigest()
    return cache / "builds" / f"{key}.json"


def _atomic_write(path: Path, data: bytes | list) -> None:
    """``data`` (bytes, or a list of bytes-like parts) written to ``path`` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, list):
                f.writelines(data)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def up_to_date(cache: Path | None, out: Path, key: str) -> int | None:
    """The number of pages of the output when the last build into ``out`` had these inputs and its
    output is untouched since; otherwise None."""
    if cache is None:
        return None
    try:
        saved = json.loads(_state_file(cache, out).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != key or not out.is_dir():
        return None
    try:
        if _output_state(out) != saved.get("files"):
            return None
    except OSError:
        return None
    return int(saved.get("pages", 0))


def written_state(root: Path, known: dict[str, list[int]], others) -> dict[str, list[int]]:
    """What ``_output_state`` would find in ``root``, a folder a build filled, without walking it: the
    files whose state is ``known`` (pages as their writer left them, ``parallel._write``; files
    linked from the last build as it left them) and the ``others`` as they are now."""
    state = dict(known)
    for rel in others:
        st = os.lstat(os.path.join(root, rel))
        state[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return state


def remember_build(cache: Path | None, out: Path, key: str, pages: int,
                   files: dict[str, list[int]] | None = None, spare: list[str] | None = None) -> None:
    """Keep what the build into ``out`` left there: every file's size, time and inode (``files``,
    from ``written_state``, or read from the folder), for the next build to
    tell whether anyone changed the folder since; with ``spare``, the files this build wrote, the
    only ones the output it replaced, kept as the spare (``write.spare``), does not share with it."""
    if cache is None:
        return
    try:
        state = {"key": key, "pages": pages, "files": files if files is not None else _output_state(out)}
        if spare is not None:
            state["spare"] = sorted(spare)
        _atomic_write(_state_file(cache, out), json.dumps(state).encode())
        # One entry per output folder ever built (tests build into many): keep the newest.
        entries = sorted((cache / "builds").glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in entries[KEEP_BUILDS:]:
            old.unlink()
            for kind in ("pages", *_KEPT):
                old.with_suffix("." + kind).unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written only makes the next build slower


def forget_build(cache: Path | None, out: Path) -> None:
    if cache is None:
        return
    for f in (_state_file(cache, out), _pages_file(cache, out), *(_kept_file(cache, out, kind) for kind in _KEPT)):
        try:
            f.unlink()
        except OSError:
            pass


# --- what each page was built from -----------------------------------------------------------------

def _pages_file(cache: Path, out: Path) -> Path:
    return _state_file(cache, out).with_suffix(".pages")


@dataclass
class Previous:
    """The last build into an output folder, as an incremental rebuild needs it."""

    changed: frozenset[str]  # content files (relative to the content folder) edited since
    records: list[list[str]]  # [file, submission, body, question] of every record, in the model's order
    sets: list  # distinct dependency sets: sorted indexes into ``records``, or "*" for every record
    pages: dict[str, int]  # each page's output path -> its dependency set (an index into ``sets``)
    files: dict[str, list[int]] = field(repr=False)  # the files that build wrote, as it left them
    key: str = ""  # that build's inputs key
    spare: frozenset[str] | None = None  # the files that build wrote, when it kept the spare


def _inodes(root: Path, folders: set[str]) -> tuple[dict[str, int], list[str]] | None:
    """Every file under ``root`` with its inode, read from the folder listings (no stat of each),
    and the folders not among ``folders`` (not walked: they are not the build's). None if a
    symbolic link is met."""
    found: dict[str, int] = {}
    strays: list[str] = []
    for rel, entry in _entries(root, folders, strays):
        if entry.is_symlink():
            return None
        found[rel] = entry.inode()
    return found, strays


@dataclass(frozen=True)
class Spare:
    """A folder a rebuild starts from, holding the last build's files (``held``): the spare as the
    next rebuild finds it (``spare_files``), or the last build's pages linked into a new folder while
    the content loaded (``Walks``'s ``link_into``). ``shared``: the files that are the live output's
    own (hard links of them, untouched since they were made); ``strays``: what it holds that the
    build before did not write (a search index written into the spare while it was live), to remove."""

    shared: frozenset[str]
    strays: tuple[str, ...]
    held: frozenset[str]


def _folders(files) -> set[str]:
    """Every folder holding one of ``files`` (relative paths), and the folders above them."""
    folders = {os.path.dirname(rel) for rel in files}
    for folder in list(folders):
        while folder and (folder := os.path.dirname(folder)) not in folders:
            folders.add(folder)
    return folders


def spare_files(spare: Path, previous: Previous, walks: Walks | None = None) -> Spare | None:
    """The spare (``write.spare``) as the build before left it, or None when it cannot be used: no
    spare was kept, or it lacks a file or holds one that is not the one that build left there.
    ``walks``: the spare's listing, read while the content loaded (``Walks``).

    The spare is the output before the last build: every file that build wrote (``previous.spare``)
    is the spare's own, and every other one must be the same file (inode) as the live output's,
    whose size and time ``last_build`` has checked."""
    if previous.spare is None or spare.is_symlink() or not spare.is_dir():
        return None
    try:
        walked = walks.spare() if walks is not None else _inodes(spare, _folders(previous.files))
    except OSError:
        return None
    if walked is None:
        return None
    found, strays = walked
    shared = []
    for rel, value in previous.files.items():
        ino = found.pop(rel, None)
        if ino is None:
            return None
        if rel not in previous.spare:
            if ino != value[2]:
                return None
            shared.append(rel)
    return Spare(frozenset(shared), tuple(strays) + tuple(found), frozenset(previous.files))


NOT_REMEMBERED = "no earlier build into this folder is remembered"
NO_CACHE = "no cache"  # (both: why a build makes every page, not said in its log line)


@dataclass
class LastBuild:
    pages: int | None = None  # up to date: the number of pages, and nothing to build
    previous: Previous | None = None  # only record files were edited: what the last build was made from
    why: str = ""  # otherwise, why every page is built again


def remembered(cache: Path | None, out: Path) -> bool:
    """Whether the last build into ``out`` left its state to read (``saved_state``), at a glance:
    the file is there, not read."""
    return cache is not None and _state_file(cache, out).exists()


def saved_state(cache: Path | None, out: Path) -> dict | None:
    """What the last build into ``out`` left of its output (``remember_build``), or None."""
    if cache is None:
        return None
    try:
        saved = json.loads(_state_file(cache, out).read_text())
        if not isinstance(saved, dict) or not isinstance(saved["files"], dict):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return saved


def last_build(cache: Path | None, out: Path, now: Inputs, saved: dict | None = None,
               walks: Walks | None = None, edits: Previous | str | None = None) -> LastBuild:
    """What the last build into ``out`` tells this one: nothing to build (the inputs hash the same and
    the output is untouched), or what an incremental rebuild needs (only record files were edited
    since, and every file that build wrote is still as it left it; files added since, such as a
    search index written into the folder afterwards, are not carried over), or why neither.
    ``saved``: ``saved_state``, when read already; ``walks``: the output's listing, read while the
    content loaded; ``edits``: ``record_edits``, when worked out already."""
    if cache is None:
        return LastBuild(why=NO_CACHE)
    if saved is None:
        saved = saved_state(cache, out)
    if saved is None:
        return LastBuild(why=NOT_REMEMBERED)
    files = saved["files"]
    if not out.is_dir():
        return LastBuild(why="the output folder is missing")
    try:
        state = walks.output() if walks is not None else _output_state(out)
    except OSError:
        return LastBuild(why="the output folder could not be read")
    if saved.get("key") == now.key and state == files:
        return LastBuild(pages=int(saved.get("pages", 0)))
    if any(state.get(rel) != value for rel, value in files.items()):
        return LastBuild(why="the output folder was changed since the last build")
    if edits is None:
        edits = record_edits(cache, out, now, saved)
    if isinstance(edits, str):
        return LastBuild(why=edits)
    return LastBuild(previous=edits)


def record_edits(cache: Path, out: Path, now: Inputs, saved: dict) -> Previous | str:
    """What the last build into ``out`` was made from, when only record files were edited since
    (``Previous``, whose ``changed`` lists them), or why not: what ``last_build`` needs besides the
    output's listing, known before the content is loaded."""
    try:
        made = json.loads(_pages_file(cache, out).read_text())
        if made["key"] != saved.get("key"):
            raise ValueError
        frame, content = made["frame"], made["content"]
        spare = saved.get("spare")
        previous = Previous(frozenset(), made["records"], made["sets"], made["pages"], saved["files"], made["key"],
                            frozenset(spare) if isinstance(spare, list) else None)
    except (OSError, ValueError, KeyError, TypeError):
        return "what the last build was made from is not remembered"
    if frame != now.frame:
        return "the code, templates or settings changed"
    if not isinstance(content, dict) or content.keys() != now.content.keys():
        return "a content file was added or removed"
    changed = sorted(rel for rel, digest in now.content.items() if content[rel] != digest)
    others = [rel for rel in changed if not rel.startswith("responses/")]
    if others:
        return f"{others[0]} changed (not a record)"
    previous.changed = frozenset(changed)
    return previous


def remember_pages(cache: Path | None, out: Path, now: Inputs, records: list[list[str]], sets: list,
                   pages: dict[str, int]) -> None:
    """Keep what this build was made from, for the next build into ``out`` (after remember_build)."""
    if cache is None:
        return
    made = {"key": now.key, "frame": now.frame, "content": now.content, "records": records, "sets": sets,
            "pages": pages}
    try:
        _atomic_write(_pages_file(cache, out), json.dumps(made, separators=(",", ":")).encode())
    except OSError:
        pass


# --- what a build leaves for the next one: where the data files' items lie, the glossary's uses -----

# Kept beside a build's state file (``<state>.<kind>``), each for the build of one inputs key.
_KEPT = ("data", "glossary")


def _kept_file(cache: Path, out: Path, kind: str) -> Path:
    return _state_file(cache, out).with_suffix("." + kind)


def remember(cache: Path | None, out: Path, kind: str, key: str, value) -> None:
    """Keep ``value`` of kind ``kind`` (one of ``_KEPT``) from the build of inputs ``key`` into
    ``out``, for the next build there: where each paragraph's item lies in the data files
    (``data.Layout`` by file, "data"), the paragraphs each glossary term is used in
    (``pipeline.glossary_ids``, "glossary")."""
    if cache is None:
        return
    try:
        _atomic_write(_kept_file(cache, out, kind), pickle.dumps({"key": key, "value": value}, protocol=5))
    except OSError:
        pass  # a cache that cannot be written only makes the next build slower


def kept(cache: Path | None, out: Path, kind: str, key: str):
    """What ``remember`` kept of ``kind`` for the build of inputs ``key`` into ``out``; None when it
    is not known (the next build then makes it afresh)."""
    if cache is None:
        return None
    try:
        found = pickle.loads(_kept_file(cache, out, kind).read_bytes())
        return found["value"] if found["key"] == key else None
    except Exception:  # noqa: BLE001 - missing, cut short or from another version: made afresh
        return None


# --- loaded content files ----------------------------------------------------------------------------

_INDEX_SIZE = struct.Struct("<Q")


_BLOCK = 1 << 18  # bytes of the cache file read at a time (``Digests.get``)


def read_at(fd: int, start: int, size: int) -> bytes:
    """``size`` bytes of the file ``fd`` from ``start``; OSError when it ends before."""
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, start)
        if not chunk:
            raise OSError(f"the file ends {size} bytes short")
        chunks.append(chunk)
        start += len(chunk)
        size -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _remove_orphans(folder: Path) -> None:
    """Delete the next files of digests that builds killed halfway left behind (a closed terminal
    ends a build without its clean-up; each file grows to tens of megabytes): their names carry the
    process that wrote them (``Digests._flush``); a file of a process still running is left."""
    for orphan in folder.glob("digests-*.pickle.*.tmp"):
        try:
            pid = int(orphan.name.split(".pickle.", 1)[1].split(".", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            orphan.unlink(missing_ok=True)
        except OSError:
            pass  # running, as another user's process


class Digests:
    """What loading kept of each content file (``validate.digest``, as a loading worker sends it),
    keyed by a hash of the file's bytes, its kind and the path its messages show, in a file keyed by
    this code and the libraries. A rebuild after an edit parses and checks only the files whose
    bytes changed, then checks across files as ever. Only files that loaded without a message are
    kept, so every message is made afresh.

    The file: the entries, each a pickle, then the index (pickled: key -> where its entry lies), then
    the size of the index (8 bytes). An entry is read where it lies when it is asked for (``get``):
    the file is not mapped into memory, where its pages (49 MB at 5,000 records) would add to the
    process's own while the model is made. A build that will write the file again writes each new
    entry into the next file as it is given (``put``), so no process holds them all (counted again
    by every process forked after loading); ``save`` adds the entries taken from the last file, copied
    as they lie there, and the index."""

    def __init__(self, cache: Path | None, saving: bool = True) -> None:
        self.folder = cache
        self.saving = saving  # False: only read (``check``), so the files loaded are not pickled for it
        self.entries: dict[bytes, tuple[int, int]] = {}  # key -> (start, end) in the last file
        self._last = None  # the last file, open for reading
        self._block: tuple[int, memoryview] = (0, memoryview(b""))  # the part of it read last, and where
        self.used: dict[bytes, tuple[int, int]] = {}  # the entries this build took from the last file
        self.added = 0  # entries given by ``put``
        self._pending: list[tuple[bytes, bytes]] = []  # given while it was not yet sure to be written
        self._written: dict[bytes, tuple[int, int]] = {}  # key -> where ``_next`` holds it
        self._next = None  # the next file, being written (a temporary file in the folder)
        self._next_path: str | None = None
        self._next_size = 0
        if cache is None:
            return
        # Named by this code and the libraries (``code_key`` reads every module): worked out once.
        self.path = cache / f"digests-{code_key()}.pickle"
        last = None
        try:
            last = open(self.path, "rb", buffering=0)  # closed when let go of, as by ``discard``
            fd = last.fileno()
            trailer = os.fstat(fd).st_size - _INDEX_SIZE.size
            (size,) = _INDEX_SIZE.unpack(read_at(fd, trailer, _INDEX_SIZE.size))
            start = trailer - size
            entries = pickle.loads(read_at(fd, start, size)) if start >= 0 else None
            if isinstance(entries, dict) and all(0 <= a <= b <= start for a, b in entries.values()):
                self.entries, self._last, last = entries, last, None
        except Exception:  # noqa: BLE001 - missing, empty, cut short or from another version: not used
            pass
        finally:
            if last is not None:
                last.close()

    @staticmethod
    def key_of(kind: str, shown: str, hashed: str) -> bytes:
        """The key of a file's entry, from its kind, shown path and ``content_hash``: a rebuild has
        every content file's from hashing its inputs, so a file the cache knows is not read again."""
        h = hashlib.blake2b(digest_size=16)
        h.update(kind.encode() + b"\0" + shown.encode() + b"\0" + hashed.encode())
        return h.digest()

    def get(self, key: bytes) -> memoryview | None:
        where = self.entries.get(key)
        if where is None or self._last is None:
            return None
        start, end = where
        at, block = self._block
        if not (at <= start and end <= at + len(block)):
            # Entries are asked for about in the order they lie: read a block of them at a time.
            try:
                block = os.pread(self._last.fileno(), max(end - start, _BLOCK), start)
                if len(block) < end - start:
                    block = read_at(self._last.fileno(), start, end - start)
            except OSError:
                return None
            at, block = self._block = start, memoryview(block)
        self.used[key] = where
        return block[start - at:end - at]

    def put(self, key: bytes, blob: bytes) -> None:
        """Keep the entry of a file loaded by this build: written into the next file at once when
        that file will be written (``worth_saving``), else held until it is known to be."""
        if not self.saving or key in self._written or any(k == key for k, _ in self._pending):
            return  # nothing is written (``check``), or given again: a file loaded again after its worker died
        self.added += 1
        self._pending.append((key, blob))
        if self.worth_saving():
            self._flush()

    def _flush(self) -> None:
        """The entries held, written into the next file (opened on first use)."""
        try:
            if self._next is None:
                assert self.folder is not None
                self.folder.mkdir(parents=True, exist_ok=True)
                fd, self._next_path = tempfile.mkstemp(dir=self.folder, prefix=f"{self.path.name}.{os.getpid()}.",
                                                       suffix=".tmp")
                # Unbuffered: a process forked meanwhile (a page worker) holds no unwritten bytes of it.
                self._next, self._next_size = os.fdopen(fd, "wb", buffering=0), 0
            for key, blob in self._pending:
                self._written[key] = self._append(blob)
        except OSError:  # a cache that cannot be written only makes the next build slower
            self._drop_next()
            self.saving = False
        self._pending.clear()

    def _append(self, blob) -> tuple[int, int]:
        """``blob`` written at the end of the next file; where it lies there."""
        view = memoryview(blob)
        start = self._next_size
        while view:
            view = view[self._next.write(view):]
        self._next_size = start + len(blob)
        return start, self._next_size

    def worth_saving(self) -> bool:
        """False when ``save`` would keep the file as it is (see there)."""
        if self.folder is None or not self.saving:
            return False
        slack = len(self.entries) // 50
        unused = len(self.entries) - len(self.used)
        return not (self.entries and self.added <= slack and unused <= slack)

    def save(self) -> None:
        """Keep this build's entries (and no others). The file (large) is left as it is while it
        misses or holds only a few files more than this build's: the few files edited since are
        parsed again, in about a millisecond each."""
        if not self.worth_saving():
            self.discard()
            return
        self._flush()
        if self._next is None:
            self.discard()
            return  # it could not be written (``_flush``)
        try:
            current = self.path
            index = self._written
            for key, (a, b) in self.used.items():  # taken from the last file: copied as they lie
                if key not in index:
                    index[key] = self._append(read_at(self._last.fileno(), a, b - a))
            head = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
            self._append(head + _INDEX_SIZE.pack(len(head)))
            self._next.close()
            os.replace(self._next_path, current)
            self._next = self._next_path = None
            for stale in self.folder.glob("digests-*.pickle"):  # written by other code or libraries
                if stale != current:
                    stale.unlink()
            _remove_orphans(self.folder)
        except OSError:
            pass
        finally:
            self.discard()

    def discard(self) -> None:
        """Close the last file and drop the next file unwritten (a build that ends without ``save``;
        nothing when saved). Nothing more is taken from or given to it."""
        self.entries, self.used, self._pending, self._block = {}, {}, [], (0, memoryview(b""))
        self.saving = False
        if self._last is not None:
            self._last.close()
            self._last = None
        self._drop_next()

    def _drop_next(self) -> None:
        """The next file closed and deleted, if it is there."""
        if self._next is not None:
            try:
                self._next.close()
            except OSError:
                pass
            self._next = None
        if self._next_path is not None:
            try:
                os.unlink(self._next_path)
            except OSError:
                pass
            self._next_path = None


def template_bytecode(templates: Path):
    """The cache's store of the templates' compiled bytecode (Jinja2's), None with no cache."""
    cache = cache_dir(templates)
    if cache is None:
        return None
    from jinja2 import FileSystemBytecodeCache  # noqa: PLC0415

    folder = cache / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder))
