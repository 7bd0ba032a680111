"""Content errors in the form compilers use: ``path:line:col: error: message``."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContentError:
    path: str
    line: int  # 1-based
    col: int  # 1-based
    message: str
    source_line: str = ""

    def format(self) -> str:
        head = f"{self.path}:{self.line}:{self.col}: error: {self.message}"
        if not self.source_line:
            return head
        shown, caret_at = excerpt(self.source_line, self.col)
        return f"{head}\n    {shown}\n    {' ' * caret_at}^"

    def github_annotation(self) -> str:
        # GitHub wants %, CR and LF escaped in the message of a workflow command.
        msg = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},col={self.col}::{msg}"


WIDTH = 120  # characters of a long line shown around the column


def excerpt(line: str, col: int) -> tuple[str, int]:
    """The part of ``line`` to show under a message, and where the caret goes in it.

    Paragraph text sits on one long line, so a long line is cut to a window around the column with
    '…' either side. A tab is shown as '→' so it is visible and the caret stays under its character.
    """
    at = max(col, 1) - 1
    start = 0
    if len(line) > WIDTH:
        start = max(0, min(at - WIDTH // 2, len(line) - WIDTH))
        end = start + WIDTH
        line = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
        at = at - start + (1 if start else 0)
    return line.replace("\t", "→"), at


class ContentErrors(Exception):
    """Every error found in a run; raised once, after looking at everything."""

    def __init__(self, errors: list[ContentError]):
        self.errors = sorted(errors, key=lambda e: (e.path, e.line, e.col, e.message))
        super().__init__(f"{len(self.errors)} content error(s)")

    def __str__(self) -> str:
        return "\n".join(e.format() for e in self.errors)


def report(errors: list[ContentError], stream, github: bool | None = None) -> None:
    if github is None:
        github = os.environ.get("GITHUB_ACTIONS") == "true"
    for err in errors:
        print(err.format(), file=stream)
        if github:
            print(err.github_annotation(), file=stream)
    noun = "error" if len(errors) == 1 else "errors"
    print(f"{len(errors)} {noun}; nothing was written.", file=stream)


class Collector:
    """Gathers errors across files, with the offending line's text looked up lazily.

    A file's text is split into lines only when an error needs one, and a content file's text need
    not be kept at all: ``remember_file`` lets the lines be read again from the file on demand, so
    a build of thousands of files does not hold them all.
    """

    def __init__(self, lines: dict | None = None) -> None:
        self.errors: list[ContentError] = []
        # path -> its lines, its text (split on first use) or the file to read them from
        self._lines: dict[str, list[str] | str | os.PathLike] = {} if lines is None else lines

    def remember(self, path: str, text: str) -> None:
        self._lines[path] = text

    def remember_file(self, path: str, file: os.PathLike) -> None:
        """Read ``path``'s lines from ``file`` (a content file already read once) if an error needs
        them, instead of keeping its text; lines already split for an error are kept."""
        if not isinstance(self._lines.get(path), list):
            self._lines[path] = file

    def sub(self) -> Collector:
        """A collector of its own errors that shares this one's memory of files' lines."""
        return Collector(self._lines)

    def make(self, path: str, line: int, col: int, message: str) -> ContentError:
        """The error, with the offending line, without adding it."""
        lines = self._lines.get(path)
        if not isinstance(lines, list):
            if lines is None:
                lines = _read_lines(path)
            elif isinstance(lines, str):
                lines = lines.splitlines()
            else:
                lines = _read_content_lines(lines)
            self._lines[path] = lines
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        return ContentError(path, line, col, message, source)

    def add(self, path: str, line: int, col: int, message: str) -> None:
        self.errors.append(self.make(path, line, col, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ContentErrors(self.errors)


def _read_lines(path: str) -> list[str]:
    """The lines of a file no stage has read (an unknown file, say), to show the offending line.

    Messages name files relative to where the build runs, so ``path`` opens from there.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(1024 * 1024)
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def _read_content_lines(file: os.PathLike) -> list[str]:
    """The lines of a content file as loading read them (a byte-order mark dropped)."""
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace").splitlines()
