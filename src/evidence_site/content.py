"""Find and read every content file; the only stage besides writing that touches the disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .errors import Collector
from .load import LocDict
from .schema import ENTITY_FILES

SINGLE_FILES = {
    "site.yaml": "site",
    "forces.yaml": "forces",
    "bodies.yaml": "bodies",
    "questions.yaml": "questions",
    "glossary.yaml": "glossary",
    "figures.yaml": "figures",
    "comparison.yaml": "comparison",
}
REQUIRED = ("site", "forces", "bodies", "questions")


# A named tuple, not a frozen dataclass: a rebuild unpickles one per content file from the cache, and
# a slotted dataclass's unpickling looks up its fields for each (twice as long, 0.02 s at N = 5,000).
class RawFile(NamedTuple):
    kind: str  # a key of schema.FILE_SCHEMAS
    path: str  # as shown in messages
    data: LocDict | None  # the loaded YAML; None once digested (see validate.digest)
    digest: object = None  # validate.Digest: what validation keeps of the file


def shown_path(file: Path) -> str:
    """The path an editor sees in a message: relative to where they ran the build when possible."""
    try:
        rel = os.path.relpath(file)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(file)
    return str(file) if rel.startswith("..") else rel


def classify(rel: str) -> str | None:
    parts = rel.split("/")
    if rel in SINGLE_FILES:
        return SINGLE_FILES[rel]
    if parts[0] == "submissions" and len(parts) == 2:
        return "submission"
    if parts[0] == "responses" and len(parts) >= 2:
        return "record"
    if parts[0] == "entities" and len(parts) == 2 and parts[1].rsplit(".", 1)[0] in ENTITY_FILES:
        return parts[1].rsplit(".", 1)[0]
    return None


def _is_yaml(name: str) -> bool:
    dot = name.rfind(".")
    return 0 < dot < len(name) - 1 and name[dot:] in (".yaml", ".yml")


def content_files(content: Path) -> list[Path]:
    """Every .yaml or .yml file under ``content``, sorted: what ``content.rglob("*")`` finds (no
    symlinked folder followed) with a YAML suffix that ``is_file()``, read with one scandir a folder."""
    found: list[str] = []
    folders = [os.fspath(content)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if _is_yaml(entry.name):
                        try:
                            if entry.is_file():
                                found.append(entry.path)
                                continue
                        except OSError:
                            pass
                    try:
                        if entry.is_dir() and not entry.is_symlink():
                            folders.append(entry.path)
                    except OSError:
                        pass
        except OSError:
            pass
    return sorted(Path(f) for f in found)


def listed_files(content: Path, hashes: dict[str, str] | None = None) -> list[tuple[Path, str]]:
    """(file, path relative to ``content``) of ``content_files``, in its order. With ``hashes``
    (``cache.Inputs.content``), the files hashed as the build's inputs, without walking the folder
    again: the same files, since that walk enters no linked folder either and hashes only files."""
    if hashes is None:
        return [(file, file.relative_to(content).as_posix()) for file in content_files(content)]
    rels = sorted((rel for rel in hashes if _is_yaml(rel.rpartition("/")[2])), key=lambda rel: rel.split("/"))
    return [(content / rel, rel) for rel in rels]  # sorted part by part, as paths sort


def _shown_paths(content: Path):
    """``shown_path`` of a file under ``content`` from its path relative to it, without working out
    the relative path of every one of thousands of files again."""
    try:
        base = os.path.relpath(content)
    except ValueError:  # pragma: no cover - another drive on Windows
        base = ".."
    if os.sep != "/":  # pragma: no cover - Windows
        return lambda file, rel: shown_path(file)
    if base.startswith(".."):  # not below where the build runs: each file's path as it was given
        return lambda file, rel: str(file)

    def shown(file: Path, rel: str) -> str:
        full = rel if base == "." else f"{base}/{rel}"
        return shown_path(file) if full.startswith("..") else full

    return shown


def read_content(content: Path, errors: Collector, known=None, hashes: dict[str, str | None] | None = None,
                 read: dict[str, tuple] | None = None) -> list[RawFile]:
    """Load every YAML file under ``content``; unknown files are errors so nothing is silently ignored.

    Each file is checked against its schema as it is loaded (``validate.digest``) and only the
    digest is kept, not the YAML; a large content folder is loaded by several processes at once
    (``parallel_load``), with the same result and the same messages as one process. ``known``
    (``cache.Digests``) gives the digests of files loaded before, byte for byte the same; ``hashes``
    (``cache.Inputs.content``: path relative to ``content`` -> ``cache.content_hash``, or None where
    it is not known yet) saves reading and hashing again a file ``known`` holds; ``read`` (path
    relative to ``content`` -> ``parallel_load.Read``) is filled with how each file read whole to be
    hashed was read (``cache.Hashing``)."""
    from .parallel_load import load_files  # noqa: PLC0415 - it needs validate, which needs this module

    if not content.is_dir():
        errors.add(shown_path(content), 1, 1, "the content folder does not exist")
        return []
    jobs: list[tuple[Path, str, str]] = []
    rels: list[str] = []
    hashed: list[str | None] = []
    shown_of = _shown_paths(content)
    for file, rel in listed_files(content, hashes):
        shown = shown_of(file, rel)
        kind = classify(rel)
        if kind is None:
            errors.add(shown, 1, 1, "not a known content file: expected site.yaml, forces.yaml, bodies.yaml, "
                       "questions.yaml, glossary.yaml, figures.yaml, comparison.yaml, submissions/*.yaml, "
                       "responses/**/*.yaml or entities/{" + ",".join(ENTITY_FILES) + "}.yaml")
            continue
        jobs.append((file, shown, kind))
        rels.append(rel)
        hashed.append(hashes.get(rel) if hashes is not None else None)
    how: list = []
    raw = load_files(jobs, errors, known, hashed if hashes is not None else None, how)
    if read is not None:
        read.update((rel, got) for rel, got in zip(rels, how) if got is not None)
    seen = {f.kind for f in raw}
    for kind in REQUIRED:
        if kind not in seen and not any(e.path.endswith(f"{kind}.yaml") for e in errors.errors):
            errors.add(shown_path(content / f"{kind}.yaml"), 1, 1, "this required file is missing")
    return raw
