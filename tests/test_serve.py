"""The editor's preview, `build.py serve`, run as an editor runs it, on copies of content/ and templates/.

An edit shows on the open page without a manual reload; a broken edit keeps the last good page and
shows the error in the browser; fixing it recovers. The real content is never touched.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import CONTENT, ROOT, TEMPLATES

RECORD = "responses/policing-in-wales/gwent-police/strategic-direction.yaml"
RECORD_PAGE = "responses/policing-in-wales/gwent-police/strategic-direction/"
ORIGINAL = "**Gwent Police** also state that each of the Welsh forces"
WAIT_MS = 60_000  # an upper bound for a rebuild on a busy machine, not a speed target


class Preview:
    """`build.py serve --port 0` in a subprocess; its output is collected line by line."""

    def __init__(self, cwd: Path, *args: str):
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("GITHUB_ACTIONS", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), "serve", "--port", "0", "--content", "content",
             "--templates", "templates", "--out", "_site", *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for_line(r"^serving (http://127\.0\.0\.1:\d+/\S*)")
        self.url = re.match(r"^serving (\S+)", line).group(1)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def wait_for_line(self, pattern: str) -> str:
        deadline = time.monotonic() + WAIT_MS / 1000
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "the preview stopped:\n" + "\n".join(self.lines)
                continue
            if rx.search(line):
                return line
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        """Stop it as Ctrl-C does; it must exit cleanly."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copytree(CONTENT, tmp_path / "content")
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    return tmp_path


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8")


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.browser
def test_an_edit_shows_on_the_open_page_and_a_broken_edit_keeps_the_last_good_one(project, browser):
    record = project / "content" / RECORD
    preview = Preview(project)
    context = browser.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(preview.url + RECORD_PAGE)
        paragraph = page.locator("#gwent-police-q1-01")
        expect(paragraph).to_contain_text("also state that each of the Welsh forces")
        page.evaluate("window.notReloaded = true")

        # 1. Correct a paragraph: the open page shows it, reloaded by the preview, not by us.
        edit(record, ORIGINAL, "**Gwent Police** also state that every one of the Welsh forces")
        expect(paragraph).to_contain_text("also state that every one of the Welsh forces", timeout=WAIT_MS)
        assert page.evaluate("window.notReloaded") is None  # the preview's script reloaded the page

        # 2. Break the YAML: the error is printed and shown over the page, the last good page stays.
        edit(record, "    page: 3\n", "\tpage: 3\n")
        message = f"content/{RECORD}:6:1: error: a tab is used for indentation; YAML needs spaces"
        overlay = page.locator("#dev-server-errors")
        expect(overlay).to_contain_text(message, timeout=WAIT_MS)
        expect(overlay).to_contain_text("→page: 3")
        expect(paragraph).to_contain_text("every one of the Welsh forces")
        preview.wait_for_line("still serving the last good build")
        assert message in preview.lines
        status, _, html = get(preview.url + RECORD_PAGE)  # a fresh request gets the last good page
        assert status == 200 and "every one of the Welsh forces" in html
        page.reload()
        expect(page.locator("#dev-server-errors")).to_contain_text(message, timeout=WAIT_MS)

        # 3. Fix it: the error goes and the page shows the fixed content.
        edit(record, "\tpage: 3\n", "    page: 3\n")
        edit(record, "every one of the Welsh forces", "all of the Welsh forces")
        expect(paragraph).to_contain_text("also state that all of the Welsh forces", timeout=WAIT_MS)
        expect(page.locator("#dev-server-errors")).to_have_count(0)

        # Search is re-indexed after the pages are updated.
        preview.wait_for_line(r"^search index rebuilt")
        assert get(preview.url + "pagefind/pagefind.js")[0] == 200
        # The reload script ran under the pages' Content Security Policy without a violation.
        assert not [m for m in console if "Content Security Policy" in m], console
    finally:
        context.close()
        code = preview.stop()
    assert code == 0, "\n".join(preview.lines)
    assert preview.lines[-1] == "stopped"
    assert "Traceback" not in "\n".join(preview.lines)
    # The preview's script is added while serving; it is never written into the site.
    assert not [p for p in (project / "_site").rglob("*.html") if "__reload" in p.read_text(encoding="utf-8")]
    assert (CONTENT / RECORD).read_text(encoding="utf-8").count(ORIGINAL) == 1


def test_serves_under_the_base_path_and_shows_errors_before_the_first_good_build(project):
    record = project / "content" / RECORD
    edit(record, "body: gwent-police\n", "body: gwent-polce\n")
    preview = Preview(project, "--base-url", "/policing-evidence", "--no-search")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/policing-evidence/", preview.url)
        origin = preview.url.removesuffix("policing-evidence/")
        status, ctype, html = get(preview.url)
        assert status == 503 and ctype.startswith("text/html")
        assert (f"content/{RECORD}:2:7: error: unknown body &#x27;gwent-polce&#x27; "
                "(did you mean &#x27;gwent-police&#x27;?)") in html
        assert '<script src="/__reload.js' in html

        edit(record, "body: gwent-polce\n", "body: gwent-police\n")
        preview.wait_for_line(r"^built \d+ pages")
        status, ctype, html = get(preview.url + RECORD_PAGE)
        assert status == 200 and ctype == "text/html; charset=utf-8"
        assert 'href="/policing-evidence/static/site.css"' in html and '<script src="/__reload.js' in html
        assert get(preview.url + "static/site.css")[:2] == (200, "text/css; charset=utf-8")
        status, ctype, script = get(origin + "__reload.js")
        assert status == 200 and ctype.startswith("text/javascript") and "EventSource" in script
        status, _, html = get(preview.url + "no-such-page/")
        assert status == 404 and 'href="/policing-evidence/' in html
        assert get(origin + "policing-evidence/../content/site.yaml")[0] == 404
        with urllib.request.urlopen(origin, timeout=30) as r:  # the bare address leads to the site
            assert r.url == preview.url
    finally:
        code = preview.stop()
    assert code == 0, "\n".join(preview.lines)
