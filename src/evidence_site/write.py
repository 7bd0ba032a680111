"""Write the site so that the last good output is never lost.

The build goes into a fresh folder beside the target; only a complete build (pages, data and the
search index) is swapped in, by two renames: ``out`` → ``out.old``, then ``new`` → ``out``. A
build killed between the two leaves ``out.old`` and no ``out``; the next run puts it back before
doing anything else. A lock file keeps two builds from swapping at once.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARKER = ".evidence-site"


class OutputError(Exception):
    """The output folder is unsafe to write to."""


def recover(out: Path) -> None:
    old = out.with_name(out.name + ".old")
    if old.exists() and not out.exists():
        os.rename(old, out)  # a swap was cut short: bring the last good site back
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
    for stale in out.parent.glob(f".{out.name}.build-*"):
        shutil.rmtree(stale, ignore_errors=True)


def check_output(out: Path, forbidden: list[Path]) -> None:
    out_r = out.resolve()
    for f in forbidden:
        f_r = f.resolve()
        if out_r == f_r or f_r.is_relative_to(out_r):
            raise OutputError(f"refusing to build into {out}: it is or contains {f}")
    if out.exists() and not out.is_dir():
        raise OutputError(f"refusing to build into {out}: it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputError(f"refusing to build into {out}: it is not empty and was not made by this builder "
                          f"(no {MARKER} marker); choose another --out or empty it")


@contextmanager
def lock(out: Path) -> Iterator[None]:
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.with_name(f".{out.name}.lock")
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            fcntl.flock(handle, fcntl.LOCK_EX)  # another build is running: wait for it
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging(out: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))


def safe_join(root: Path, rel: str) -> Path:
    """A file inside root; anything that would land outside is refused."""
    if not rel or rel.startswith(("/", "\\")) or "\\" in rel or any(part in ("", ".", "..") for part in rel.split("/")[:-1]) \
            or rel.split("/")[-1] in ("", ".", ".."):
        raise OutputError(f"refusing to write outside the output folder: {rel!r}")
    return root / rel


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write every output file; two writers of one path is a bug, caught before writing."""
    for rel in sorted(files):
        target = safe_join(root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        content = files[rel]
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)
    (root / MARKER).write_text("built by evidence-site; safe to replace\n", encoding="utf-8")


def copy_tree(src: Path, dst: Path) -> None:
    for file in sorted(src.rglob("*")):
        if file.is_file():
            target = dst / file.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)


def swap(new: Path, out: Path) -> None:
    os.chmod(new, 0o755)  # mkdtemp makes 0700; a web server needs to read it
    old = out.with_name(out.name + ".old")
    if out.exists():
        os.rename(out, old)
    os.rename(new, out)
    shutil.rmtree(old, ignore_errors=True)
