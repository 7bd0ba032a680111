"""Every built page is valid HTML: the Nu HTML Checker (vnu-jar from npm) reports no errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def html_files(site_dir: Path) -> list[Path]:
    return sorted(site_dir.rglob("*.html"))


def test_nu_html_checker_reports_no_errors_on_any_page(site_dir):
    files = html_files(site_dir)
    assert len(files) > 20, f"expected the whole site, found {len(files)} HTML files in {site_dir}"
    lines = nu_errors(files, site_dir)
    assert not lines, f"{len(lines)} HTML errors:\n" + "\n".join(lines)


def nu_errors(files: list[Path], site_dir: Path) -> list[str]:
    """The Nu HTML Checker's errors on ``files``, one line each: ``path:line:col: message [extract]``."""
    if not VNU.is_file():
        pytest.fail(f"the Nu HTML Checker is missing ({VNU.relative_to(ROOT)}): run `npm ci` in {ROOT}")
    java = shutil.which("java")
    if not java:
        pytest.fail("java is not installed; the Nu HTML Checker needs it (apt-get install default-jre-headless)")
    # One JVM for every page: --errors-only --format json writes the report to stderr.
    proc = subprocess.run([java, "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, files)],
                          capture_output=True, text=True, timeout=300)
    try:
        report = json.loads(proc.stderr or '{"messages": []}')
    except json.JSONDecodeError:
        pytest.fail(f"the Nu HTML Checker did not report JSON (exit {proc.returncode}):\n{proc.stderr[:2000]}")
    errors = [m for m in report["messages"] if m.get("type") in ("error", "non-document-error")]
    lines = []
    for m in errors:
        url = m.get("url", "").removeprefix("file:")
        rel = Path(url).relative_to(site_dir) if url.startswith(str(site_dir)) else url
        lines.append(f"{rel}:{m.get('lastLine', '?')}:{m.get('firstColumn', '?')}: {m['message']}"
                     f"  [{m.get('extract', '').strip()[:120]}]")
    return lines
