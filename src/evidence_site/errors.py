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
        caret = " " * (max(self.col, 1) - 1) + "^"
        return f"{head}\n    {self.source_line}\n    {caret}"

    def github_annotation(self) -> str:
        # GitHub wants %, CR and LF escaped in the message of a workflow command.
        msg = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},col={self.col}::{msg}"


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
    """Gathers errors across files, with the offending line's text looked up lazily."""

    def __init__(self) -> None:
        self.errors: list[ContentError] = []
        self._lines: dict[str, list[str]] = {}

    def remember(self, path: str, text: str) -> None:
        self._lines[path] = text.splitlines()

    def add(self, path: str, line: int, col: int, message: str) -> None:
        lines = self._lines.get(path, [])
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        if len(source) > 200:
            source = source[:200] + "…"
        self.errors.append(ContentError(path, line, col, message, source))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ContentErrors(self.errors)
