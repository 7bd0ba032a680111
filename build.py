#!/usr/bin/env python3
"""Build the evidence site: `python build.py [build|check|serve] --help`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from evidence_site.cli import run  # noqa: E402

if __name__ == "__main__":
    run(sys.argv[1:])
