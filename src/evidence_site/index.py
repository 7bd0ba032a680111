"""Index the built pages with Pagefind (the Python API, binary from pagefind-bin; no Node, no download).

What is indexed is decided by the templates: only record pages, entity pages and the figures page
carry ``data-pagefind-body``, so Pagefind leaves every other page out (the full response, force and
question pages would otherwise crowd the record out of the first results). Each indexed page carries
its filters (``force``, ``body``, ``question``, ``type``) and a ``title`` meta in ``_page_meta.html``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pagefind.index import IndexConfig, PagefindIndex

# Interface text repeated beside every paragraph (its number and page, the "cite this" text, notes
# such as "no address given"). Indexed, it would match queries like "Policing in Wales" or "page 5"
# on every record, and push the paragraph's own words out of the excerpt.
EXCLUDE_SELECTORS = (".para-meta", ".para-note", ".cite")


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
    asyncio.run(_index(root, language))
