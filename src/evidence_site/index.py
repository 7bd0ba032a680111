"""Index the built pages with Pagefind (the Python API, binary from pagefind-bin; no Node, no download)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pagefind.index import IndexConfig, PagefindIndex


async def _index(root: Path, language: str) -> None:
    config = IndexConfig(output_path=str(root / "pagefind"), force_language=language)
    async with PagefindIndex(config=config) as index:
        await index.add_directory(str(root))
        await index.write_files(output_path=str(root / "pagefind"))


def build_index(root: Path, language: str = "en") -> None:
    logging.getLogger("pagefind").setLevel(logging.WARNING)
    asyncio.run(_index(root, language))
