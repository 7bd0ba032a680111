#!/usr/bin/env python3
"""Benchmark this project's build against Hugo and MkDocs Material on the same synthetic corpus.

    .venv/bin/python bench/run.py --sizes 100,1000,5000

For each size N it writes a corpus (bench/corpus.py: fixed seed, no download) in this project's YAML,
as a Hugo site and as a MkDocs site, then times whole processes, alternating the tools run by run:

- ours: cold build without search (no cache, no previous output), Pagefind indexing alone, `check`,
  a rebuild with nothing changed, a rebuild after editing one record as the first edit after a full
  build (no spare folder: write.py) and as an edit after an edit (the editor's usual case);
- hugo: a cold build (Debian's `hugo`; skipped, and said so, when not installed);
- mkdocs: a cold build with the Material theme from bench/.venv-mkdocs (made by `--setup-mkdocs`;
  skipped, and said so, when missing);
- the real site (this project's own content/, row "real"): a full build with search and `check`, both
  with no cache and no previous output, as the issue's targets for the real site name them (unless
  `--cold-only`).

A gauge of the host comes first and last: the seconds a fixed pure-Python loop takes in a new process
of the same interpreter (``host_gauge``). The ratios hold from one host to the next; the seconds do
not, and the gauge says how fast the host ran Python that hour, so that two tables, or a table and
a target given in seconds, can be set side by side.

Our generator's modules are compiled to bytecode first (compileall), as pip compiles an installed
package's: an editable install has none, and where PYTHONDONTWRITEBYTECODE is set (as on this
project's machines) Python would compile them again in every process, about 0.06 s each. Each
figure is the median of --runs runs, each started once the disk holds every earlier write
(os.sync) and with no file deleted in the minutes before (each cold run's earlier output is moved
aside and deleted after the last run, and every size's cold builds come before the other measures,
which delete files: see Trash): wall seconds, CPU seconds (user + system, from
getrusage(RUSAGE_CHILDREN) deltas, so worker processes count), and peak memory (sampled from /proc
every 50 ms, Pagefind's processes reported apart): "peak MB" sums each of the tool's processes'
peak resident set (the measure DECISIONS.md names, which counts memory a forked worker shares with
its parent in each); "PSS MB" is the most they held at once, their proportional set sizes summed
(a shared page counted once, split between the processes holding it), read in one more run that is
not timed (reading it slows the process read: see measure); "largest process MB" the
highest peak resident set of any one of them. Ratios are printed beside the seconds: shared machines are noisy,
ratios from alternating runs less so. Results go to bench/out/results-<time>.json and
bench/out/latest.json; `--markdown` prints the table for docs/performance.md. Below the table, the
weight of our pages from the last cold build: the heaviest page and how many pass the 60 KB budget
(a full response apart), the heaviest full response and how many pass 150 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus as corpus_mod  # noqa: E402

sys.path.insert(0, str(ROOT / "src"))
# The budgets a build warns of (DECISIONS.md: 60 KB a page, 150 KB a submission's full response).
from evidence_site.views import FULL_RESPONSE_BUDGET, PAGE_BUDGET  # noqa: E402

MKDOCS_VENV = HERE / ".venv-mkdocs"
MKDOCS_REQUIREMENTS = HERE / "requirements-mkdocs.txt"
CACHE_ENV = "EVIDENCE_SITE_CACHE"  # where the build keeps its cache (see src/evidence_site/cache.py)


# --- measuring one whole process -------------------------------------------------------------------

def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _status(pid: int) -> tuple[str, int] | None:
    """(command name, peak resident kB so far) of a live process."""
    try:
        with open(f"/proc/{pid}/status") as f:
            name, hwm = "", 0
            for line in f:
                if line.startswith("Name:"):
                    name = line.split(None, 1)[1].strip()
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                    break
            return name, hwm
    except OSError:
        return None


def _pss(pid: int) -> int:
    """Proportional set size in kB: the process's resident memory, each page shared with other
    processes (a forked worker's copy-on-write pages) counted as its share."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Peak memory of a process and all its descendants: each process's peak resident set, and the
    peak over time of their proportional set sizes summed (the memory the tool held at once)."""

    def __init__(self, pid: int, interval: float = 0.05, pss: bool = False):
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss = pid, interval, pss
        self.peaks: dict[int, tuple[str, int]] = {}
        self.pss_peak = 0  # kB, the tool's own processes (Pagefind's apart)
        self.pss_peak_pagefind = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            kids = _children_map()
            todo, tree = [self.pid], []
            while todo:
                p = todo.pop()
                tree.append(p)
                todo.extend(kids.get(p, ()))
            own = pagefind = 0
            for p in tree:
                st = _status(p)
                if st and st[1] >= self.peaks.get(p, ("", 0))[1]:
                    self.peaks[p] = st
                if st and self.pss:
                    if "pagefind" in st[0]:
                        pagefind += _pss(p)
                    else:
                        own += _pss(p)
            self.pss_peak = max(self.pss_peak, own)
            self.pss_peak_pagefind = max(self.pss_peak_pagefind, pagefind)
            self.done.wait(self.interval)

    def totals(self) -> dict[str, float]:
        """Peak MB: each of the tool's own processes' peak resident set, summed ("peak_mb", the
        measure DECISIONS.md names); the proportional set sizes summed at once ("pss_mb": pages a
        forked worker shares with its parent counted once); the largest single process
        ("largest_mb"); and the sum of peaks for Pagefind's processes."""
        own = [kb for name, kb in self.peaks.values() if "pagefind" not in name]
        pagefind = [kb for name, kb in self.peaks.values() if "pagefind" in name]
        return {"peak_mb": sum(own) / 1024, "pss_mb": self.pss_peak / 1024 if self.pss else None,
                "largest_mb": max(own, default=0) / 1024, "pagefind_peak_mb": sum(pagefind) / 1024}


def measure(cmd: list[str], cwd: Path = ROOT, env: dict | None = None, pss: bool = False) -> dict:
    """Wall and CPU seconds and peak memory of one run of ``cmd``; with ``pss``, the proportional set
    sizes too. Reading a process's PSS (/proc/PID/smaps_rollup, a walk of its page tables under its
    memory map's lock) every 50 ms slowed what it measured: a one-record rebuild by 0.1 s (10%),
    more for a tool of more processes. So timed runs read only each process's peak resident set
    (VmHWM, which the kernel keeps), and PSS comes from one more, untimed run (``with_pss``)."""
    # The last run's writes (and the deletion of its output) are flushed before this one starts, so
    # no tool is timed while the disk catches up with the tool before it.
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid, pss=pss)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{out[-2000:]}\n{err[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, **sampler.totals()}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) if runs[0][k] is not None else None
            for k in runs[0]} | {"runs": len(runs)}


def with_pss(timed: dict, untimed: dict) -> dict:
    """The median of the timed runs, with PSS from the untimed run that read it."""
    return timed | {"pss_mb": untimed["pss_mb"]}


# --- the tools -------------------------------------------------------------------------------------

def ours_cmd(args, *rest: str) -> list[str]:
    if args.src:
        # As build.py runs it (cli.run), or as it ran before cli.run existed.
        boot = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from evidence_site import cli; "
                "cli.run(sys.argv[1:]) if hasattr(cli, 'run') else sys.exit(cli.main(sys.argv[1:]))")
        return [sys.executable, "-c", boot, str(Path(args.src).resolve()), *rest]
    return [sys.executable, str(ROOT / "build.py"), *rest]


def compile_bytecode(src: Path) -> None:
    """Our modules' bytecode, as an installed package has it (see the docstring above)."""
    import compileall  # noqa: PLC0415

    if not compileall.compile_dir(str(src), quiet=1):
        raise SystemExit(f"could not compile the modules in {src}")


GAUGE_CODE = """\
import time
start = time.perf_counter()
total = 0
for i in range(10_000_000):
    total += i & 7
print(time.perf_counter() - start)
"""


def host_gauge(runs: int = 3) -> float:
    """Seconds a fixed pure-Python loop (ten million steps) takes in a new process of this interpreter,
    the median of ``runs``: how fast the host runs Python now. Not a measure of any tool; it tells a
    slower host (or hour) from a slower build."""
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", GAUGE_CODE], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs))


def ours_env(cache: Path) -> dict:
    env = dict(os.environ)
    env[CACHE_ENV] = str(cache)
    env.pop("SOURCE_DATE_EPOCH", None)
    return env


class Trash:
    """Where a cold run's earlier output goes: moved aside (a rename) before the run, deleted once every
    run is timed. This machine's ext4 has no journal, and without one ext4 passes over every inode
    freed in the last minute (six, once its table is written to again) each time it allocates a new
    one (``recently_deleted`` in fs/ext4/ialloc.c): a tool timed just after a delete of 12,000 files
    spent up to a quarter of its CPU in that search, more or less by the order the runs came in.
    Nothing is deleted while a tool is timed, so each tool's cold build pays for its own files only."""

    def __init__(self, work: Path) -> None:
        self.folder = work / "trash"
        self.count = 0

    def aside(self, path: Path) -> None:
        """``path`` and the build's leftovers beside it (``leftovers``) moved into the trash."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for p in [path, *leftovers(path)]:
            if p.exists() or p.is_symlink():
                self.count += 1
                os.rename(p, self.folder / f"{self.count}-{p.name}")

    def empty(self) -> None:
        rm(self.folder)


def leftovers(path: Path) -> list[Path]:
    """What a build into ``path`` leaves beside it: .old, staging folders, the spare (write.py)."""
    return [*path.parent.glob(path.name + ".*"), *path.parent.glob(f".{path.name}.*")]


def rm(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    for sibling in leftovers(path):
        rm(sibling) if sibling.is_dir() else sibling.unlink()


def hugo_version() -> str | None:
    exe = shutil.which("hugo")
    if not exe:
        return None
    return subprocess.run([exe, "version"], capture_output=True, text=True).stdout.strip()


def mkdocs_exe() -> Path | None:
    exe = MKDOCS_VENV / "bin" / "mkdocs"
    return exe if exe.exists() else None


def mkdocs_version() -> str | None:
    py = MKDOCS_VENV / "bin" / "python"
    if not py.exists():
        return None
    code = "import importlib.metadata as m; print('mkdocs', m.version('mkdocs'), 'material', m.version('mkdocs-material'))"
    return subprocess.run([str(py), "-c", code], capture_output=True, text=True).stdout.strip()


def setup_mkdocs() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(MKDOCS_VENV)], check=True)
    subprocess.run([str(MKDOCS_VENV / "bin" / "pip"), "install", "-q", "-r", str(MKDOCS_REQUIREMENTS)], check=True)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    try:
        import importlib.metadata as md
        pagefind = md.version("pagefind-bin")
    except Exception:  # noqa: BLE001
        pagefind = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "os": platform.platform(),
            "python": platform.python_version(),
            "python_executable": os.path.realpath(sys.executable), "hugo": hugo_version(), "mkdocs": mkdocs_version(),
            "pagefind": pagefind, "load_average": os.getloadavg()}


# --- one corpus size -------------------------------------------------------------------------------

def corpus_for(n: int, work: Path) -> tuple[Path, corpus_mod.Corpus]:
    root = work / f"corpus-{n}"
    stamp = root / "stamp.json"
    want = {"n": n, "generator": (HERE / "corpus.py").read_text()}
    c = corpus_mod.generate(n)
    if not stamp.exists() or json.loads(stamp.read_text()) != want:
        rm(root)
        root.mkdir(parents=True)
        corpus_mod.write_ours(c, root / "ours")
        corpus_mod.write_hugo(c, root)
        corpus_mod.write_mkdocs(c, root)
        stamp.write_text(json.dumps(want))
    return root, c


def _ours(n: int, args, work: Path):
    """Size N's corpus, its content folder, our output and cache folders, their environment and
    our build's command."""
    root, c = corpus_for(n, work)
    content = root / "ours" / "content"
    templates = Path(args.templates).resolve()
    out_ours, cache = work / f"site-ours-{n}", work / f"cache-{n}"
    build = ours_cmd(args, "build", "--content", str(content), "--templates", str(templates),
                     "--out", str(out_ours), "--no-search")
    return root, c, content, templates, out_ours, cache, ours_env(cache), build


def cold_size(n: int, args, work: Path, log, trash: Trash) -> dict:
    """Every tool's cold build of size N, alternating run by run, each earlier output moved aside."""
    root, c, content, templates, out_ours, cache, env, build = _ours(n, args, work)
    tools: dict[str, dict] = {}

    def cold_ours(pss: bool = False) -> dict:
        trash.aside(out_ours)
        trash.aside(cache)
        return measure(build, env=env, pss=pss)

    runners = {"ours": cold_ours}
    skipped = {}
    if "hugo" in args.tools:
        if shutil.which("hugo"):
            out_hugo = work / f"site-hugo-{n}"

            def cold_hugo(pss: bool = False) -> dict:
                trash.aside(out_hugo)
                return measure(["hugo", "--quiet", "-s", str(root / "hugo"), "-d", str(out_hugo)], pss=pss)
            runners["hugo"] = cold_hugo
        else:
            skipped["hugo"] = "not installed (apt-get install -y --no-install-recommends hugo)"
    if "mkdocs" in args.tools:
        exe = mkdocs_exe()
        if exe and not (args.mkdocs_max and n > args.mkdocs_max):
            out_mk = work / f"site-mkdocs-{n}"

            def cold_mkdocs(pss: bool = False) -> dict:
                trash.aside(out_mk)
                return measure([str(exe), "build", "-q", "-f", str(root / "mkdocs" / "mkdocs.yml"), "-d", str(out_mk)],
                               pss=pss)
            runners["mkdocs"] = cold_mkdocs
        elif exe:
            skipped["mkdocs"] = f"skipped above N={args.mkdocs_max} (--mkdocs-max)"
        else:
            skipped["mkdocs"] = "not installed (python bench/run.py --setup-mkdocs)"
    for name, why in skipped.items():
        log(f"  N={n}: {name} {why}")

    runs: dict[str, list[dict]] = {k: [] for k in runners}
    order = list(runners)
    for i in range(args.runs):  # alternate: each round starts with the next tool
        for name in order[i % len(order):] + order[:i % len(order)]:
            runs[name].append(runners[name]())
            log(f"  N={n} run {i + 1} {name:7} {runs[name][-1]['wall']:7.2f}s wall")
    pss = {name: runners[name](pss=True) for name in order}  # untimed: see measure
    log(f"  N={n} PSS run done")
    for name, r in runs.items():
        tools[name + " cold build" if name != "ours" else "ours cold build, no search"] = with_pss(median_of(r), pss[name])

    weights = page_weights(out_ours, [s.id for s in c.submissions]) if out_ours.is_dir() else {}
    pages = sum(1 for _ in out_ours.rglob("*.html"))
    return {"n": n, "paragraphs": sum(len(r.paragraphs) for r in c.records), "pages": pages,
            "tools": tools, "skipped": skipped, "weights": weights}


def extras_size(result: dict, args, work: Path, log, trash: Trash) -> None:
    """Our other measures of size N, on the output of its last cold build, added to ``result``. What
    the benchmark itself removes between them (the search index, the spare) is moved aside, not
    deleted (see Trash): the deletions timed are the build's own."""
    n = result["n"]
    root, c, content, templates, out_ours, cache, env, build = _ours(n, args, work)
    tools = result["tools"]
    # Pagefind as the build runs it: told which pages it indexes (listed here, before any run is
    # timed), when the src/ timed takes that list (``--src`` may be an older checkout's).
    pagefind_code = ("import inspect, sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]); "
                     "from evidence_site.index import build_index; "
                     "told = 'pages' in inspect.signature(build_index).parameters; "
                     "build_index(Path(sys.argv[1]), **({'pages': Path(sys.argv[3]).read_text().split()} if told else {}))")
    src = str(Path(args.src).resolve()) if args.src else str(ROOT / "src")
    searched = work / f"searched-{n}.txt"
    index = [sys.executable, "-c", pagefind_code, str(out_ours), src, str(searched)]
    check = ours_cmd(args, "check", "--content", str(content), "--templates", str(templates))
    target = corpus_mod.edit_target(c, root)
    original = target.read_text()
    extra: dict[str, list[dict]] = {"ours pagefind index": [], "ours check": [],
                                    "ours rebuild, nothing changed": [], "ours rebuild, one record edited": [],
                                    "ours rebuild, first edit after a full build": []}
    spare = out_ours.with_name(f".{out_ours.name}.spare")  # write.spare: the output a rebuild replaced
    measure(build, env=env)  # leave a built site and a warm cache behind
    searched.write_text("\n".join(f.relative_to(out_ours).as_posix() for f in sorted(out_ours.rglob("*.html"))
                                   if "data-pagefind-body" in f.read_text(encoding="utf-8")))

    def one_round(i: int, pss: bool) -> dict[str, dict]:
        got = {}
        trash.aside(out_ours / "pagefind")
        got["ours pagefind index"] = measure(index, pss=pss)
        trash.aside(out_ours / "pagefind")
        got["ours check"] = measure(check, pss=pss)
        got["ours rebuild, nothing changed"] = measure(build, env=env, pss=pss)
        lines = original.split("\n")
        first_text = next(j for j, line in enumerate(lines) if line.startswith("      ") and "text" in lines[j - 1])
        # First an edit with no spare, as after a full build: every kept page is linked into an
        # empty folder and the last output deleted; then another, which brings the spare up to date.
        trash.aside(spare)
        lines[first_text] += f" Edited in run {i + 1}."
        target.write_text("\n".join(lines))
        got["ours rebuild, first edit after a full build"] = measure(build, env=env, pss=pss)
        lines[first_text] += " Edited again."
        target.write_text("\n".join(lines))
        got["ours rebuild, one record edited"] = measure(build, env=env, pss=pss)
        return got

    try:
        for i in range(args.runs):
            for name, r in one_round(i, False).items():
                extra[name].append(r)
            log(f"  N={n} run {i + 1} ours extras done")
        pss = one_round(args.runs, True)  # untimed: see measure
        log(f"  N={n} ours extras PSS run done")
    finally:
        target.write_text(original)
    for name, r in extra.items():
        tools[name] = with_pss(median_of(r), pss[name])


REAL = "real"  # the real site's row in the table, where a corpus size N stands in the others


def real_site(args, work: Path, log, trash: Trash) -> dict:
    """This project's own content (content/): a full build with search and ``check``, whole processes,
    alternating, both with no cache (``EVIDENCE_SITE_CACHE=off``) and no previous output, as the issue
    names them (a build under 1 s, ``check`` under 0.5 s)."""
    content, templates = ROOT / "content", Path(args.templates).resolve()
    out = work / "site-real"
    env = ours_env(Path("off"))  # no cache (cache.cache_dir)
    build = ours_cmd(args, "build", "--content", str(content), "--templates", str(templates), "--out", str(out))
    check = ours_cmd(args, "check", "--content", str(content), "--templates", str(templates))
    names = ("ours real site, build with search", "ours real site, check")

    def one_round(pss: bool) -> list[dict]:
        trash.aside(out)
        return [measure(build, env=env, pss=pss), measure(check, env=env, pss=pss)]

    runs: list[list[dict]] = []
    for i in range(args.runs):
        runs.append(one_round(False))
        log(f"  real site run {i + 1}: build {runs[-1][0]['wall']:.2f}s, check {runs[-1][1]['wall']:.2f}s wall")
    pss = one_round(True)  # untimed: see measure
    tools = {name: with_pss(median_of([r[k] for r in runs]), pss[k]) for k, name in enumerate(names)}
    return {"n": REAL, "tools": tools, "skipped": {}}


# --- report --------------------------------------------------------------------------------------


def page_weights(out: Path, submissions: list[str]) -> dict:
    """The weight of our built pages against the budgets: the heaviest page and how many pass 60 KB
    (a submission's full response apart), the heaviest full response and how many pass 150 KB."""
    full = {f"responses/{s}/index.html" for s in submissions}
    sizes = {p.relative_to(out).as_posix(): p.stat().st_size for p in out.rglob("*.html")}
    pages = {k: v for k, v in sizes.items() if k not in full}
    responses = {k: v for k, v in sizes.items() if k in full}
    heaviest = max(pages.items(), key=lambda kv: kv[1], default=("", 0))
    heaviest_full = max(responses.items(), key=lambda kv: kv[1], default=("", 0))
    return {"html_mb": sum(sizes.values()) / 1e6, "pages": len(sizes),
            "heaviest_page": heaviest[0], "heaviest_page_kb": heaviest[1] / 1000,
            "pages_over_60kb": sum(v > PAGE_BUDGET for v in pages.values()),
            "heaviest_full_response_kb": heaviest_full[1] / 1000,
            "full_responses_over_150kb": sum(v > FULL_RESPONSE_BUDGET for v in responses.values()),
            "full_responses": len(responses)}


def weight_table(results: list[dict]) -> str:
    lines = []
    for r in results:
        w = r.get("weights")
        if w:
            lines.append(f"N={r['n']}: {w['pages']} pages, {w['html_mb']:.0f} MB of HTML; heaviest page "
                         f"{w['heaviest_page_kb']:.0f} KB ({w['heaviest_page']}), {w['pages_over_60kb']} over 60 KB; "
                         f"heaviest full response {w['heaviest_full_response_kb']:.0f} KB, "
                         f"{w['full_responses_over_150kb']} of {w['full_responses']} over 150 KB")
    return "\n".join(lines)

def ratios(result: dict) -> dict:
    t = result["tools"]
    ours = t.get("ours cold build, no search")
    out = {}
    if ours and "hugo cold build" in t:
        out["ours / hugo (wall)"] = ours["wall"] / t["hugo cold build"]["wall"]
        out["ours / hugo (cpu)"] = ours["cpu"] / t["hugo cold build"]["cpu"]
    if ours and "mkdocs cold build" in t:
        out["mkdocs / ours (wall)"] = t["mkdocs cold build"]["wall"] / ours["wall"]
    if "hugo cold build" in t and "ours rebuild, one record edited" in t:
        out["edit rebuild / hugo cold (wall)"] = t["ours rebuild, one record edited"]["wall"] / t["hugo cold build"]["wall"]
    return out


def table(results: list[dict], markdown: bool) -> str:
    rows = [("N", "measure", "wall s", "CPU s", "peak MB", "PSS MB", "largest process MB", "Pagefind MB")]
    for r in results:
        for name, m in r["tools"].items():
            rows.append((str(r["n"]), name, f"{m['wall']:.2f}", f"{m['cpu']:.2f}", f"{m['peak_mb']:.0f}",
                         f"{m['pss_mb']:.0f}" if m.get("pss_mb") is not None else "", f"{m.get('largest_mb', 0):.0f}",
                         f"{m['pagefind_peak_mb']:.0f}" if m["pagefind_peak_mb"] else ""))
        for name, v in ratios(r).items():
            rows.append((str(r["n"]), name, f"{v:.2f}×", "", "", "", "", ""))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in rows[0]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 1 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100,1000,5000", help="corpus sizes N, multiples of 20 (default 100,1000,5000)")
    p.add_argument("--runs", type=int, default=3, help="runs per measure; the median is reported (default 3)")
    p.add_argument("--tools", default="ours,hugo,mkdocs", help="peers to time beside ours (default ours,hugo,mkdocs)")
    p.add_argument("--mkdocs-max", type=int, default=0, help="skip MkDocs above this N (0: never skip)")
    p.add_argument("--src", default=None, help="time another checkout's src/ (e.g. to compare before and after)")
    p.add_argument("--templates", default=str(ROOT / "templates"))
    p.add_argument("--work", default=str(HERE / "out"), help="corpora, outputs and results (default bench/out)")
    p.add_argument("--cold-only", action="store_true", help="time only the cold builds")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--setup-mkdocs", action="store_true", help="create bench/.venv-mkdocs with the pinned MkDocs Material")
    args = p.parse_args(argv)
    if args.setup_mkdocs:
        setup_mkdocs()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    args.tools = [t.strip() for t in args.tools.split(",")]
    compile_bytecode(Path(args.src).resolve() if args.src else ROOT / "src")
    info = machine()
    info["gauge_s"] = host_gauge()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_mb']} MB; Python {info['python']} ({info['python_executable']}); "
          f"{info['hugo'] or 'hugo: not installed'}; {info['mkdocs'] or 'mkdocs: not installed'}; "
          f"pagefind {info['pagefind']}; load average {info['load_average'][0]:.1f}; "
          f"host gauge {info['gauge_s']:.2f}s (host_gauge)", flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = []
    log = lambda s: print(s, flush=True)  # noqa: E731

    def save() -> None:  # after each step
        info["load_average_after"] = os.getloadavg()
        report = {"machine": info, "runs": args.runs, "src": args.src or "src", "templates": args.templates,
                  "results": results, "ratios": {r["n"]: ratios(r) for r in results},
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (work / f"results-{stamp}.json").write_text(json.dumps(report, indent=1))
        (work / "latest.json").write_text(json.dumps(report, indent=1))

    trash = Trash(work)
    if trash.folder.exists():  # left by a run cut short
        log(f"deleting {trash.folder}, left by an earlier run: the cold builds of the next six minutes "
            "may be slowed by it (see Trash)")
        trash.empty()
    try:
        # Every size's cold builds first: the other measures delete files (a rebuild deletes what
        # it replaced), which would slow the next size's cold builds (see Trash).
        for n in args.sizes.split(","):
            results.append(cold_size(int(n), args, work, log, trash))
            save()
        if not args.cold_only:
            sized = list(results)
            results.append(real_site(args, work, log, trash))
            save()
            for result in sized:
                extras_size(result, args, work, log, trash)
                save()
    finally:
        trash.empty()
    info["gauge_after_s"] = host_gauge()
    save()
    print()
    print(table(results, args.markdown))
    print()
    print(weight_table(results))
    print(f"host gauge (a ten-million-step Python loop, host_gauge): {info['gauge_s']:.2f}s before the runs, "
          f"{info['gauge_after_s']:.2f}s after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
