"""One schema per content type: it validates the YAML and generates the JSON Schema editors use.

Keeping both in one definition means the red underline in an editor and the build's error never
disagree. Validation here is per file (keys, types, ids); cross-file references are collected as
``Ref`` and resolved in ``validate.py`` once everything is loaded.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Union

from .errors import Collector
from .load import LocDict, LocList, Mark, to_mark, type_name

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_ID_RE = re.compile(ID_PATTERN)
# An address a reader follows: http(s) or mailto only (never javascript:, data:, //host …), and no
# space, quote or angle bracket that could end the attribute it is written into.
URL_PATTERN = r"""^(https?://|mailto:)[^\s"'<>`\\]+$"""
_URL_RE = re.compile(URL_PATTERN)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # str | text | url | int | bool | id | ref | list | object
    doc: str
    required: bool = True
    ref: str | None = None  # for type "ref", or a list of refs: what it points at
    items: Union["Field", "Schema", None] = None  # for type "list"
    schema: Union["Schema", None] = None  # for type "object"
    enum: tuple[str, ...] | None = None
    minimum: int | None = None


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    doc: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to check once all content is loaded."""

    kind: str
    value: str
    path: str
    mark: Mark


def _id(doc: str = "Stable identifier: lower-case letters, digits and hyphens.") -> Field:
    return Field("id", "id", doc)


def _refs(name: str, kind: str, doc: str, required: bool = False) -> Field:
    return Field(name, "list", doc, required=required, items=Field("", "ref", doc, ref=kind))


MENTION = Schema("mention", "An entity the paragraph names, and the words that name it.", (
    Field("entity", "ref", "The id of the initiative, inspection, document or organisation.", ref="entity"),
    Field("text", "str", "The words in the paragraph that name it, exactly as written there."),
))

PARAGRAPH = Schema("paragraph", "One paragraph, list item or sub-heading, verbatim.", (
    _id("Stable anchor of the paragraph; never derived from the text, never reused."),
    Field("kind", "str", "prose (default), heading (a sub-heading) or item (one list item).",
          required=False, enum=("prose", "heading", "item")),
    Field("page", "int", "The page of the submitted PDF the paragraph starts on.", minimum=1),
    Field("page_end", "int", "The page it ends on, when it runs over a page break.",
          required=False, minimum=1),
    _refs("joint_with", "body", "Bodies making this statement jointly with the record's body."),
    Field("text", "text", "The source's words verbatim, as Markdown. Never correct or paraphrase."),
    Field("mentions", "list", "Entities the paragraph names.", required=False, items=MENTION),
))

RECORD = Schema("record", "One body's answer to one question: its paragraphs in order.", (
    Field("submission", "ref", "The submission this answer is part of.", ref="submission"),
    Field("body", "ref", "The body (force or OPCC) that gave the answer.", ref="body"),
    Field("question", "ref", "The question answered.", ref="question"),
    Field("paragraphs", "list", "The answer's paragraphs, in the source's order.", items=PARAGRAPH),
))

SUBMISSION = Schema("submission", "One submitted response to the committee.", (
    _id(),
    Field("title", "text", "The response's title, verbatim."),
    Field("author", "str", "Who submitted it, as the response names itself."),
    Field("author_cy", "str", "The Welsh form of the author's name, where it has one.", required=False),
    Field("committee", "str", "The committee the evidence was given to."),
    Field("committee_cy", "str", "The committee's Welsh name.", required=False),
    Field("inquiry", "str", "The inquiry."),
    Field("inquiry_cy", "str", "The inquiry's Welsh name.", required=False),
    Field("language", "str", "The language the evidence was submitted in.", enum=("en", "cy")),
    _refs("bodies", "body", "The bodies answering in this submission, in order.", required=True),
    _refs("questions", "question", "The questions answered, in order.", required=True),
    Field("introduction", "list", "Paragraphs belonging to the response as a whole.",
          required=False, items=PARAGRAPH),
    _refs("sequence", "paragraph", "Every paragraph id of the submission's records, in the source's order.",
          required=True),
))

FORCE = Schema("force", "A police force area.", (
    _id(), Field("name", "str", "English name."), Field("name_cy", "str", "Welsh name."),
))
BODY = Schema("body", "A body that answers: a police force or an OPCC.", (
    _id(),
    Field("name", "str", "The name as the response writes it."),
    Field("force", "ref", "The force area.", ref="force"),
    Field("kind", "str", "police, opcc or other.", enum=("police", "opcc", "other")),
))
QUESTION = Schema("question", "A question the committee asked.", (
    _id(),
    Field("number", "int", "Its number as asked.", minimum=1),
    Field("title", "str", "Its short title, verbatim."),
    Field("text", "text", "Its full text, verbatim."),
))

SITE = Schema("site", "Settings of the whole site.", (
    Field("title", "str", "The site's name."),
    Field("site_url", "url", "Absolute URL the site is published at (for citations, sitemap, canonical links)."),
    Field("contact_email", "str", "Where to report an accessibility problem.", required=False),
    Field("contact_url", "url", "A page for reporting problems (for example the repository's issues).",
          required=False),
    Field("languages", "list", "Interface languages, English first: [en] (the default) or [en, cy]. Welsh pages "
          "live under /cy/.", required=False,
          items=Field("", "str", "An interface language.", enum=("en", "cy"))),
))

ADDRESS = Schema("address", "An address the response gives for the thing.", (
    Field("text", "str", "The link text as the response shows it."),
    Field("url", "url", "The address; leave out when the response shows the link without one.",
          required=False),
))

ENTITY = Schema("entity", "Something the response names: an initiative, inspection, document or organisation.", (
    _id(),
    Field("name", "str", "Its name."),
    Field("kind", "str", "What sort of thing it is (operation, team, programme, inspection, plan …)."),
    _refs("forces", "force", "The forces involved."),
    Field("addresses", "list", "Addresses the response gives.", required=False, items=ADDRESS),
    Field("summary", "text", "A short editorial description written only from the response."),
    Field("summary_cy", "text", "Welsh version of the summary.", required=False),
    Field("summary_cy_reviewed", "bool", "true once a Welsh speaker has reviewed summary_cy.", required=False),
    _refs("sources", "paragraph", "The paragraphs the summary rests on.", required=True),
))

ENTITY_FILES = {
    "initiatives": "initiative",
    "inspections": "inspection",
    "documents": "document",
    "organisations": "organisation",
}

ACRONYM = Schema("acronym", "An acronym used in the response.", (
    _id(),
    Field("term", "str", "The acronym exactly as written, e.g. CSE."),
    Field("expansion", "str", "What it stands for."),
    Field("source", "str", "response: the response spells it out; editorial: ours.",
          enum=("response", "editorial")),
    Field("expansion_cy", "str", "Welsh expansion.", required=False),
    Field("expansion_cy_reviewed", "bool", "true once a Welsh speaker has reviewed expansion_cy.", required=False),
))

FIGURE = Schema("figure", "A number a clerk would quote.", (
    _id(),
    Field("value", "str", "The number exactly as written in the paragraph, e.g. 466 or 2400."),
    Field("counts", "str", "What it counts."),
    Field("period", "str", "The period it covers, where the response says.", required=False),
    Field("body", "ref", "The body that gives it.", ref="body"),
    Field("paragraph", "ref", "The paragraph it comes from.", ref="paragraph"),
))

CELL = Schema("cell", "One force's answer on one point of comparison.", (
    Field("force", "ref", "The force.", ref="force"),
    Field("answer", "text", "A short editorial answer; leave out when the response is silent.",
          required=False),
    Field("answer_cy", "text", "Welsh version of the answer.", required=False),
    Field("answer_cy_reviewed", "bool", "true once a Welsh speaker has reviewed answer_cy.", required=False),
    _refs("sources", "paragraph", "The paragraphs that bear it out."),
))

TOPIC = Schema("topic", "A point on which the forces are compared.", (
    _id(),
    Field("title", "str", "The question a committee would ask."),
    Field("cells", "list", "One cell per force.", items=CELL),
))


def _list_file(name: str, key: str, item: Schema, doc: str) -> Schema:
    return Schema(name, doc, (Field(key, "list", doc, items=item),))


FILE_SCHEMAS: dict[str, Schema] = {
    "site": SITE,
    "forces": _list_file("forces", "forces", FORCE, "The force areas."),
    "bodies": _list_file("bodies", "bodies", BODY, "The bodies that answer."),
    "questions": _list_file("questions", "questions", QUESTION, "The committee's questions."),
    "submission": SUBMISSION,
    "record": RECORD,
    "glossary": _list_file("glossary", "acronyms", ACRONYM, "Acronyms used in the evidence."),
    "figures": _list_file("figures", "figures", FIGURE, "Key figures."),
    "comparison": _list_file("comparison", "topics", TOPIC, "Editorial comparison of the forces."),
    **{key: _list_file(key, key, ENTITY, f"The {key} the response names.") for key in ENTITY_FILES},
}


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check(value: object, schema: Schema, errors: Collector, refs: list[Ref], ids: list[tuple[str, str, Mark]]) -> bool:
    """Check one mapping against a schema. Records references and ids for the cross-file stage.

    ``ids`` collects (schema name, id, mark) of every object with an id, so uniqueness is checked
    across files. Returns True when the mapping's shape is sound enough to build the model from.
    """
    if not isinstance(value, LocDict):
        return False
    found_refs: dict[str, tuple[list, list]] = {}
    found_ids: dict[str, tuple[list, list]] = {}
    ok = check_marks(value, schema, errors, found_refs, found_ids)
    path = value.path
    refs.extend(Ref(kind, v, path, to_mark(m)) for kind, (values, marks) in found_refs.items()
                for v, m in zip(values, marks))
    ids.extend((name, v, to_mark(m)) for name, (values, marks) in found_ids.items() for v, m in zip(values, marks))
    return ok


# Field types, as small ints for the checker's dispatch.
_TEXT, _INT, _BOOL, _LIST, _OBJECT = range(5)
_KINDS = {"str": _TEXT, "text": _TEXT, "url": _TEXT, "id": _TEXT, "ref": _TEXT, "int": _INT, "bool": _BOOL,
          "list": _LIST, "object": _OBJECT}
# Per schema: its fields by name, the required ones, and per field what the checker needs.
_PLANS: dict[int, tuple] = {}


def _plan(schema: Schema) -> tuple:
    plan = _PLANS.get(id(schema))
    if plan is None or plan[0] is not schema:
        by_name = {f.name: (f, _KINDS.get(f.type, -1)) for f in schema.fields}
        required = tuple(f for f in schema.fields if f.required)
        plan = _PLANS[id(schema)] = (schema, by_name, required, [f.name for f in schema.fields])
    return plan


def check_marks(value: LocDict, schema: Schema, errors: Collector, refs: dict, ids: dict) -> bool:
    """``check`` for the loader's own use: references are kept by kind and ids by schema name, each
    as (values, marks) in the order met, a mark as the mapping keeps it (see load.to_mark)."""
    _, by_name, required, names = _plan(schema)
    ok = True
    path = value.path
    marks = value._marks
    n_marks = len(marks)
    at = 2
    for key, v in value.items():
        spec = by_name.get(key)
        if spec is None:
            m = to_mark(marks[at - 1]) if at - 1 < n_marks else value.mark
            errors.add(path, m.line, m.col, f"unknown key '{key}' in a {schema.name}{did_you_mean(key, names)}")
            ok = False
        elif not _value(v, spec[0], spec[1], marks[at] if at < n_marks else marks[at - 1 if at - 1 < n_marks else 0],
                        path, schema, errors, refs, ids):
            ok = False
        at += 2
    for f in required:
        if f.name not in value:
            m = value.mark
            errors.add(path, m.line, m.col, f"{schema.name} is missing required key '{f.name}'")
            ok = False
    return ok


def _value(v, f: Field, kind: int, mark, path: str, owner: Schema, errors: Collector, refs: list,
           ids: list) -> bool:
    """One value against its field; the fast paths first, every message as ``_bad`` words it."""
    if kind == _TEXT:
        if type(v) is not str and (not isinstance(v, str) or isinstance(v, bool)):
            return _bad(v, f, mark, path, owner, errors, "type")
        if not v or v.isspace():
            return _bad(v, f, mark, path, owner, errors, "empty")
        t = f.type
        if t == "id" or t == "ref":
            if not _ID_RE.match(v):
                return _bad(v, f, mark, path, owner, errors, "id")
        elif t == "url" and not _URL_RE.match(v):
            return _bad(v, f, mark, path, owner, errors, "url")
        if f.enum and v not in f.enum:
            return _bad(v, f, mark, path, owner, errors, "enum")
        if t == "id":
            found = ids.get(owner.name)
            if found is None:
                found = ids[owner.name] = ([], [])
            found[0].append(v)
            found[1].append(mark)
        elif t == "ref" and f.ref:
            found = refs.get(f.ref)
            if found is None:
                found = refs[f.ref] = ([], [])
            found[0].append(v)
            found[1].append(mark)
        return True
    if kind == _INT:
        if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
            return _bad(v, f, mark, path, owner, errors, "int")
        if f.minimum is not None and v < f.minimum:
            return _bad(v, f, mark, path, owner, errors, "minimum")
        return True
    if kind == _BOOL:
        if not isinstance(v, bool):
            return _bad(v, f, mark, path, owner, errors, "bool")
        return True
    if kind == _LIST:
        if not isinstance(v, LocList):
            return _bad(v, f, mark, path, owner, errors, "list")
        ok = True
        item_marks = v._marks
        n_marks = len(item_marks)
        items = f.items
        if isinstance(items, Schema):
            for i, item in enumerate(v, 1):
                if isinstance(item, LocDict):
                    if not check_marks(item, items, errors, refs, ids):
                        ok = False
                else:
                    im = to_mark(item_marks[i] if i < n_marks else item_marks[0])
                    errors.add(path, im.line, im.col,
                               f"each item of '{f.name}' must be a mapping ({items.name}), not {type_name(item)}")
                    ok = False
        elif isinstance(items, Field):
            item_kind = _KINDS.get(items.type, -1)
            for i, item in enumerate(v, 1):
                if not _value(item, items, item_kind, item_marks[i] if i < n_marks else item_marks[0], path, owner,
                              errors, refs, ids):
                    ok = False
        return ok
    if kind == _OBJECT and f.schema:
        if not isinstance(v, LocDict):
            return _bad(v, f, mark, path, owner, errors, "mapping")
        return check_marks(v, f.schema, errors, refs, ids)
    raise AssertionError(f"unknown field type {f.type}")  # pragma: no cover - schema bug


def _bad(v, f: Field, mark, path: str, owner: Schema, errors: Collector, why: str) -> bool:
    where = f"'{f.name}'" if f.name else f"an item of a list in a {owner.name}"
    if why == "type":
        # YAML reads 318, 1.5, yes and no as numbers or true/false: quoting keeps them text.
        hint = "; put the value in quotes" if isinstance(v, (int, float)) else ""
        if hint and f.name:
            hint += f", e.g. {f.name}: \"{v}\"" if isinstance(v, int) and not isinstance(v, bool) else ""
        msg = f"{where} must be text, not {type_name(v)}{hint}"
    elif why == "empty":
        msg = f"{where} is empty"
    elif why == "id":
        fixed = re.sub(r"[^a-z0-9]+", "-", v.lower()).strip("-")
        hint = f" (did you mean '{fixed}'?)" if fixed else ""
        msg = f"{where} must be an id of lower-case letters, digits and single hyphens, not '{v}'{hint}"
    elif why == "url":
        msg = (f"{where} '{v}' is not an address a reader can safely follow: write it in full, "
               "starting https://, http:// or mailto:, with no spaces, quotes or angle brackets")
    elif why == "enum":
        msg = f"{where} must be one of {', '.join(f.enum)}, not '{v}'{did_you_mean(v, f.enum)}"
    elif why == "int":
        msg = f"{where} must be a whole number, not {type_name(v)}"
    elif why == "minimum":
        msg = f"{where} must be at least {f.minimum}"
    elif why == "bool":
        msg = f"{where} must be true or false, not {type_name(v)}"
    elif why == "list":
        msg = f"{where} must be a list, not {type_name(v)}"
    else:
        msg = f"{where} must be a mapping, not {type_name(v)}"
    m = to_mark(mark)
    errors.add(path, m.line, m.col, msg)
    return False


# --- JSON Schema generation -------------------------------------------------------------------

def _json_field(f: Field) -> dict:
    out: dict = {"description": f.doc}
    if f.type in ("str", "text"):
        out["type"] = "string"
        out["minLength"] = 1
    elif f.type in ("id", "ref"):
        out["type"] = "string"
        out["pattern"] = ID_PATTERN
    elif f.type == "url":
        out["type"] = "string"
        out["pattern"] = URL_PATTERN
    elif f.type == "int":
        out["type"] = "integer"
        if f.minimum is not None:
            out["minimum"] = f.minimum
    elif f.type == "bool":
        out["type"] = "boolean"
    elif f.type == "list":
        out["type"] = "array"
        if isinstance(f.items, Schema):
            out["items"] = _json_object(f.items)
        elif isinstance(f.items, Field):
            out["items"] = _json_field(f.items)
    elif f.type == "object" and f.schema:
        out.update(_json_object(f.schema))
    if f.enum:
        out["enum"] = list(f.enum)
    return out


def _json_object(schema: Schema) -> dict:
    return {
        "type": "object",
        "description": schema.doc,
        "additionalProperties": False,
        "required": [f.name for f in schema.fields if f.required],
        "properties": {f.name: _json_field(f) for f in schema.fields},
    }


def json_schema(name: str) -> dict:
    schema = FILE_SCHEMAS[name]
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": schema.name}
    out.update(_json_object(schema))
    return out
