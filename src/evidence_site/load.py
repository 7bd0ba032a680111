"""Read content YAML keeping line and column of every key and value.

PyYAML's ``safe_load`` keeps the last of two duplicate keys and expands alias bombs. We build values
from libyaml's event stream instead (the C parser when present): duplicate keys, anchors, aliases and
explicit tags are refused, and every mapping and list remembers where its items were written.

Speed matters at scale (100,000 paragraphs): the event loop dispatches on the event's type, a plain
scalar goes through PyYAML's resolver only when its first character could start a number, a
true/false or a null, and a mapping keeps the marks libyaml made for its keys and values in one list
(turned into a ``Mark`` only when a message or a reference asks for one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import Collector

try:  # libyaml's C parser: several times faster; the pure-Python one is the fallback.
    _Loader: type = yaml.CSafeLoader
    _Parser: type = yaml._yaml.CParser  # the events alone: CSafeLoader's constructor and resolver unused
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    _Parser = yaml.SafeLoader

MAX_BYTES = 1024 * 1024  # the largest real file is 23 KB; a cap bounds the time a hostile file can take
_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


def to_mark(m) -> Mark:
    """A Mark from a stored mark: a Mark already, or libyaml's (0-based line and column)."""
    if type(m) is Mark:
        return m
    return Mark(m.line + 1, m.column + 1)


# A mark packed into one int (1-based line and column; a file is at most MAX_BYTES characters, so
# neither exceeds 2**21), for marks kept in bulk or sent between processes.
PACK_SHIFT = 21
PACK_MASK = (1 << PACK_SHIFT) - 1


def pack(m) -> int:
    if type(m) is Mark:
        return m.line << PACK_SHIFT | m.col
    return (m.line + 1) << PACK_SHIFT | (m.column + 1)


def unpack(packed: int) -> Mark:
    return Mark(packed >> PACK_SHIFT, packed & PACK_MASK)


class LocDict(dict):
    """A mapping that knows where it, its keys and its values were written.

    ``_marks`` holds the mapping's own mark, then each key's and its value's, in insertion order.
    """

    __slots__ = ("_marks", "path")

    def __init__(self, mark: Mark, path: str):
        super().__init__()
        self._marks: list = [mark]
        self.path = path

    @property
    def mark(self) -> Mark:
        return to_mark(self._marks[0])

    def _at(self, key: str, offset: int) -> Mark:
        if key in self:
            at = 1 + 2 * list(self).index(key) + offset
            if at < len(self._marks):
                return to_mark(self._marks[at])
        return self.mark

    def key_at(self, key: str) -> Mark:
        return self._at(key, 0)

    def value_at(self, key: str) -> Mark:
        return self._at(key, 1)


class LocList(list):
    """A list that knows where it and each of its items were written (``_marks``: its own, then
    each item's)."""

    __slots__ = ("_marks", "path")

    def __init__(self, mark: Mark, path: str):
        super().__init__()
        self._marks: list = [mark]
        self.path = path

    @property
    def mark(self) -> Mark:
        return to_mark(self._marks[0])

    def item_at(self, index: int) -> Mark:
        items = len(self._marks) - 1
        if index < items:
            return to_mark(self._marks[index + 1 if index >= 0 else index])
        return self.mark


def _mark(event: yaml.Event) -> Mark:
    return Mark(event.start_mark.line + 1, event.start_mark.column + 1)


def _resolved(value: str) -> object:
    """A plain scalar as PyYAML's safe loader reads it, except that a date stays text."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:timestamp":
        return value  # a date stays text: content never needs datetime objects
    node = yaml.ScalarNode(tag, value)
    return _CONSTRUCTOR.construct_object(node)


def _could_resolve() -> dict[str, re.Pattern[str]] | None:
    """For each first character a plain scalar can start with, one pattern matching whatever any of
    PyYAML's implicit resolvers for it would match: a scalar it does not match is text. None when
    the resolvers are not of the shape this relies on (then every scalar is resolved)."""
    table = yaml.resolver.Resolver.yaml_implicit_resolvers
    if table.get(None) or yaml.resolver.Resolver.yaml_path_resolvers:
        return None
    out = {}
    for first, resolvers in table.items():
        if not isinstance(first, str) or len(first) > 1:
            return None
        parts = []
        for _, rx in resolvers:
            if rx.flags & ~(re.VERBOSE | re.UNICODE):
                return None
            parts.append(("(?x:%s)" if rx.flags & re.VERBOSE else "(?:%s)") % rx.pattern)
        out[first] = re.compile("|".join(parts))
    return out


_COULD_RESOLVE = _could_resolve()


def _resolve_all(first: str, default: object) -> None:
    return None  # no table of what could resolve: resolve every plain scalar
_RESOLVED_CACHE: dict[str, object] = {}


def _plain(value: str) -> object:
    """A plain scalar's value: text unless a resolver claims it (a number, true/false, null)."""
    if _COULD_RESOLVE is not None:
        pattern = _COULD_RESOLVE.get(value[:1])
        if pattern is None or pattern.match(value) is None:
            return value
    return _claimed(value)


def _claimed(value: str) -> object:
    """``_resolved``, remembered: page numbers and the like repeat thousands of times."""
    hit = _RESOLVED_CACHE.get(value, _RESOLVED_CACHE)
    if hit is not _RESOLVED_CACHE:
        return hit
    out = _resolved(value)
    if len(_RESOLVED_CACHE) > 4096:
        _RESOLVED_CACHE.clear()
    _RESOLVED_CACHE[value] = out
    return out


def _scalar(event: yaml.ScalarEvent) -> object:
    if event.style:  # quoted or block scalars are always strings (plain is None or "")
        return event.value
    return _plain(event.value)


_NO_KEY = object()
_new_dict = dict.__new__
_new_list = list.__new__
_ScalarEvent = yaml.ScalarEvent
_MappingStartEvent = yaml.MappingStartEvent
_MappingEndEvent = yaml.MappingEndEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_SequenceEndEvent = yaml.SequenceEndEvent
_DocumentStartEvent = yaml.DocumentStartEvent
_AliasEvent = yaml.AliasEvent
_StreamEndEvent = yaml.StreamEndEvent


def parse_text(text: str, path: str, errors: Collector) -> object | None:
    """Parse one YAML document into LocDict/LocList/scalars, or add errors and return None."""
    errors.remember(path, text)
    if not text or text.isspace():
        errors.add(path, 1, 1, "the file is empty; it must hold a YAML mapping")
        return None
    tab = _TAB_INDENT.search(text) if "\t" in text else None
    if tab:
        line = text.count("\n", 0, tab.start()) + 1
        col = tab.end() - tab.start()
        errors.add(path, line, col, "a tab is used for indentation; YAML needs spaces")
        return None
    try:
        return _parse(text, path, errors)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        errors.add(path, line, col, syntax_message(exc))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        errors.add(path, 1, 1, f"YAML syntax: {exc}")
        return None


def _refuse(event, errors: Collector, path: str, message: str) -> None:
    m = _mark(event)
    errors.add(path, m.line, m.col, message)


def _tag_message(tag: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        tag = "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return f"tags ('{tag}') are not allowed in content; remove '{tag}' and write the plain value"


def _parse(text: str, path: str, errors: Collector) -> object | None:
    """The event loop. The first event that breaks a rule (or libyaml's first syntax error) ends it
    with one message; the state of the open mapping or list is kept in locals, not looked up."""
    get = _Parser(text).get_event
    could_resolve = _COULD_RESOLVE.get if _COULD_RESOLVE is not None else _resolve_all
    stack: list[tuple] = []
    cur = None  # the open mapping or list (None: the document's top level)
    in_map = False
    key = _NO_KEY  # in a mapping: the key awaiting its value
    marks: list = []
    root = None
    documents = 0
    while True:
        e = get()
        t = type(e)
        if t is _ScalarEvent:
            if e.anchor is not None:
                _refuse(e, errors, path, f"anchors ('&{e.anchor}') are not allowed in content; write the value out")
                return None
            if e.tag is not None and not e.implicit[0]:
                _refuse(e, errors, path, _tag_message(e.tag))
                return None
            value = e.value
            if not e.style:  # plain: text unless a resolver could claim it (see _plain)
                pattern = could_resolve(value[:1], _NO_KEY)
                if pattern is not _NO_KEY and (pattern is None or pattern.match(value) is not None):
                    value = _claimed(value)
            if cur is None:
                root = value
            elif not in_map:
                cur.append(value)
                marks.append(e.start_mark)
            elif key is _NO_KEY:
                if not isinstance(value, str):
                    _refuse(e, errors, path, "mapping keys must be plain text")
                    return None
                if value in cur:
                    first = cur.key_at(value)
                    _refuse(e, errors, path, f"duplicate key '{value}' (first written at line {first.line}); "
                                             "YAML would silently keep only the last one")
                    return None
                key = value
                marks.append(e.start_mark)
            else:
                cur[key] = value
                marks.append(e.start_mark)
                key = _NO_KEY
        elif t is _MappingEndEvent or t is _SequenceEndEvent:
            cur, in_map, key, marks = stack.pop()
        elif t is _MappingStartEvent or t is _SequenceStartEvent:
            if e.anchor is not None:
                _refuse(e, errors, path, f"anchors ('&{e.anchor}') are not allowed in content; write the value out")
                return None
            if e.tag is not None and not e.implicit:
                _refuse(e, errors, path, _tag_message(e.tag))
                return None
            mapping = t is _MappingStartEvent
            node = _new_dict(LocDict) if mapping else _new_list(LocList)
            node._marks = [e.start_mark]
            node.path = path
            # Placed as a scalar is, above; written out twice on purpose: this loop runs once per
            # event (millions at scale), where a function call per value is a cost worth avoiding.
            if cur is None:
                root = node
            elif not in_map:
                cur.append(node)
                marks.append(e.start_mark)
            elif key is _NO_KEY:
                _refuse(e, errors, path, "mapping keys must be plain text")
                return None
            else:
                cur[key] = node
                marks.append(e.start_mark)
            stack.append((cur, in_map, _NO_KEY, marks))
            cur, in_map, key, marks = node, mapping, _NO_KEY, node._marks
        elif t is _DocumentStartEvent:
            documents += 1
            if documents > 1:
                _refuse(e, errors, path, "only one YAML document per file (remove '---')")
                return None
        elif t is _AliasEvent:
            _refuse(e, errors, path, f"aliases ('*{e.anchor}') are not allowed in content; write the value out")
            return None
        elif t is _StreamEndEvent or e is None:
            break
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


def read_text(file: Path, shown: str, errors: Collector, data: bytes | None = None) -> str | None:
    """Read a content file (or its bytes ``data``, already read) as UTF-8, or add an error naming
    the file and the bad byte."""
    if data is None:
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


def load_file(file: Path, shown: str, errors: Collector, data: bytes | None = None) -> LocDict | None:
    """Load one content file that must hold a mapping (from its bytes ``data`` when already read)."""
    text = read_text(file, shown, errors, data)
    if text is None:
        return None
    value = parse_text(text, shown, errors)
    errors.remember_file(shown, file)  # its lines are read again only if a message needs one
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
