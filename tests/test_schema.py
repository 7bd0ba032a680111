"""One schema, two uses: the build validates with schema.py, editors' YAML extensions use the JSON
Schema files generated from it. These tests keep the two from drifting apart."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import CONTENT, ROOT
from evidence_site import jsonschema_files
from evidence_site.content import classify, content_files
from evidence_site.errors import Collector
from evidence_site.load import parse_text
from evidence_site.schema import FILE_SCHEMAS, check

SCHEMAS = ROOT / "schemas"
SETTINGS = ROOT / ".vscode" / "settings.json"


def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / jsonschema_files.file_name(kind)).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def real_files() -> list[tuple[str, str]]:
    out = []
    for f in content_files(CONTENT):
        rel = f.relative_to(CONTENT).as_posix()
        kind = classify(rel)
        assert kind is not None, rel
        out.append((rel, kind))
    return out


def test_committed_schema_files_equal_freshly_generated_ones():
    fresh = jsonschema_files.generate()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json")}
    assert sorted(committed) == sorted(fresh), "run: python build.py schemas"
    for name, text in fresh.items():
        assert committed[name] == text, f"schemas/{name} is out of date; run: python build.py schemas"


def test_schemas_command_writes_every_content_type(tmp_path):
    (tmp_path / "stale.schema.json").write_text("{}")
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "schemas", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.schema.json" for k in FILE_SCHEMAS)


@pytest.mark.parametrize("rel,kind", real_files())
def test_real_content_is_valid_against_its_json_schema(rel, kind):
    data = yaml.safe_load((CONTENT / rel).read_text(encoding="utf-8"))
    errors = sorted(validator(kind).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, f"{rel}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)


def _glob_regex(glob: str) -> re.Pattern:
    out = ""
    for part in re.split(r"(\*\*/|\*)", glob):
        out += {"**/": "(?:.*/)?", "*": "[^/]*"}.get(part, re.escape(part))
    return re.compile(out + r"\Z")


def test_vscode_maps_every_content_file_to_the_schema_the_build_uses():
    mapping = json.loads(SETTINGS.read_text(encoding="utf-8"))["yaml.schemas"]
    globs: list[tuple[re.Pattern, str]] = []
    for schema_path, patterns in mapping.items():
        assert (ROOT / schema_path).is_file(), schema_path
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            globs.append((_glob_regex(pattern), schema_path))
    mapped_kinds = {p.split("/")[-1].removesuffix(".schema.json") for p in mapping}
    assert mapped_kinds == set(FILE_SCHEMAS)
    for rel, kind in real_files():
        hits = {schema for rx, schema in globs if rx.match(f"content/{rel}")}
        assert hits == {f"./schemas/{kind}.schema.json"}, (rel, hits)


RECORD = "responses/policing-in-wales/gwent-police/resource-allocation.yaml"
SUBMISSION = "submissions/policing-in-wales.yaml"


@pytest.mark.parametrize("rel,find,replace", [
    (RECORD, "    page: 10\n", "    page: two\n"),                        # wrong type
    (RECORD, "    page: 10\n", "    pgae: 10\n"),                         # unknown key + missing key
    (RECORD, "question: resource-allocation\n", ""),                      # missing required key
    (RECORD, "  - id: gwent-police-q2-01\n", "  - id: Gwent_Police_Q2_01\n"),  # bad id
    (RECORD, "    page: 10\n", "    page: 0\n"),                          # below the minimum
    (SUBMISSION, "language: en", "language: english"),                     # not one of the choices
])
def test_build_and_json_schema_agree_on_what_is_wrong(rel, find, replace):
    text = (CONTENT / rel).read_text(encoding="utf-8")
    assert find in text
    broken = text.replace(find, replace, 1)
    kind = classify(rel)
    errors = Collector()
    value = parse_text(broken, rel, errors)
    assert not check(value, FILE_SCHEMAS[kind], errors, [], []) and errors.errors
    assert list(validator(kind).iter_errors(yaml.safe_load(broken)))
