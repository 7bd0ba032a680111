"""What a build keeps for the next one, in ``.build-cache/`` beside the templates folder (gitignored).

Nothing here changes what is built; each entry is keyed by what produced it, so a stale entry is
never used:

- **Up to date.** The hash of every input (content and template files, byte for byte; this code
  and the libraries' versions; the settings; SOURCE_DATE_EPOCH) and the size and time of every
  file the last build left in the output folder. When the inputs hash the same and the output is
  as that build left it, there is nothing to build.
- **Parsed Markdown.** The facts and tokens of each paragraph text holding Markdown (keyed by the
  text itself, in a file keyed by the Markdown code and libraries), so validation and rendering
  parse only new or changed text.
- **Compiled templates.** Jinja2's bytecode cache (keyed by each template's source).

``EVIDENCE_SITE_CACHE`` names another cache folder; ``off`` keeps no cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import pickle
import sys
import tempfile
from pathlib import Path

from . import markdown

CACHE_ENV = "EVIDENCE_SITE_CACHE"
KEEP_BUILDS = 64  # output folders whose last build is remembered
_PACKAGES = ("jinja2", "markupsafe", "markdown-it-py", "mdit-py-plugins", "pyyaml", "pagefind", "pagefind-bin")


def cache_dir(templates: Path) -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "no") else Path(env)
    return templates.resolve().parent / ".build-cache"


def _versions() -> str:
    out = []
    for name in _PACKAGES:
        try:
            out.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name}=none")
    return ";".join(out)


def code_key() -> str:
    """This generator's code and the libraries it uses: any change makes every entry stale."""
    h = hashlib.blake2b(digest_size=16)
    h.update(sys.version.encode())
    h.update(_versions().encode())
    here = Path(__file__).resolve().parent
    for f in sorted(here.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _tree_hash(h, root: Path) -> None:
    if not root.exists():
        h.update(b"\0missing\0" + str(root).encode())
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(hashlib.blake2b(f.read(), digest_size=16).digest())


def inputs_key(content: Path, templates: Path, settings: dict) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(code_key().encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update((os.environ.get("SOURCE_DATE_EPOCH") or "").encode())
    h.update(b"\0content\0")
    _tree_hash(h, content)
    h.update(b"\0templates\0")
    _tree_hash(h, templates)
    return h.hexdigest()


def _output_state(out: Path) -> dict[str, list[int]]:
    state: dict[str, list[int]] = {}
    for dirpath, _dirnames, filenames in os.walk(out):
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            state[os.path.relpath(path, out)] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return state


def _state_file(cache: Path, out: Path) -> Path:
    key = hashlib.blake2b(str(out.resolve()).encode(), digest_size=8).hexdigest()
    return cache / "builds" / f"{key}.json"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def up_to_date(cache: Path | None, out: Path, key: str) -> int | None:
    """The number of pages of the output when the last build into ``out`` had these inputs and its
    output is untouched since; otherwise None."""
    if cache is None:
        return None
    try:
        saved = json.loads(_state_file(cache, out).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != key or not out.is_dir():
        return None
    try:
        if _output_state(out) != saved.get("files"):
            return None
    except OSError:
        return None
    return int(saved.get("pages", 0))


def remember_build(cache: Path | None, out: Path, key: str, pages: int) -> None:
    if cache is None:
        return
    try:
        state = {"key": key, "pages": pages, "files": _output_state(out)}
        _atomic_write(_state_file(cache, out), json.dumps(state).encode())
        # One entry per output folder ever built (tests build into many): keep the newest.
        entries = sorted((cache / "builds").glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in entries[KEEP_BUILDS:]:
            old.unlink()
    except OSError:
        pass  # a cache that cannot be written only makes the next build slower


def forget_build(cache: Path | None, out: Path) -> None:
    if cache is None:
        return
    try:
        _state_file(cache, out).unlink()
    except OSError:
        pass


# --- parsed Markdown -------------------------------------------------------------------------------

def _markdown_file(cache: Path) -> Path:
    h = hashlib.blake2b(digest_size=12)
    h.update(sys.version.encode())
    h.update(_versions().encode())
    h.update(Path(markdown.__file__).read_bytes())
    return cache / f"markdown-{h.hexdigest()}.pickle"


def load_markdown(cache: Path | None) -> int:
    """Fill markdown's memory of parsed texts from the cache; returns how many were read."""
    if cache is None:
        return 0
    try:
        with open(_markdown_file(cache), "rb") as f:
            facts = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return 0
    if not isinstance(facts, dict):
        return 0
    markdown.remember_facts(facts)
    return len(facts)


def save_markdown(cache: Path | None, texts, known: int) -> None:
    """Keep the parsed facts of ``texts`` (the texts of this build) for the next build."""
    if cache is None:
        return
    facts = markdown.facts_of(texts)
    if known and len(facts) == known and markdown.parsed_count() == 0:
        return  # every text came from the cache, and the cache holds no other
    try:
        current = _markdown_file(cache)
        _atomic_write(current, pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
        for stale in cache.glob("markdown-*.pickle"):  # written by other Markdown code or libraries
            if stale != current:
                stale.unlink()
    except OSError:
        pass


def bytecode_cache(cache: Path | None):
    if cache is None:
        return None
    from jinja2 import FileSystemBytecodeCache  # noqa: PLC0415

    folder = cache / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder))
