"""Index the built pages with Pagefind (the Python API, binary from pagefind-bin; no Node, no download).

What is indexed is decided by the templates: only record pages, entity pages and the figures page
carry ``data-pagefind-body``, so Pagefind leaves every other page out (the full response, force and
question pages would otherwise crowd the record out of the first results). Each indexed page carries
its filters (``force``, ``body``, ``question``, ``type``) and a ``title`` meta in ``_page_meta.html``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pagefind.index import IndexConfig
from pagefind.service import PagefindService

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


SETTLE_TIMEOUT_S = 60.0


class IncompleteIndex(RuntimeError):
    """Pagefind did not leave a complete bundle."""


async def _index(root: Path, language: str) -> None:
    out = root / "pagefind"
    config = IndexConfig(
        output_path=str(out),
        # The evidence is English whatever the interface language; one index serves every page.
        force_language=language,
        exclude_selectors=list(EXCLUDE_SELECTORS),
    )
    # Pagefind 1.5.2 answers "files written" while its last writes are still in flight (tokio files
    # written without a flush), and the Python API then terminates it: about one build in ten under
    # load shipped a cut-short pagefind.js, pagefind-worker.js or index file. So: write once, wait
    # until every index file is whole, stop Pagefind, and write its fixed assets again from a copy
    # taken in memory (small, unlike the index itself, which can outgrow the API's 2 MiB pipe limit).
    async with PagefindService() as service:

        async def write_index() -> None:
            index = await service.create_index(config)
            await index.add_directory(str(root))
            await index.write_files()

        # Both at once: the API polls for answers every 0.1 s, so requests in a row cost time.
        _, assets = await asyncio.gather(write_index(), _fixed_assets(service, language))
        await _settle(out)
    for name, content in assets.items():
        (out / name).write_bytes(content)


async def _fixed_assets(service: PagefindService, language: str) -> dict[str, bytes]:
    """The bundle files that do not depend on the pages (scripts, styles, WebAssembly), in memory."""
    tiny = await service.create_index(IndexConfig(force_language=language))
    await tiny.add_custom_record(url="/", content="-", language=language)
    files = await tiny.get_files()
    return {f["path"]: f["content"] for f in files
            if "/" not in f["path"] and not f["path"].endswith((".pf_meta", ".json"))}


def _whole(path: Path) -> bool:
    try:
        if path.suffix == ".json":
            json.loads(path.read_bytes())
        else:
            gzip.decompress(path.read_bytes())  # a cut-short gzip stream fails its length check
    except (OSError, EOFError, ValueError, zlib.error):
        return False
    return True


async def _settle(out: Path) -> None:
    """Wait until the entry file and every index file (all gzip streams) are complete."""
    waiting = sorted(p for p in out.rglob("*") if p.is_file() and (p.suffix.startswith(".pf_") or p.suffix == ".json"))
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT_S
    while waiting:
        waiting = [p for p in waiting if not _whole(p)]
        if not waiting:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise IncompleteIndex(f"Pagefind left {len(waiting)} incomplete files, e.g. {waiting[0]}")
        await asyncio.sleep(0.01)


def build_index(root: Path, language: str = "en") -> None:
    logging.getLogger("pagefind").setLevel(logging.WARNING)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_index(root, language))
        return
    # Called from inside an event loop (a browser test driving Playwright, a watcher): asyncio.run
    # refuses to nest, so index on a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _index(root, language)).result()
