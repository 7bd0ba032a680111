"""The command line: ``python build.py [build|check|serve]``. Exit 0 ok, 1 content errors, 2 usage."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from jinja2 import TemplateError

from .errors import ContentErrors, report
from .write import OutputError, check_build_output

if TYPE_CHECKING:
    from .helper import Stream


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py", description="Build the evidence site from content/ YAML.")
    sub = p.add_subparsers(dest="command")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--content", type=Path, default=Path("content"), help="content folder (default: content)")
        sp.add_argument("--templates", type=Path, default=Path("templates"), help="templates folder (default: templates)")

    b = sub.add_parser("build", help="build the site into --out (default)")
    common(b)
    b.add_argument("--out", type=Path, default=Path("_site"), help="output folder (default: _site)")
    b.add_argument("--base-url", default="/", help="path the site is served under, e.g. /repo/ (default: /)")
    b.add_argument("--site-url", default=None, type=site_url, help="absolute site URL for citations, sitemap and canonical links")
    b.add_argument("--no-search", action="store_true", help="skip the Pagefind index")
    c = sub.add_parser("check", help="validate the content; write nothing")
    common(c)
    s = sub.add_parser("serve", help="build, serve on http://127.0.0.1:PORT/ and rebuild on change")
    common(s)
    s.add_argument("--out", type=Path, default=Path("_site"))
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--base-url", default="/")
    s.add_argument("--site-url", default=None, type=site_url)
    s.add_argument("--no-search", action="store_true", help="skip re-indexing search after each rebuild")
    j = sub.add_parser("schemas", help="write the JSON Schema files editors' YAML extensions use")
    j.add_argument("--out", type=Path, default=Path("schemas"), help="folder to write into (default: schemas)")
    return p


def site_url(value: str) -> str:
    """--site-url must be absolute: citations, canonical links and the sitemap are built from it."""
    if not re.match(r"^https?://[^/\s]+", value):
        raise argparse.ArgumentTypeError(f"must be an absolute http(s) address such as https://owner.github.io/repo/, not {value!r}")
    return value


def check_environment() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and not epoch.strip().isdigit():
        return f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {epoch!r}"
    return None


def compiling(content: Path, templates: Path, out: Path) -> Stream[tuple[str, dict[str, bytes]]] | None:
    """A build's template compiler (``templating.compiling``), forked as soon as the command is read:
    it compiles while this process imports the modules the pages need (0.15-0.25 s, a quarter of
    the real site's build), where a helper forked by the build would import them first too. Only for
    a build into a folder the cache has no build of, as the build itself would start one
    (``pipeline.build``, which stops it if one was remembered since), and one the build will not
    refuse (a refused build creates nothing, the cache's bytecode included); None otherwise."""
    from . import cache, templating  # noqa: PLC0415 - neither imports the model, Markdown nor YAML

    try:
        check_build_output(out, content, templates)
    except OutputError:
        return None  # the build refuses it, and says why
    if cache.remembered(cache.cache_dir(templates), out):
        return None  # a rebuild, whose templates' bytecode is in the cache
    return templating.compiling(templates, cache.template_bytecode(templates))


def run(argv: list[str]) -> NoReturn:
    """``main``, then the process ends at once with its exit code. A build leaves the model and the
    caches made from it (millions of small objects at an inquiry's scale) to the end of the process;
    the interpreter's tidy-up would free them one by one, 0.4 s at 100,000 paragraphs, when the
    operating system takes the memory back whole. Every file is closed and every worker joined
    before ``main`` returns; the standard streams are flushed here."""
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = check_environment()
    if problem:
        print(f"build.py: error: {problem}", file=sys.stderr)
        return 2
    command = args.command or "build"
    if args.command is None:  # plain `python build.py` means build with defaults
        args = parser().parse_args(["build"] + (argv or []))
    early = compiling(args.content, args.templates, args.out) if command == "build" else None
    try:
        return _command(command, args, early)
    finally:
        if early is not None:
            early.close()  # reaped, whether the build took it or ended before


def _command(command: str, args: argparse.Namespace, early: Stream | None) -> int:
    from . import pipeline  # noqa: PLC0415

    if command == "schemas":
        from .jsonschema_files import write as write_schemas  # noqa: PLC0415

        written = write_schemas(args.out)
        print(f"wrote {len(written)} schema files into {args.out}")
        return 0
    try:
        if command == "check":
            unreviewed: dict[str, list[str]] = {}
            site = pipeline.check(args.content, args.templates, unreviewed)
            n = len(site.paragraph_by_id)
            print(f"ok: {len(site.records)} records, {n} paragraphs, {len(site.entities)} entities")
            # Not errors: translations waiting for a speaker's review (docs/editing.md).
            if "cy" in unreviewed:
                keys = unreviewed["cy"]
                print(f"{len(keys)} Welsh labels not yet reviewed by a Welsh speaker"
                      + (f": {', '.join(keys)}" if keys else ""))
                texts = pipeline.unreviewed_editorial(site)
                print(f"{len(texts)} Welsh editorial texts not yet reviewed by a Welsh speaker"
                      + (f": {', '.join(texts)}" if texts else ""))
            return 0
        settings = pipeline.Settings(content=args.content, templates=args.templates, out=args.out,
                                     base_url=args.base_url, site_url=args.site_url,
                                     search=not getattr(args, "no_search", False))
        if command == "serve":
            from .serve import serve  # noqa: PLC0415

            return serve(settings, args.port)
        pipeline.build(settings, compiling=early)
        return 0
    except ContentErrors as exc:
        report(exc.errors, sys.stderr)
        return 1
    except TemplateError as exc:
        # A template mistake is an editor-facing error too: name the file and line, no traceback.
        name = getattr(exc, "filename", None) or getattr(exc, "name", None) or "templates"
        line = getattr(exc, "lineno", None) or 1
        print(f"{name}:{line}:1: error: template: {exc.message or exc}", file=sys.stderr)
        return 1
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
