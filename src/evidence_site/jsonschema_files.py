"""Write ``schemas/<type>.schema.json`` from the same ``schema.py`` definitions the build validates with.

The files are committed so that an editor's YAML extension (VS Code's ``yaml.schemas`` in
``.vscode/settings.json``) underlines a mistake before any build runs; a test regenerates them and
fails if the committed copies have drifted.
"""

from __future__ import annotations

import json
from pathlib import Path

from .schema import FILE_SCHEMAS, json_schema


def file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def generate() -> dict[str, str]:
    """Every schema file as {file name: text}; sorted keys and a final newline, so output is stable."""
    return {
        file_name(kind): json.dumps(json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for kind in sorted(FILE_SCHEMAS)
    }


def write(folder: Path) -> list[Path]:
    """Write the schema files into ``folder``, removing stale ``*.schema.json`` files; return those written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = generate()
    for old in sorted(folder.glob("*.schema.json")):
        if old.name not in files:
            old.unlink()
    written = []
    for name, text in files.items():
        target = folder / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
