"""Live preview for editors: build, serve on 127.0.0.1, rebuild when content or templates change.

- The site is served under its base path (``--base-url /repo/`` serves ``http://127.0.0.1:8000/repo/``),
  exactly as the build wrote it, so what the editor sees is what will be published.
- Every HTML response gets ``<script src="/__reload.js">``, added here and never written to the
  output. The script listens on ``/__reload`` (Server-Sent Events): after a rebuild it reloads the
  page, after a failed build it lays the errors over the page. No inline script, so the pages'
  Content Security Policy (scripts from 'self' only) holds in the preview too.
- A rebuild first writes the pages without the search index and swaps them in, so the open page
  updates at once; Pagefind then re-indexes the new site.
- A content error never replaces the last good site: it is printed, and shown in the browser until
  an edit fixes it.

The few words the preview shows (the overlay's heading) are for the editor at their own machine,
not part of the published site, so they live here rather than in ``templates/labels``.
"""

from __future__ import annotations

import html
import http.server
import json
import mimetypes
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from jinja2 import TemplateError

from . import pipeline
from .errors import ContentErrors
from .urls import normalise_base
from .write import OutputError

RELOAD_JS = "/__reload.js"
RELOAD_EVENTS = "/__reload"
KEEPALIVE_SECONDS = 15.0
HEADING = "The last change could not be built"
STILL_SERVING = "The preview still shows the last good build. Fix the line named below and save."
NOTHING_YET = "There is no good build to show yet. Fix the line named below and save."

_SCRIPT = r"""// Added by `build.py serve` only: reload after a rebuild, show a failed build's errors.
(function () {
  "use strict";
  var mine = document.currentScript && document.currentScript.src;
  var shown = Number(new URL(mine || location.href).searchParams.get("g") || "-1");
  var box = null;

  function render(state) {
    if (box) { box.remove(); box = null; }
    if (!state.errors.length) { return; }
    box = document.createElement("section");
    box.id = "dev-server-errors";
    box.setAttribute("role", "alert");
    box.setAttribute("aria-labelledby", "dev-server-errors-heading");
    var s = box.style;
    s.position = "fixed"; s.left = "0"; s.right = "0"; s.bottom = "0"; s.zIndex = "2147483647";
    s.maxHeight = "60vh"; s.overflow = "auto"; s.margin = "0"; s.padding = "1rem 1.5rem";
    s.background = "#fff4f4"; s.color = "#1b1b1b"; s.borderTop = "0.4rem solid #b00020";
    s.font = "1rem/1.4 system-ui, sans-serif"; s.boxShadow = "0 -0.2rem 1rem rgba(0,0,0,.25)";
    var h = document.createElement("h2");
    h.id = "dev-server-errors-heading";
    h.textContent = state.heading;
    h.style.margin = "0 0 .5rem"; h.style.fontSize = "1.25rem"; h.style.color = "#b00020";
    var p = document.createElement("p");
    p.textContent = state.advice;
    p.style.margin = "0 0 .5rem";
    var pre = document.createElement("pre");
    pre.textContent = state.errors.join("\n");
    pre.style.margin = "0"; pre.style.whiteSpace = "pre-wrap"; pre.style.overflowWrap = "anywhere";
    pre.style.font = ".9rem/1.35 ui-monospace, monospace";
    box.append(h, p, pre);
    document.body.append(box);
  }

  var events = new EventSource("/__reload");
  events.addEventListener("state", function (event) {
    var state = JSON.parse(event.data);
    if (state.generation !== shown && !state.errors.length) {
      location.reload();
      return;
    }
    render(state);
  });
})();
"""


class State:
    """What the preview knows: which good build is on disk, and the errors of the last attempt."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.generation = 0  # bumped by each good build; the page asks for a reload when it differs
        self.errors: list[str] = []
        self.version = 0  # bumped on every change, so event streams know when to send
        self.stopping = False
        self.has_site = False  # the output folder holds a good build (this run's or an earlier one)

    def snapshot(self) -> dict:
        with self.changed:
            return {"generation": self.generation, "errors": list(self.errors), "heading": HEADING,
                    "advice": STILL_SERVING if self.has_site else NOTHING_YET}

    def succeeded(self) -> None:
        with self.changed:
            self.generation += 1
            self.errors = []
            self.has_site = True
            self.version += 1
            self.changed.notify_all()

    def failed(self, errors: list[str]) -> None:
        with self.changed:
            self.errors = errors
            self.version += 1
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()


def _template_error(exc: TemplateError) -> str:
    name = getattr(exc, "filename", None) or getattr(exc, "name", None) or "templates"
    line = getattr(exc, "lineno", None) or 1
    return f"{name}:{line}:1: error: template: {exc.message or exc}"


def rebuild(settings: pipeline.Settings, state: State, log: Callable[[str], None]) -> bool:
    """Build the pages and swap them in, then re-index search. On errors keep the last good site."""
    try:
        pipeline.build(replace(settings, search=False), log=log)
    except ContentErrors as exc:
        messages = [e.format() for e in exc.errors]
    except TemplateError as exc:
        messages = [_template_error(exc)]
    except OutputError as exc:
        messages = [f"error: {exc}"]
    except Exception:  # a bug must not stop the preview: show it, keep serving
        messages = ["error: the build failed unexpectedly:\n" + traceback.format_exc()]
    else:
        state.succeeded()
        if settings.search:
            _reindex(settings.out, log)
        return True
    for m in messages:
        print(m, file=sys.stderr, flush=True)
    noun = "error" if len(messages) == 1 else "errors"
    print(f"{len(messages)} {noun}; still serving the last good build", file=sys.stderr, flush=True)
    state.failed(messages)
    return False


def _reindex(out: Path, log: Callable[[str], None]) -> None:
    from . import write
    from .index import build_index  # noqa: PLC0415

    start = time.perf_counter()
    try:
        with write.lock(out):
            build_index(out)
    except Exception as exc:  # search is a convenience in the preview; the pages are already served
        print(f"warning: search index not rebuilt: {exc}", file=sys.stderr, flush=True)
        return
    log(f"search index rebuilt in {time.perf_counter() - start:.2f}s")


def inject(body: bytes, generation: int) -> bytes:
    """Add the reload script to an HTML page (before </head>, else </body>, else at the end)."""
    tag = f'<script src="{RELOAD_JS}?g={generation}" defer></script>'.encode()
    lower = body.lower()
    for marker in (b"</head>", b"</body>"):
        at = lower.rfind(marker)
        if at != -1:
            return body[:at] + tag + body[at:]
    return body + tag


def _error_page(state: dict) -> bytes:
    items = html.escape("\n".join(state["errors"]))
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(HEADING)}</title>\n</head>\n<body>\n"
        f"<h1>{html.escape(HEADING)}</h1>\n<p>{html.escape(NOTHING_YET)}</p>\n<pre>{items}</pre>\n"
        "</body>\n</html>\n"
    ).encode("utf-8")


def make_handler(out: Path, prefix: str, state: State) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "evidence-site-preview"

        def log_message(self, *args) -> None:  # keep the editor's terminal for build messages
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            if path == RELOAD_JS:
                return self._send(200, _SCRIPT.encode("utf-8"), "text/javascript; charset=utf-8")
            if path == RELOAD_EVENTS:
                return self._events()
            if not path.startswith(prefix):
                if path in ("", "/") or prefix.startswith(path.rstrip("/") + "/"):
                    return self._send(302, b"", "text/plain", {"Location": prefix})
                return self._not_found()
            return self._file(unquote(path[len(prefix):]), path)

        def _file(self, rel: str, path: str) -> None:
            parts = [p for p in rel.split("/") if p]
            if any(p in (".", "..") or "\\" in p or "\0" in p for p in parts):
                return self._not_found()
            if not out.is_dir():
                return self._send(503, inject(_error_page(state.snapshot()), state.generation),
                                  "text/html; charset=utf-8")
            target = out.joinpath(*parts)
            if target.is_dir():
                if not path.endswith("/"):
                    return self._send(301, b"", "text/plain", {"Location": path + "/"})
                target = target / "index.html"
            try:
                body = target.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return self._not_found()
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if ctype == "text/html":
                body = inject(body, state.generation)
            if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
                ctype += "; charset=utf-8"
            self._send(200, body, ctype)

        def _not_found(self) -> None:
            try:
                body = inject((out / "404.html").read_bytes(), state.generation)
            except OSError:
                body = b"Not found"
                return self._send(404, body, "text/plain; charset=utf-8")
            self._send(404, body, "text/html; charset=utf-8")

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            sent = -1
            try:
                self.wfile.write(b"retry: 500\n\n")
                while True:
                    with state.changed:
                        state.changed.wait_for(lambda: state.version != sent or state.stopping,
                                               timeout=KEEPALIVE_SECONDS)
                        if state.stopping:
                            return
                        version = state.version
                    if version != sent:
                        data = json.dumps(state.snapshot(), ensure_ascii=False)
                        self.wfile.write(f"event: state\ndata: {data}\n\n".encode("utf-8"))
                        sent = version
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                return  # the page was closed or reloaded

    return Handler


def _watch(settings: pipeline.Settings, state: State, stop: threading.Event, ready: threading.Event,
           log: Callable[[str], None]) -> None:
    import watchfiles  # noqa: PLC0415

    paths = [p for p in (settings.content, settings.templates) if p.exists()]
    # yield_on_timeout: the first (empty) yield tells us the watcher is in place, so no edit made
    # after the first build can be missed.
    for changes in watchfiles.watch(*paths, stop_event=stop, rust_timeout=300, yield_on_timeout=True,
                                    raise_interrupt=False, debounce=400):
        ready.set()
        if not changes or stop.is_set():
            continue
        log(f"changed: {_describe(changes)}")
        rebuild(settings, state, log)
    ready.set()


def _describe(changes: set) -> str:
    """The files an edit touched, leaving out an editor's temporary files (added and deleted at once)."""
    kinds: dict[str, set[str]] = {}
    for change, path in changes:
        kinds.setdefault(path, set()).add(change.name)
    names = sorted(Path(p).name for p, k in kinds.items() if not {"added", "deleted"} <= k) or ["files"]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def serve(settings: pipeline.Settings, port: int, host: str = "127.0.0.1") -> int:
    """Run the preview until Ctrl-C (or SIGTERM). Returns the exit status."""

    def log(message: str) -> None:
        print(message, flush=True)

    state = State()
    prefix = normalise_base(settings.base_url)
    try:
        httpd = http.server.ThreadingHTTPServer((host, port), make_handler(settings.out, prefix, state))
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror}; choose another --port", file=sys.stderr)
        return 2
    httpd.daemon_threads = True
    stop = threading.Event()
    ready = threading.Event()
    watcher = threading.Thread(target=_watch, args=(settings, state, stop, ready, log), daemon=True,
                               name="watch")

    def terminate(signum, frame) -> None:  # SIGTERM stops as cleanly as Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        watcher.start()
        ready.wait(timeout=10)
        state.has_site = settings.out.is_dir()
        rebuild(settings, state, log)
        actual = httpd.server_address[1]
        log(f"serving http://{host}:{actual}{prefix} (rebuilds when {settings.content} or "
            f"{settings.templates} change; Ctrl-C to stop)")
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.set()
        state.stop()
        httpd.server_close()
        watcher.join(timeout=5)
    log("stopped")
    return 0
