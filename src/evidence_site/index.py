"""Index the built pages with Pagefind (the Python API, binary from pagefind-bin; no Node, no download).

What is indexed is decided by the templates: only record pages, entity pages and the figures page
carry ``data-pagefind-body``, so Pagefind leaves every other page out (the full response, force and
question pages would otherwise crowd the record out of the first results). Each indexed page carries
its filters (``force``, ``body``, ``question``, ``type``) and a ``title`` meta in ``_page_meta.html``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pagefind.index import IndexConfig, PagefindIndex

# Kept out of the index, so a search finds the evidence and the things it names:
# - interface text repeated beside every paragraph (its number and page, the "cite this" text, notes
#   such as "no address given"): indexed, it would match "Policing in Wales" or "page 5" on every
#   record and push the paragraph's own words out of the excerpt;
# - editorial summaries on entity pages: our paraphrase of the evidence, so every match in the
#   evidence would also match a short summary page, which Pagefind ranks above the long record that
#   actually says it (an entity page is still found by its name, kind, forces and addresses);
# - the labels of an entity page's facts and its section headings ("Kind", "Summary").
EXCLUDE_SELECTORS = (".para-meta", ".para-note", ".cite", ".editorial", ".facts dt",
                     "[data-pagefind-body] > h2")


async def _index(root: Path, language: str) -> None:
    config = IndexConfig(
        output_path=str(root / "pagefind"),
        # The evidence is English whatever the interface language; one index serves every page.
        force_language=language,
        exclude_selectors=list(EXCLUDE_SELECTORS),
    )
    async with PagefindIndex(config=config) as index:
        await index.add_directory(str(root))
        # Leaving the block writes the bundle once. (Writing it here as well left a second,
        # unreferenced .pf_meta file in the bundle.)


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
