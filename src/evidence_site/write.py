"""Write the site so that the last good output is never lost.

The build goes into a fresh folder beside the target; only a complete build (pages, data and the
search index) is swapped in, by two renames: ``out`` → ``out.old``, then ``new`` → ``out``. A
build killed between the two leaves ``out.old`` and no ``out``; the next run puts it back before
doing anything else. A lock file keeps two builds from recovering, writing or swapping at once.

After a rebuild that kept most pages (an incremental rebuild without search), the output it
replaced is not deleted but kept beside the new one as the *spare*, ``.out.spare``: most of its
files are hard links of the live site's. The next such rebuild renames the spare to a staging name,
brings it up to date (the few files either build wrote; ``cache.spare_files`` checks first that the
spare is as it was left) and swaps it in, so it neither links every page into an empty folder nor
deletes the last output, which take most of a rebuild's time on a large site. Because files are
shared between the spare and the live site, nothing here ever writes into an existing file: every
write makes a new file, removing the old name first (``create``).

Every folder this module deletes or replaces carries the marker file (or is a staging folder it
named itself): a folder it did not build is never touched. The guarantee is against a build that
dies (SIGKILL, Ctrl-C, a crash), not against power loss: nothing is fsynced, for speed.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from itertools import islice
from typing import BinaryIO, Callable, Iterable, Iterator

MARKER = ".evidence-site"

# Names no output file or folder may take: Windows device names (a checkout of the site on
# Windows could not hold them), the marker, and a folder git would treat as its own.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$", re.IGNORECASE)
_RESERVED_NAMES = {MARKER, ".git"}
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]')
_DRIVE = re.compile(r"[A-Za-z]:")


class OutputError(Exception):
    """The output folder is unsafe to write to."""


def _old(out: Path) -> Path:
    return out.with_name(out.name + ".old")


def _ours(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def retire(folder: Path, out: Path | None = None) -> Path:
    """Rename a folder of ours (an old output, a spare, a folder inside a build of ``out``) to a
    staging name beside ``out`` (by default, the site ``folder`` is the ``.old`` of), which the next
    run deletes if it is left behind, so deleting it can be cut short without leaving a half-deleted
    folder. Returns the staging folder, for the caller to delete."""
    out = out if out is not None else folder.with_name(folder.name.removesuffix(".old"))
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        os.rename(folder, trash / "old")
    except OSError:
        os.rmdir(trash)
        raise
    return trash


def spare(out: Path) -> Path:
    """Where the output a rebuild replaced is kept for the next rebuild to bring up to date."""
    return out.with_name(f".{out.name}.spare")


def recycle(out: Path) -> Path | None:
    """The spare, renamed to a fresh staging name (a build cut short leaves it for ``recover``);
    None if it cannot be moved (the build then starts from an empty folder)."""
    new = staging(out)
    try:
        os.rename(spare(out), new)  # onto the empty folder mkdtemp made
    except OSError:
        os.rmdir(new)
        return None
    return new


def tidy(folder: Path, out: Path, strays, unwanted) -> list[Path]:
    """Remove from a folder a rebuild started from (``folder``: a recycled spare of ``out``, or the
    last build's pages linked, ``cache.Spare``) the files and folders the build does not make:
    ``strays``, written into it while it was live (a search index; its folders are renamed away and
    returned, for the caller to delete), and the files ``unwanted`` (a page the build no longer
    makes), with any folder they leave empty: as a build into an empty folder."""
    away: list[Path] = []
    emptied: set[str] = set()
    for rel in strays:
        path = folder / rel
        if path.is_dir():
            away.append(retire(path, out))
        else:
            path.unlink()
            emptied.add(os.path.dirname(rel))
    for rel in unwanted:
        (folder / rel).unlink()
        emptied.add(os.path.dirname(rel))
    for rel in sorted(emptied, key=len, reverse=True):
        while rel:
            try:
                os.rmdir(folder / rel)
            except OSError:
                break  # not empty: a file the build made is in it
            rel = os.path.dirname(rel)
    return away


def settle(retired: Path | None, out: Path, keep: bool) -> tuple[bool, list[Path]]:
    """After ``swap(later=True)``: with ``keep``, the output it retired becomes the spare. Returns
    whether it did, and the folders renamed away for the caller to delete: any other spare (not the
    one this build used, which is the output now) and the retired output if not kept. Never fails
    the build, which is in place: a folder that cannot be moved is left for the next build."""
    trash: list[Path] = []
    folder = spare(out)
    try:
        if not folder.is_symlink() and folder.is_dir() and _ours(folder):
            trash.append(retire(folder, out))
    except OSError:
        pass
    if retired is None:
        return False, trash
    if keep and not (folder.exists() or folder.is_symlink()):
        try:
            os.rename(retired / "old", folder)
        except OSError:
            pass
        else:
            trash.append(retired)  # the staging folder it was in, empty now
            return True, trash
    return False, trash + [retired]


def create(path, buffering: int = -1) -> BinaryIO:
    """A new file at ``path``, open for writing. A file already there is removed first, never written
    into: a file of a recycled spare may be a hard link of the live site's (``recycle``)."""
    try:
        return open(path, "xb", buffering=buffering)
    except FileExistsError:
        os.unlink(path)
        return open(path, "xb", buffering=buffering)


def _discard(folder: Path) -> None:
    """Delete a folder of ours (renamed first: ``retire``)."""
    shutil.rmtree(retire(folder), ignore_errors=True)


def recover(out: Path) -> None:
    """Undo what a killed build left behind. Call it holding the lock."""
    old = _old(out)
    if old.exists() or old.is_symlink():
        if not old.is_dir() or old.is_symlink() or not _ours(old):
            raise OutputError(f"refusing to build into {out}: {old} is in the way and was not made by this "
                              f"builder (no {MARKER} marker); move it away")
        if not out.exists() and not out.is_symlink():
            os.rename(old, out)  # a swap was cut short: bring the last good site back
        else:
            _discard(old)
    for stale in sorted(out.parent.glob(f".{out.name}.build-*")):
        shutil.rmtree(stale, ignore_errors=True)  # a build that died before its swap


def check_output(out: Path, forbidden: list[tuple[str, Path]], no_inside: list[tuple[str, Path]] = ()) -> None:
    """Refuse an output folder that is, or holds, a folder we must never replace.

    ``forbidden``: (what, folder) pairs the output may neither be nor contain (the content and
    templates folders, the project folder). ``no_inside``: folders the output may not sit inside
    (a site inside the content or templates folder would feed the next build and the watcher).
    """
    out_r = out.resolve()
    for what, f in forbidden:
        if out_r == f.resolve():
            raise OutputError(f"refusing to build into {out}: it is the {what}; choose another --out")
    for what, f in forbidden:
        if f.resolve().is_relative_to(out_r):
            raise OutputError(f"refusing to build into {out}: it contains the {what} ({f}); choose another --out")
    for what, f in no_inside:
        if out_r.is_relative_to(f.resolve()):
            raise OutputError(f"refusing to build into {out}: it is inside the {what} ({f}); choose another --out")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"refusing to build into {out}: it is not a folder")
    if out.is_dir() and any(out.iterdir()) and not _ours(out):
        raise OutputError(f"refusing to build into {out}: it is not empty and was not made by this builder "
                          f"(no {MARKER} marker); choose another --out or empty it")


def check_build_output(out: Path, content: Path, templates: Path) -> None:
    """``check_output`` as a build applies it: never into (or around) the content folder, the templates
    folder or the project folder (the one the build runs in), nor inside the first two."""
    check_output(out, [("content folder", content), ("templates folder", templates), ("project folder", Path.cwd())],
                 [("content folder", content), ("templates folder", templates)])


@contextmanager
def lock(out: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``.<out>.lock`` beside the output folder; a second build waits for the first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.with_name(f".{out.name}.lock")
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if on_wait:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)  # another build is running: wait for it
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging(out: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))


# Folder and file names already found sound: the same few (an id, ``index.html``) come back in
# thousands of paths, each checked before the first page is written.
_SOUND_PARTS: set[str] = set()


def safe_rel(rel: str) -> str:
    """Check one output path (``a/b/index.html``); anything that could land outside is refused."""
    def refuse(why: str) -> OutputError:
        return OutputError(f"refusing to write {rel!r}: {why}")

    if not isinstance(rel, str) or not rel:
        raise refuse("an empty path")
    if rel.startswith("/") or "\\" in rel or _DRIVE.match(rel):
        raise refuse("an absolute path would land outside the output folder")
    for part in rel.split("/"):
        if part in _SOUND_PARTS:
            continue
        if part in ("", ".", ".."):
            raise refuse("'..', '.' or an empty folder name would land outside the output folder")
        if _BAD_CHARS.search(part):
            raise refuse(f"'{part}' holds a character a file name may not hold")
        if part.endswith((".", " ")):
            raise refuse(f"'{part}' ends with a dot or a space, which Windows drops")
        if _RESERVED.match(part) or part in _RESERVED_NAMES:
            raise refuse(f"'{part}' is a reserved name; choose another id")
        if len(_SOUND_PARTS) >= 100_000:
            _SOUND_PARTS.clear()
        _SOUND_PARTS.add(part)
    return rel


def safe_join(root: Path, rel: str) -> Path:
    """A file inside root; anything that would land outside is refused."""
    target = root / safe_rel(rel)
    if not target.resolve().is_relative_to(root.resolve()):  # a symlink on the way
        raise OutputError(f"refusing to write {rel!r}: it would land outside the output folder")
    return target


@dataclass(frozen=True)
class Spliced:
    """A file's content made of text and byte ranges of another file (a data file of the last build,
    which a rebuild copies most of): written by the kernel's copy, never read into memory."""

    source: Path
    parts: tuple[str | tuple[int, int], ...]  # text (written as UTF-8), or (offset, length) in source

    def write_to(self, target: Path) -> None:
        src = os.open(self.source, os.O_RDONLY)
        try:
            with create(target, buffering=0) as out:
                dst = out.fileno()
                for part in self.parts:
                    if isinstance(part, str):
                        _write_all(dst, part.encode("utf-8"))
                    else:
                        _copy_range(src, dst, *part, self.source)
        finally:
            os.close(src)

    def read(self) -> bytes:
        """The whole content (for tests and small files)."""
        with open(self.source, "rb") as src:
            out = []
            for part in self.parts:
                if isinstance(part, str):
                    out.append(part.encode("utf-8"))
                else:
                    src.seek(part[0])
                    chunk = src.read(part[1])
                    if len(chunk) != part[1]:
                        raise OSError(f"{self.source} ended before byte {part[0] + part[1]}")
                    out.append(chunk)
            return b"".join(out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_range(src: int, dst: int, offset: int, length: int, name: Path) -> None:
    """Bytes [offset, offset + length) of ``src`` appended to ``dst``, in the kernel where it can."""
    while length > 0:
        try:
            n = os.copy_file_range(src, dst, length, offset)
        except (AttributeError, OSError):  # no such call here, or not between these file systems
            chunk = os.pread(src, min(length, 1 << 24), offset)
            _write_all(dst, chunk)
            n = len(chunk)
        if n <= 0:
            raise OSError(f"{name} ended before byte {offset + length}")
        offset += n
        length -= n


WRITE_BATCH = 2048  # pieces joined, encoded and written at a time


def write_pieces(out: BinaryIO, pieces: Iterable[str]) -> None:
    """Text given in pieces (a page from Jinja's ``generate``, a data file's items and separators),
    joined and encoded a batch of pieces at a time, taken at C speed (``islice``): the whole text is
    never one string, nor its UTF-8 one buffer. A record page comes in about 190 pieces, and a loop
    over them in Python cost 4% of rendering."""
    pieces = iter(pieces)
    for first in pieces:  # a batch a turn: its first piece and up to WRITE_BATCH - 1 more
        out.write("".join((first, *islice(pieces, WRITE_BATCH - 1))).encode("utf-8"))


@dataclass(frozen=True)
class Streamed:
    """A file's content as text pieces made while it is written (``write_pieces``): the data files of
    an inquiry, tens of megabytes, are never held whole (nor their making's copies of them)."""

    pieces: Iterable[str]

    def write_to(self, target: Path) -> None:
        with create(target) as out:
            write_pieces(out, self.pieces)


def write_files(root: Path, files: dict[str, str | bytes | Spliced | Streamed], marker: bool = True) -> None:
    """Write every output file; every path is checked before the first is written. Then, unless
    ``marker`` is False (``mark`` later), the marker that tells the folder is a whole build of ours."""
    for rel in files:
        safe_rel(rel)
    for rel in sorted(files):
        target = safe_join(root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        content = files[rel]
        if isinstance(content, (Spliced, Streamed)):
            content.write_to(target)
            continue
        with create(target) as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
    if marker:
        mark(root)


def mark(root: Path) -> None:
    """The marker: written once every page and file of a build is in the folder."""
    with create(root / MARKER) as f:
        f.write(b"built by evidence-site; safe to replace\n")


def link_files(src: Path, dst: Path, rels) -> int:
    """Put the files ``rels`` of ``src`` into ``dst`` as hard links (a file of the last build an
    incremental rebuild keeps as it is); a copy where the file system cannot link. Returns how many
    were copied; a file already at a name is replaced. Nothing ever writes into a linked file: every
    write makes a new file (``create``)."""
    for rel in rels:
        safe_rel(rel)
    source = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    target = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    made = {""}
    copied = 0
    try:
        for rel in rels:
            folder = rel.rpartition("/")[0]
            if folder not in made:  # a page per folder: mkdir, never a makedirs with its stat per level
                parts = folder.split("/")
                for i in range(1, len(parts) + 1):
                    f = "/".join(parts[:i])
                    if f not in made:
                        try:
                            os.mkdir(f, dir_fd=target)
                        except FileExistsError:
                            pass
                        made.add(f)
            try:
                try:
                    os.link(rel, rel, src_dir_fd=source, dst_dir_fd=target, follow_symlinks=False)
                except FileExistsError:  # linked by a worker that died, or a recycled folder's: link again
                    os.unlink(rel, dir_fd=target)
                    os.link(rel, rel, src_dir_fd=source, dst_dir_fd=target, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                with open(os.path.join(src, rel), "rb") as f, create(os.path.join(dst, rel)) as g:
                    shutil.copyfileobj(f, g)
                copied += 1
    finally:
        os.close(source)
        os.close(target)
    return copied


def copy_tree(src: Path, dst: Path) -> None:
    for file in sorted(src.rglob("*")):
        if file.is_file():
            target = dst / file.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)


def bundle_problems(root: Path) -> list[str]:
    """What is missing or cut short in the search bundle under ``root/pagefind``.

    Pagefind 1.5.2 in service mode (its Python API) can answer "written" while files are still
    being written, and closing it then leaves them empty or cut short (Pagefind issue #1271).
    Every index file is gzip, so a cut-short one fails to decompress; the entry file must parse.
    """
    bundle = root / "pagefind"
    problems = []
    if not (bundle / "pagefind.js").is_file() or (bundle / "pagefind.js").stat().st_size == 0:
        problems.append("pagefind/pagefind.js is missing or empty")
    try:
        entry = json.loads((bundle / "pagefind-entry.json").read_bytes())
        languages = entry["languages"].values()
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        return problems + [f"pagefind/pagefind-entry.json cannot be read ({exc.__class__.__name__})"]
    needed = [f"pagefind.{lang['hash']}.pf_meta" for lang in languages] + \
             [f"wasm.{lang['wasm']}.pagefind" for lang in languages]
    problems += [f"pagefind/{name} is missing" for name in needed if not (bundle / name).is_file()]
    for file in sorted(bundle.rglob("*")):
        if file.is_file() and (file.suffix.startswith(".pf_") or file.suffix == ".pagefind"):
            try:
                gzip.decompress(file.read_bytes())
            except (OSError, EOFError):
                problems.append(f"{file.relative_to(root).as_posix()} is cut short")
    return problems


def check_bundle(root: Path) -> None:
    """Refuse to publish a search bundle that is not whole: the last good site stays."""
    problems = bundle_problems(root)
    if problems:
        raise OutputError("the search index was not written whole, so the last good site was kept: "
                          + "; ".join(problems[:5]) + ". Run the build again.")


def swap(new: Path, out: Path, later: bool = False) -> Path | None:
    """Put a complete build in place. Call it holding the lock, after ``recover``.

    The last output is deleted; with ``later``, it is only renamed to a staging name and returned,
    for the caller to delete (``shutil.rmtree``) while it does other work, still holding the lock
    (a run cut short first leaves it to the next run's ``recover``)."""
    os.chmod(new, 0o755)  # mkdtemp makes 0700; a web server needs to read it
    old = _old(out)
    if out.exists():
        os.rename(out, old)
    os.rename(new, out)  # killed just before this: out.old and no out, which recover() undoes
    if old.exists():
        if later:
            return retire(old)
        _discard(old)
    return None
