#!/usr/bin/env python3
"""bridgeimport against stock importlib, measured side by side.

Every figure of docs/design.md section 9 that this release implements is measured
here: both sides import the same generated files (same sources, same pycs)
in fresh interpreter processes, alternating, several repetitions; the table
shows medians and the ratio stock/bridgeimport (> 1 means bridgeimport is
faster) or bridgeimport/stock for costs, as each row says.

    python benchmarks/bench_imports.py                # scales 100 and 1000
    python benchmarks/bench_imports.py --scales 100,1000,10000 --reps 7
    python -m bridgeimport bench [same options]       # the same program

Run it with the interpreter that has bridgeimport installed (make's .venv).
It lives in the package so that an installed copy can run it; the program
benchmarks/bench_imports.py calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import timeit
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List, Optional, Sequence, Tuple

PAST = 1_000_000_000  # source mtimes in 2001: pycs are never racy

STDLIB_WORKLOAD = [
    "json", "decimal", "fractions", "statistics", "email.mime.text", "http.client",
    "urllib.request", "xml.etree.ElementTree", "csv", "sqlite3", "argparse", "logging",
    "subprocess", "asyncio", "unittest", "difflib", "textwrap", "pprint", "dataclasses",
    "uuid", "hashlib", "hmac", "secrets", "zipfile", "tarfile", "gzip", "bz2", "lzma",
    "shutil", "tempfile", "glob", "calendar", "datetime", "ipaddress", "socket", "ssl",
    "queue", "heapq", "bisect", "pickle", "copy", "shelve", "configparser", "plistlib",
    "base64", "html.parser", "mimetypes", "wave", "colorsys", "random", "string",
    "smtplib", "ftplib", "imaplib", "poplib", "mailbox", "cgi", "wsgiref.simple_server",
    "xmlrpc.client", "concurrent.futures", "multiprocessing", "optparse", "getopt",
    "gettext", "locale", "codecs", "unicodedata", "filecmp", "fileinput", "netrc",
]

# Module bodies. "small" is the basis of docs/design.md section 11's figures (a
# constant and a function: executing it costs a few microseconds); "class"
# adds a class, whose creation dominates a warm load for both sides.
BODIES = {
    "small": "VALUE = {i}\n\n\ndef f(x):\n    return x + VALUE\n",
    "class": ("VALUE = {i}\n\n\ndef f(x):\n    return x + VALUE\n\n\n"
              "class C:\n    def method(self):\n        return VALUE\n"),
}
MODULE_SOURCE = BODIES["small"]


def generate(root: Path, count: int, nested: bool) -> Tuple[Path, List[str]]:
    """A package directory with `count` modules: flat (pkg/m0001.py) or
    nested (pkg/p00/m0.py, ten modules per subpackage). Returns the package
    directory and the module names relative to the package."""
    pkg = root / f"bench_{'nested' if nested else 'flat'}_{count}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    names = []
    for i in range(count):
        if nested:
            sub = pkg / f"p{i // 10:04d}"
            if not sub.exists():
                sub.mkdir()
                (sub / "__init__.py").write_text("")
            path = sub / f"m{i % 10}.py"
            names.append(f"p{i // 10:04d}.m{i % 10}")
        else:
            path = pkg / f"m{i:05d}.py"
            names.append(f"m{i:05d}")
        path.write_text(MODULE_SOURCE.format(i=i))
    for path in pkg.rglob("*.py"):
        os.utime(path, (PAST, PAST))
    return pkg, names


def child(code: str, env: Dict[str, str]) -> float:
    """Runs `code` in a fresh interpreter; it prints seconds; returns them."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{code}\n{r.stderr}")
    return float(r.stdout.strip().splitlines()[-1])


def base_env(write_bytecode: bool) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def stock_snippet(pkg: Path, names: List[str], loop: str) -> str:
    return textwrap.dedent(f"""\
        import sys, time, importlib
        sys.path.insert(0, {str(pkg.parent)!r})
        names = [{pkg.name!r} + '.' + n for n in {names!r}]
        t = time.perf_counter()
        {loop}
        print(time.perf_counter() - t)
        """)


def ours_snippet(pkg: Path, names: List[str], loop: str) -> str:
    return textwrap.dedent(f"""\
        import sys, time, importlib, bridgeimport as bi
        bi.mount('b_' + {pkg.name!r}, {str(pkg)!r})
        names = ['b_' + {pkg.name!r} + '.' + n for n in {names!r}]
        t = time.perf_counter()
        {loop}
        print(time.perf_counter() - t)
        """)


def paired(stock_code: str, ours_code: str, reps: int, env: Dict[str, str],
           before: Optional[Callable[[], None]] = None) -> Tuple[float, float]:
    stock: List[float] = []
    ours: List[float] = []
    for _ in range(reps):
        for code, out in ((stock_code, stock), (ours_code, ours)):
            if before:
                before()
            out.append(child(code, env))
    return statistics.median(stock), statistics.median(ours)


def miss_cost() -> Tuple[float, float]:
    """ns per find_spec miss: the native finder and a minimal Python finder."""
    import bridgeimport as bi
    from bridgeimport import _native

    tmp = tempfile.mkdtemp()
    bi.mount("bench_miss_pkg", tmp)

    class PyFinder:
        def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                      target: Optional[ModuleType] = None) -> None:
            return None

    calls = 200_000
    names = ["json.decoder"] * 1000
    results = []
    for fn in (_native.finder.find_spec, PyFinder().find_spec):
        t = min(timeit.repeat("for n in names: f(n, None)", globals={"f": fn, "names": names},
                              number=calls // 1000, repeat=7))
        results.append(t / calls * 1e9)
    bi.unmount("bench_miss_pkg")
    shutil.rmtree(tmp)
    return results[0], results[1]


def pth_cost(reps: int) -> List[Tuple[str, float, str, str]]:
    """What bridgeimport.pth adds to interpreter start-up, against the same
    interpreter with BRIDGEIMPORT_DISABLE=1 (the line then stops at its first
    test, as good as no .pth): the CPU time (user + system, from wait4) of
    ``python -c pass`` (fresh processes run alternately, medians; CPU rather
    than wall time because a shared machine's scheduling noise exceeds 1 ms),
    and the .pth line alone, timed (thread CPU time) inside a fresh
    interpreter (misses only the first look-up in site-packages, which the
    next import from there would pay anyway). Also
    the stand-in finder's miss and the first import under a start-up mount
    (which loads the extension). Returns rows (figure, value, unit, target)."""
    import bridgeimport

    line = (Path(bridgeimport.__file__).resolve().parent.parent / "bridgeimport.pth").read_text()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "m.py").write_text("X = 1\n")
    disabled = dict(base_env(False), BRIDGEIMPORT_DISABLE="1")
    nothing = base_env(False)
    one_mount = dict(nothing, BRIDGEIMPORT_PATH=f"bench_pth={tmp}")
    line_code = ("import os, time; del os.environ['BRIDGEIMPORT_DISABLE']; "
                 f"t = time.thread_time(); exec({line.strip()!r}); "
                 "print(time.thread_time() - t)")

    def wall(env: Dict[str, str]) -> float:
        """CPU seconds of one `python -c pass`."""
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], env)
        _, status, usage = os.wait4(pid, 0)
        assert status == 0, status
        return usage.ru_utime + usage.ru_stime  # type: ignore[no-any-return]  # typeshed: Any

    def line_alone(env: Dict[str, str]) -> float:
        r = subprocess.run([sys.executable, "-c", line_code],
                           env=dict(env, BRIDGEIMPORT_DISABLE="1"), capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, r.stderr
        return float(r.stdout)

    configs = {"disabled": disabled, "nothing": nothing, "mount": one_mount}
    for env in configs.values():  # warm the page cache and the entry-point cache
        wall(env)
        line_alone(env)
    times: Dict[Tuple[str, str], List[float]] = {
        (k, how): [] for k in configs for how in ("wall", "line")}
    for _ in range(reps * 8):
        for k, env in configs.items():
            times[k, "wall"].append(wall(env))
            times[k, "line"].append(line_alone(env))
    med = {key: statistics.median(v) for key, v in times.items()}

    from bridgeimport._startup import StandInFinder

    calls = 200_000
    # No name is under bench_nothing: activate is never called.
    fn = StandInFinder(["bench_nothing"], activate=None).find_spec  # type: ignore[arg-type]
    names = ["json.decoder"] * 1000
    miss_ns = min(timeit.repeat("for n in names: f(n, None)", globals={"f": fn, "names": names},
                                number=calls // 1000, repeat=7)) / calls * 1e9
    first = statistics.median(child(
        "import time; t = time.perf_counter(); import bench_pth.m; "
        "print(time.perf_counter() - t)", one_mount) for _ in range(reps))
    shutil.rmtree(tmp)
    rows = []
    for k, label in (("nothing", "nothing configured"),
                     ("mount", "one mount in BRIDGEIMPORT_PATH")):
        rows.append((f".pth start-up, {label}: python -c pass (CPU)",
                     (med[k, "wall"] - med["disabled", "wall"]) * 1e3, "ms", "<= 1 ms"))
        rows.append((f".pth line alone (in-process CPU), {label}", med[k, "line"] * 1e3, "ms",
                     "<= 1 ms"))
    rows.append(("stand-in finder miss before the first bridge import", miss_ns, "ns", "tiny"))
    rows.append(("first import under a start-up mount (loads the extension)", first * 1e3, "ms",
                 "-"))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="100,1000",
                        help="module counts, comma separated (default 100,1000)")
    parser.add_argument("--reps", type=int, default=5, help="fresh-process repetitions per side")
    parser.add_argument("--body", choices=sorted(BODIES), default="small",
                        help="generated module body (default: small, docs/design.md section 11)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--pth-only", action="store_true",
                        help="only the start-up (.pth) rows")
    args = parser.parse_args(argv)
    global MODULE_SOURCE
    MODULE_SOURCE = BODIES[args.body]
    scales = [int(s) for s in args.scales.split(",") if s]
    rows = []

    def row(figure: str, ours: float, stock: Optional[float], unit: str, ratio: Optional[float],
            target: str) -> None:
        rows.append({"figure": figure, "bridgeimport": ours, "stock": stock, "unit": unit,
                     "ratio": ratio, "target": target})
        stock_text = f"{stock:>10.3f}" if stock is not None else f"{'-':>10}"
        ratio_text = f"{ratio:>7.2f}x" if ratio is not None else f"{'-':>8}"
        print(f"  {figure:<58} {ours:>10.3f} {stock_text} {unit:<4} {ratio_text}"
              f"  (target {target})", flush=True)

    print(f"bridgeimport benchmarks: Python {platform.python_version()} at {sys.executable}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"module body: {args.body!r}: {MODULE_SOURCE.format(i=0)!r}")
    print(f"  {'figure':<58} {'bridgeimp':>10} {'stock':>10} {'unit':<4} {'ratio':>8}")

    if args.pth_only:
        for figure, value, unit, target in pth_cost(args.reps):
            row(figure, value, None, unit, None, target)
        return 0

    native_ns, python_ns = miss_cost()
    row("finder miss, unrelated name, per call (vs Python finder)", native_ns, python_ns, "ns",
        native_ns / python_ns, "<= 150 ns")

    root = Path(tempfile.mkdtemp(prefix="bridgeimport-bench-"))
    try:
        loop_import = "for n in names: __import__(n)"
        stdlib_ours = textwrap.dedent(f"""\
            import sys, time, tempfile, bridgeimport as bi
            bi.mount('bench_unrelated', tempfile.gettempdir())
            t = time.perf_counter()
            for m in {STDLIB_WORKLOAD!r}: __import__(m)
            print(time.perf_counter() - t)""")
        stdlib_stock = stdlib_ours.replace("bi.mount('bench_unrelated', tempfile.gettempdir())",
                                           "bi.uninstall()")
        stock, ours = paired(stdlib_stock, stdlib_ours, args.reps * 2, base_env(False))
        row(f"stdlib workload ({len(STDLIB_WORKLOAD)} modules), finder installed vs not",
            ours * 1e3, stock * 1e3, "ms", ours / stock, "<= 1.02x time")

        for count in scales:
            for nested in (False, True):
                shape = "nested" if nested else "flat"
                pkg, names = generate(root, count, nested)
                warm = base_env(True)
                # Warm both sides' pycs (shared files) once, outside the timing.
                child(ours_snippet(pkg, names, loop_import), warm)
                child(stock_snippet(pkg, names, loop_import), warm)
                stock, ours = paired(stock_snippet(pkg, names, loop_import),
                                     ours_snippet(pkg, names, loop_import), args.reps, warm)
                row(f"warm plain import, {count} {shape} modules vs sys.path",
                    ours * 1e3, stock * 1e3, "ms", stock / ours, ">= 1.5x faster")
                stock, ours = paired(
                    stock_snippet(pkg, names, "for n in names: importlib.import_module(n)"),
                    ours_snippet(pkg, names, "for n in names: bi.load(n)"), args.reps, warm)
                row(f"bi.load() vs importlib.import_module(), {count} {shape}",
                    ours * 1e3, stock * 1e3, "ms", stock / ours, ">= 3x faster")

                def wipe(pkg: Path = pkg) -> None:
                    for cache in pkg.rglob("__pycache__"):
                        shutil.rmtree(cache)

                stock, ours = paired(stock_snippet(pkg, names, loop_import),
                                     ours_snippet(pkg, names, loop_import), args.reps,
                                     base_env(False), before=wipe)
                row(f"cold import (no pyc), {count} {shape} modules", ours * 1e3, stock * 1e3,
                    "ms", ours / stock, "<= 1.05x time")
                shutil.rmtree(pkg)

        for figure, value, unit, target in pth_cost(args.reps):
            row(figure, value, None, unit, None, target)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("ratio: time rows are bridgeimport/stock (lower is better); 'faster' rows are "
          "stock/bridgeimport (higher is better); rows without a stock figure are costs")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
