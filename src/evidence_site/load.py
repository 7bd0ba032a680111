"""Read content YAML keeping line and column of every key and value.

PyYAML's ``safe_load`` keeps the last of two duplicate keys and expands alias bombs. We build values
from libyaml's event stream instead (the C parser when present): duplicate keys, anchors, aliases and
explicit tags are refused, and every mapping and list remembers where its items were written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import Collector

try:  # libyaml's C parser: several times faster; the pure-Python one is the fallback.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_BYTES = 1024 * 1024  # the largest real file is 23 KB; a cap bounds the time a hostile file can take
_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


class LocDict(dict):
    """A mapping that knows where it, its keys and its values were written."""

    __slots__ = ("mark", "key_marks", "value_marks", "path")

    def __init__(self, mark: Mark, path: str):
        super().__init__()
        self.mark = mark
        self.path = path
        self.key_marks: dict[str, Mark] = {}
        self.value_marks: dict[str, Mark] = {}

    def key_at(self, key: str) -> Mark:
        return self.key_marks.get(key, self.mark)

    def value_at(self, key: str) -> Mark:
        return self.value_marks.get(key, self.key_at(key))


class LocList(list):
    __slots__ = ("mark", "item_marks", "path")

    def __init__(self, mark: Mark, path: str):
        super().__init__()
        self.mark = mark
        self.path = path
        self.item_marks: list[Mark] = []

    def item_at(self, index: int) -> Mark:
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


def _mark(event: yaml.Event) -> Mark:
    return Mark(event.start_mark.line + 1, event.start_mark.column + 1)


def _scalar(event: yaml.ScalarEvent) -> object:
    if event.style:  # quoted or block scalars are always strings (plain is None or "")
        return event.value
    tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return event.value
    if tag == "tag:yaml.org,2002:timestamp":
        return event.value  # a date stays text: content never needs datetime objects
    node = yaml.ScalarNode(tag, event.value)
    return _CONSTRUCTOR.construct_object(node)


def parse_text(text: str, path: str, errors: Collector) -> object | None:
    """Parse one YAML document into LocDict/LocList/scalars, or add errors and return None."""
    errors.remember(path, text)
    if not text.strip():
        errors.add(path, 1, 1, "the file is empty; it must hold a YAML mapping")
        return None
    tab = _TAB_INDENT.search(text)
    if tab:
        line = text.count("\n", 0, tab.start()) + 1
        col = tab.end() - tab.start()
        errors.add(path, line, col, "a tab is used for indentation; YAML needs spaces")
        return None

    stack: list[LocDict | LocList] = []
    pending_key: list[tuple[str, Mark] | None] = []  # per open mapping: the key awaiting a value
    root: object | None = None
    documents = 0

    def attach(value: object, mark: Mark) -> bool:
        nonlocal root
        if not stack:
            root = value
            return True
        parent = stack[-1]
        if isinstance(parent, LocList):
            parent.append(value)
            parent.item_marks.append(mark)
            return True
        key = pending_key[-1]
        if key is None:  # this value is a key
            if not isinstance(value, str):
                errors.add(path, mark.line, mark.col, "mapping keys must be plain text")
                return False
            if value in parent:
                first = parent.key_marks[value]
                errors.add(
                    path, mark.line, mark.col,
                    f"duplicate key '{value}' (first written at line {first.line}); "
                    "YAML would silently keep only the last one",
                )
                return False
            pending_key[-1] = (value, mark)
            return True
        name, key_mark = key
        parent[name] = value
        parent.key_marks[name] = key_mark
        parent.value_marks[name] = mark
        pending_key[-1] = None
        return True

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    m = _mark(event)
                    errors.add(path, m.line, m.col, "only one YAML document per file (remove '---')")
                    return None
                continue
            if isinstance(event, yaml.AliasEvent):
                m = _mark(event)
                errors.add(path, m.line, m.col, f"aliases ('*{event.anchor}') are not allowed in content; write the value out")
                return None
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                m = _mark(event)
                if event.anchor is not None:
                    errors.add(path, m.line, m.col, f"anchors ('&{event.anchor}') are not allowed in content; write the value out")
                    return None
                explicit_tag = event.tag is not None and not (
                    isinstance(event, yaml.ScalarEvent) and event.implicit[0] or
                    not isinstance(event, yaml.ScalarEvent) and event.implicit
                )
                if explicit_tag:
                    tag = event.tag
                    if tag.startswith("tag:yaml.org,2002:"):
                        tag = "!!" + tag.removeprefix("tag:yaml.org,2002:")
                    errors.add(path, m.line, m.col,
                               f"tags ('{tag}') are not allowed in content; remove '{tag}' and write the plain value")
                    return None
                if isinstance(event, yaml.ScalarEvent):
                    if not attach(_scalar(event), m):
                        return None
                elif isinstance(event, yaml.MappingStartEvent):
                    node: LocDict | LocList = LocDict(m, path)
                    if not attach(node, m):
                        return None
                    stack.append(node)
                    pending_key.append(None)
                else:
                    node = LocList(m, path)
                    if not attach(node, m):
                        return None
                    stack.append(node)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                if isinstance(stack.pop(), LocDict):
                    pending_key.pop()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        errors.add(path, line, col, syntax_message(exc))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        errors.add(path, 1, 1, f"YAML syntax: {exc}")
        return None
    if root is None:
        errors.add(path, 1, 1, "the file holds no value; it must hold a YAML mapping")
    return root


# libyaml's words for a problem, and what a clerk should do about it.
_SYNTAX_HINTS = (
    ("while scanning an alias", "'*' starts an alias in YAML: write text that begins with '*' or '**' "
                                "as a block scalar ('|-', then the text indented on the next line)"),
    ("while scanning an anchor", "'&' starts an anchor in YAML: write text that begins with '&' as a block "
                                 "scalar ('|-', then the text indented on the next line)"),
    ("mapping values are not allowed", "a ': ' where no new key can start: if this is text, write it as a "
                                       "block scalar ('|-', then the text indented on the next line); "
                                       "if it is a key, check its indentation"),
    ("cannot start any token", "this character cannot begin a plain value: write the text as a block "
                               "scalar ('|-', then the text indented on the next line)"),
    ("while scanning a quoted scalar", "a quote is opened and never closed"),
    ("while scanning a block scalar", "check the indentation of the block scalar's text"),
    ("expected ',' or ']'", "a '[' list is not closed with ']', or a comma is missing"),
    ("expected ',' or '}'", "a '{' mapping is not closed with '}', or a comma is missing"),
    ("expected key", "check the indentation: this line does not line up with the keys around it"),
    ("expected '-' indicator", "check the indentation: this line does not line up with the list items "
                               "around it"),
    ("expected <block end>", "check the indentation: this line does not line up with the lines around it"),
)


def syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """libyaml's problem, where the construct it was reading began, and a hint in plain words."""
    problem = exc.problem or "the YAML cannot be read"
    message = f"YAML syntax: {problem}"
    ctx, at = exc.context_mark, exc.problem_mark
    if exc.context:
        started = ""
        if ctx is not None and at is not None and (ctx.line, ctx.column) != (at.line, at.column):
            started = f" that starts at line {ctx.line + 1}:{ctx.column + 1}"
        message += f" ({exc.context}{started})"
    words = f"{exc.context or ''} {problem}"
    for needle, hint in _SYNTAX_HINTS:
        if needle in words:
            return f"{message}; {hint}"
    return message


def read_text(file: Path, shown: str, errors: Collector) -> str | None:
    """Read a content file as UTF-8, or add an error naming the file and the bad byte."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        errors.add(shown, 1, 1, f"cannot read the file: {exc.strerror}")
        return None
    if len(data) > MAX_BYTES:
        errors.add(shown, 1, 1, f"the file is {len(data):,} bytes; content files are limited to {MAX_BYTES:,}")
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        # The column in characters, as an editor counts it, with the line shown (bad bytes as U+FFFD).
        line_start = before.rfind(b"\n") + 1
        col = len(data[line_start: exc.start].decode("utf-8", "replace")) + 1
        errors.remember(shown, data.decode("utf-8", "replace"))
        errors.add(shown, line, col, f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} cannot be read); "
                   "save it with UTF-8 encoding")
        return None


def load_file(file: Path, shown: str, errors: Collector) -> LocDict | None:
    """Load one content file that must hold a mapping."""
    text = read_text(file, shown, errors)
    if text is None:
        return None
    value = parse_text(text, shown, errors)
    if value is None:
        return None
    if not isinstance(value, LocDict):
        errors.add(shown, 1, 1, f"the file must hold a mapping (key: value), not {type_name(value)}")
        return None
    return value


def type_name(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "nothing (null)"
    return "text"
