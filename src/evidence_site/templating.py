"""The templates' Jinja2 environment, and compiling the templates into bytecode.

Only Jinja2 and MarkupSafe are imported here, nothing of the model, Markdown or YAML: a cold build
forks the helper that compiles the templates (``compiling``) as soon as its command is read
(``cli``), and the helper starts compiling at once instead of first importing what only the pages
need, as the build itself goes on to do."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

from . import helper


def environment(templates: Path, bytecode_cache=None) -> Environment:
    """The templates' environment: HTML escaped, an undefined name an error, the project's filters
    and test; compiled templates go into ``bytecode_cache`` and are looked for there first."""
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        bytecode_cache=bytecode_cache,
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # each build makes its own environment: no need to stat every template per page
    )
    env.filters["selectattr"] = _memo_selectattr(env.filters["selectattr"])
    # This project's own filters and test, which the templates use (without them they do not compile).
    env.filters["wrap_p"] = lambda m: Markup("<p>") + m + Markup("</p>")
    env.tests["contains"] = lambda seq, item: item in seq
    env.filters["extract"] = lambda key, container: container[key]  # map("extract", site.force_by_id)
    return env


def template_names(env: Environment) -> list[str]:
    """Every template a page can use (those the pages' templates extend, import or include too), in
    the order they are compiled."""
    return env.list_templates(filter_func=lambda name: name.endswith(".html"))


def compile_templates(env: Environment) -> None:
    """Every page template (and what they extend, import or include) compiled now: into the
    environment's bytecode cache, and into this process's memory, where a forked worker finds it."""
    for name in template_names(env):
        env.get_template(name)


class Bytecode(BytecodeCache):
    """Compiled templates kept in memory as Jinja2's bytecode (its marshalled code, under its key for
    the template's name with a checksum of its source), in front of another bytecode cache when
    there is one (``cache.template_bytecode``): what one process compiled, another loads in milliseconds
    instead of compiling again (``pipeline._compiled``). A template whose source changed since is compiled
    again: Jinja2 checks the checksum."""

    def __init__(self, behind: BytecodeCache | None = None, known: dict[str, bytes] | None = None) -> None:
        self.behind = behind
        self.known: dict[str, bytes] = dict(known or {})

    def load_bytecode(self, bucket) -> None:
        data = self.known.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)  # reset when its checksum is not the source's
            if bucket.code is not None:
                return
        if self.behind is not None:
            self.behind.load_bytecode(bucket)
            if bucket.code is not None:
                self.known[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket) -> None:
        self.known[bucket.key] = bucket.bytecode_to_string()
        if self.behind is not None:
            self.behind.dump_bytecode(bucket)


def compile_each(templates: Path, behind: BytecodeCache | None = None) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Every template compiled in turn, in ``template_names``'s order (or loaded from ``behind``,
    into which what is compiled is written too): each one's name and bytecode as it is done."""
    store = Bytecode(behind)
    env = environment(templates, store)
    for name in template_names(env):
        before = set(store.known)
        env.get_template(name)
        yield name, {k: v for k, v in store.known.items() if k not in before}


def compiling(templates: Path, behind: BytecodeCache | None = None) -> helper.Stream[tuple[str, dict[str, bytes]]]:
    """A helper compiling every template, first to last (``compile_each``), into ``behind`` too (the
    cache's bytecode, when there is a cache), each sent as it is done (``pipeline._compiled`` takes
    them); started unless the build is to run in one process (``EVIDENCE_SITE_WORKERS=1``)."""
    stream = helper.Stream(lambda: compile_each(templates, behind))
    return stream.start() if helper.workers_wanted() > 1 else stream


# Tests whose answer depends only on the value and the test's argument.
_PURE_TESTS = frozenset({"equalto", "eq", "==", "ne", "!=", "none", "defined", "undefined", "true",
                         "false", "in", "sameas", "string", "number", "lt", "le", "gt", "ge"})


def _memo_selectattr(original):
    """``selectattr`` that answers a repeated question about one tuple from memory.

    A template that filters the same model tuple on every page (as the navigation once filtered
    ``site.entities`` by type; it now reads ``entity_types``) makes a build quadratic in entities x
    pages; the comparison filters each topic's cells once per force. A tuple of the model
    never changes during a build and the tests remembered are pure, so the answer is the same; the
    tuple itself is kept with its answers so its id cannot be reused by another object."""
    memo: dict[int, tuple[tuple, dict]] = {}

    @pass_context
    def selectattr(context, value, *args, **kwargs):
        if type(value) is not tuple or kwargs or not args or (len(args) > 1 and args[1] not in _PURE_TESTS):
            return original(context, value, *args, **kwargs)
        try:
            hash(args)
        except TypeError:
            return original(context, value, *args, **kwargs)
        entry = memo.get(id(value))
        if entry is None or entry[0] is not value:
            entry = memo[id(value)] = (value, {})
        answers = entry[1]
        found = answers.get(args)
        if found is None:
            found = answers[args] = list(original(context, value, *args))
        return iter(found)

    return selectattr
