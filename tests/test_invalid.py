"""Broken copies of the real content, each with the exact message it must produce (Zola's
``test_sites_invalid`` is the model). See tests/invalid/README.md for the case format.

Each case runs the command an editor runs, ``build.py build``, over a copy of content/ with one
mutation, into an output folder that already holds a good build: exit 1, exactly the expected
messages, no traceback, and the good build left byte for byte as it was.

``UPDATE_EXPECTED=1 pytest tests/test_invalid.py`` rewrites expected.txt after a deliberate change of
wording or of the real content; review the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CONTENT, ROOT, TEMPLATES, build_site

CASES = ROOT / "tests" / "invalid"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "case.yaml").is_file())
HEAD = re.compile(r"^(content/[^:\s]+):(\d+):(\d+): error: \S.*$")
UPDATE = os.environ.get("UPDATE_EXPECTED") == "1"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good_site(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    out = build_site(tmp_path_factory.mktemp("good") / "_site", search=False)
    return out, snapshot(out)


def apply(case: str, content: Path) -> None:
    spec = yaml.safe_load((CASES / case / "case.yaml").read_text(encoding="utf-8"))
    assert spec.get("description"), f"{case}: say what the mutation is"
    for change in spec["changes"]:
        target = content / change["file"]
        if "write" in change:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(change["write"], encoding="utf-8")
            continue
        data = target.read_bytes()
        find = change["find"].encode("utf-8")
        assert find in data, f"{case}: {change['file']} no longer contains {change['find']!r}; update the case"
        if "replace_bytes" in change:  # one character per byte, for bytes that are not UTF-8
            new = change["replace_bytes"].encode("latin-1")
        else:
            new = change["replace"].encode("utf-8")
        target.write_bytes(data.replace(find, new, 1))


def run_build(cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}  # CI sets it; these cases expect plain output
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "build", "--content", "content", "--out", "_site",
         "--templates", str(TEMPLATES), "--no-search"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def prepare(case: str, tmp_path: Path, good_site) -> Path:
    shutil.copytree(CONTENT, tmp_path / "content")
    shutil.copytree(good_site[0], tmp_path / "_site")
    apply(case, tmp_path / "content")
    return tmp_path


def test_every_case_has_an_expected_message():
    assert len(CASE_NAMES) >= 16
    for case in CASE_NAMES:
        assert (CASES / case / "expected.txt").is_file() or UPDATE, f"{case}: no expected.txt"


@pytest.mark.parametrize("case", CASE_NAMES)
def test_broken_content_gives_the_exact_message_and_keeps_the_last_good_site(case, tmp_path, good_site):
    cwd = prepare(case, tmp_path, good_site)
    result = run_build(cwd)
    expected_file = CASES / case / "expected.txt"
    if UPDATE:
        expected_file.write_text(result.stderr, encoding="utf-8")
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == expected_file.read_text(encoding="utf-8")
    assert snapshot(cwd / "_site") == good_site[1], "a failed build changed the last good site"
    assert not list(cwd.glob("._site.build-*")) and not (cwd / "_site.old").exists()

    # Every message names file:line:col and shows the offending line with a caret under the column.
    lines = result.stderr.splitlines()
    heads = [i for i, line in enumerate(lines) if HEAD.match(line)]
    assert heads and lines[-1].endswith("nothing was written.")
    for i in heads:
        path, line_no, col = HEAD.match(lines[i]).groups()
        file = cwd / path
        source = file.read_bytes().decode("utf-8", "replace").splitlines() if file.is_file() else []
        if 0 < int(line_no) <= len(source) and source[int(line_no) - 1].strip():
            shown, caret = lines[i + 1], lines[i + 2]
            assert shown.startswith("    ") and caret.strip() == "^", lines[i:i + 3]


def test_github_actions_also_get_annotations_on_the_line(tmp_path, good_site):
    cwd = prepare("unknown-reference", tmp_path, good_site)
    result = run_build(cwd, {"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert ("::error file=content/responses/policing-in-wales/gwent-police/strategic-direction.yaml,"
            "line=2,col=7::unknown body 'gwent-polce' (did you mean 'gwent-police'?)") in result.stderr.splitlines()


def test_a_fixed_case_builds_again(tmp_path, good_site):
    """The cases are broken only by their mutation: the same copy without it builds."""
    shutil.copytree(CONTENT, tmp_path / "content")
    shutil.copytree(good_site[0], tmp_path / "_site")
    result = run_build(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("where", ["below", "absolute", "beside"])
def test_a_message_names_the_file_as_the_editor_named_the_content_folder(where, tmp_path):
    """Below the folder the build runs in, the file's path from there; elsewhere, the content
    folder as given (absolute, or with its '..') and the file's path in it."""
    cwd = tmp_path / "work"
    content = {"below": cwd / "content", "absolute": tmp_path / "elsewhere" / "content",
               "beside": tmp_path / "elsewhere" / "content"}[where]
    shutil.copytree(CONTENT, content)
    apply("unknown-reference", content)
    given = {"below": "content", "absolute": str(content), "beside": "../elsewhere/content"}[where]
    cwd.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "check", "--content", given,
                             "--templates", str(TEMPLATES)], cwd=cwd, capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"})
    assert result.returncode == 1
    record = "responses/policing-in-wales/gwent-police/strategic-direction.yaml"
    assert result.stderr.startswith(f"{given}/{record}:2:7: error: unknown body 'gwent-polce'"), result.stderr
