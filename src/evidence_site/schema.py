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
from .load import LocDict, LocList, Mark, type_name

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
    ok = True
    path = value.path
    names = [f.name for f in schema.fields]
    for key in value:
        if schema.field(key) is None:
            m = value.key_at(key)
            errors.add(path, m.line, m.col,
                       f"unknown key '{key}' in a {schema.name}{did_you_mean(key, names)}")
            ok = False
    for f in schema.fields:
        if f.name not in value:
            if f.required:
                m = value.mark
                errors.add(path, m.line, m.col, f"{schema.name} is missing required key '{f.name}'")
                ok = False
            continue
        ok &= _check_value(value[f.name], f, value.value_at(f.name), path, schema, errors, refs, ids)
    return ok


def _check_value(v, f: Field, mark: Mark, path: str, owner: Schema, errors: Collector,
                 refs: list[Ref], ids: list[tuple[str, str, Mark]]) -> bool:
    where = f"'{f.name}'" if f.name else f"an item of a list in a {owner.name}"

    def bad(msg: str) -> bool:
        errors.add(path, mark.line, mark.col, msg)
        return False

    if f.type in ("str", "text", "url", "id", "ref"):
        if not isinstance(v, str) or isinstance(v, bool):
            # YAML reads 318, 1.5, yes and no as numbers or true/false: quoting keeps them text.
            hint = "; put the value in quotes" if isinstance(v, (int, float)) else ""
            if hint and f.name:
                hint += f", e.g. {f.name}: \"{v}\"" if isinstance(v, int) and not isinstance(v, bool) else ""
            return bad(f"{where} must be text, not {type_name(v)}{hint}")
        if not v.strip():
            return bad(f"{where} is empty")
        if f.type in ("id", "ref") and not _ID_RE.match(v):
            fixed = re.sub(r"[^a-z0-9]+", "-", v.lower()).strip("-")
            hint = f" (did you mean '{fixed}'?)" if fixed else ""
            return bad(f"{where} must be an id of lower-case letters, digits and single hyphens, "
                       f"not '{v}'{hint}")
        if f.type == "url" and not _URL_RE.match(v):
            return bad(f"{where} '{v}' is not an address a reader can safely follow: write it in full, "
                       "starting https://, http:// or mailto:, with no spaces, quotes or angle brackets")
        if f.enum and v not in f.enum:
            return bad(f"{where} must be one of {', '.join(f.enum)}, not '{v}'{did_you_mean(v, f.enum)}")
        if f.type == "id":
            ids.append((owner.name, v, mark))
        if f.type == "ref" and f.ref:
            refs.append(Ref(f.ref, v, path, mark))
        return True
    if f.type == "int":
        if not isinstance(v, int) or isinstance(v, bool):
            return bad(f"{where} must be a whole number, not {type_name(v)}")
        if f.minimum is not None and v < f.minimum:
            return bad(f"{where} must be at least {f.minimum}")
        return True
    if f.type == "bool":
        if not isinstance(v, bool):
            return bad(f"{where} must be true or false, not {type_name(v)}")
        return True
    if f.type == "list":
        if not isinstance(v, LocList):
            return bad(f"{where} must be a list, not {type_name(v)}")
        ok = True
        for i, item in enumerate(v):
            im = v.item_at(i)
            if isinstance(f.items, Schema):
                if not isinstance(item, LocDict):
                    errors.add(path, im.line, im.col,
                               f"each item of '{f.name}' must be a mapping ({f.items.name}), not {type_name(item)}")
                    ok = False
                else:
                    ok &= check(item, f.items, errors, refs, ids)
            elif isinstance(f.items, Field):
                ok &= _check_value(item, f.items, im, path, owner, errors, refs, ids)
        return ok
    if f.type == "object" and f.schema:
        if not isinstance(v, LocDict):
            return bad(f"{where} must be a mapping, not {type_name(v)}")
        return check(v, f.schema, errors, refs, ids)
    raise AssertionError(f"unknown field type {f.type}")  # pragma: no cover - schema bug


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
