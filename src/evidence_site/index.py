"""Index the built pages with Pagefind (the binary from PyPI's pagefind-bin, run as a command; no Node, no download).

What is indexed is decided by the templates: only record pages, entity pages and the figures page
carry ``data-pagefind-body``, so Pagefind leaves every other page out (the full response, force and
question pages would otherwise crowd the record out of the first results). Each indexed page carries
its filters (``force``, ``body``, ``question``, ``type``) and a ``title`` meta in ``_page_meta.html``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .write import bundle_problems

# Kept out of the index, so a search finds the evidence and the things it names:
# - interface text repeated beside every paragraph (its number and page, the "cite this" text, notes
#   such as "no address given"): indexed, it would match "Policing in Wales" or "page 5" on every
#   record and push the paragraph's own words out of the excerpt;
# - editorial summaries on entity pages: our paraphrase of the evidence, so every match in the
#   evidence would also match a short summary page, which Pagefind ranks above the long record that
#   actually says it (an entity page is still found by its name and the addresses given);
# - an entity page's facts (its kind and forces, which the type and force filters carry) and its
#   section headings ("Summary", "Addresses given in the response").
EXCLUDE_SELECTORS = (".para-meta", ".para-note", ".cite", ".editorial", ".facts",
                     "[data-pagefind-body] > h2")


class IncompleteIndex(RuntimeError):
    """Pagefind did not leave a complete bundle."""


def _pagefind() -> str:
    from pagefind_bin import get_executable  # noqa: PLC0415 - the binary PyPI's pagefind-bin installs

    return str(get_executable())


def glob_of(pages: Iterable[str]) -> str:
    """A Pagefind glob for the folders (or files at the top) that hold these pages: Pagefind reads
    only what it matches. The pages of those folders that carry no ``data-pagefind-body`` it still
    reads and leaves out, as it would anywhere; the Welsh interface's folder, the force and question
    pages it no longer reads at all (half the real site's pages, half of Pagefind's time there)."""
    tops = sorted({rel.split("/", 1)[0] + ("/**/*.html" if "/" in rel else "") for rel in pages})
    return "{" + ",".join(tops) + "}"


def build_index(root: Path, language: str = "en", pages: Iterable[str] | None = None) -> None:
    """Index the site in ``root`` into ``root/pagefind`` with Pagefind's own command: every page there
    that carries ``data-pagefind-body``; with ``pages``, the build's list of them, only the folders
    holding those are read (``glob_of``), for the same index.

    The binary from pagefind-bin, run once as a command: the Python API drives the same binary as a
    service, but answers its requests by polling every 0.1 s (half a second per build, which is most
    of a small site's build) and, in 1.5.2, stopped the service while its last files were still
    being written (cut-short pagefind.js or index files in about one build in ten under load). The
    command exits only once it has written everything; the bundle is still checked whole."""
    command = [_pagefind(), "--site", ".", "--output-subdir", "pagefind",
               # The evidence is English whatever the interface language; one index serves every page.
               "--force-language", language, "--silent"]
    for selector in EXCLUDE_SELECTORS:
        command += ["--exclude-selectors", selector]
    pages = list(pages or ())
    if pages:  # none: every page is read, and indexed whole if none carries data-pagefind-body
        command += ["--glob", glob_of(pages)]
    # Run from the site folder with no PAGEFIND_* settings: Pagefind reads a pagefind.yml from its
    # working folder and settings from the environment, and neither may change what is indexed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Pagefind failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    problems = bundle_problems(root)
    if problems:
        raise IncompleteIndex("Pagefind left an incomplete bundle: " + "; ".join(problems[:3]))
