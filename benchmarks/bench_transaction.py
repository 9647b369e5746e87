"""Reload transactions: mode="changed" with 1 of N modules edited, against
retiring everything (mode="all") and against the classic purge-and-reimport
of the same files with stock importlib from sys.path, in the same run.

Each round edits one module (its size changes), idles 50 ms as between a
save and the reload (the watcher row also waits for the watcher's report
first), then times ``with transaction(pkg, mode=...): import pkg.main``. The
idle time matters on a small VM: it leaves the caches cold, and a transaction
run right after the edit took a quarter less. The modules form chains
of 10 (each imports the previous one) and ``main`` imports the last module of
every chain, so importing ``main`` loads all of them, and an edit re-runs the
edited module, the rest of its chain and ``main``.
The files are written well before the first load, as in real use, so the
change check is by metadata; the bytecode cache is on (warm pycs); the
garbage collector runs between rounds, not inside them.

The "+ watcher" row gives the transaction the files a watcher (inotify, or
polling where inotify is unavailable) reported, as bi.watch() does: only
those files' modules are checked. The "ceiling" row is what no transaction
could beat on this tree: retiring all over the module code that must run
again (the edited module, the rest of its chain and main).

    .venv/bin/python benchmarks/bench_transaction.py [--modules 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bridgeimport as bi
from bridgeimport import _watch  # the watcher bi.watch() uses, without its apply step

BODY = '''
from {pkg} import {prev}
import functools

VERSION = {version}
TABLE = {{k: k * {i} for k in range(20)}}


class Thing{i}:
    """A class with a few methods, like real client code."""

    def __init__(self, value):
        self.value = value

    def double(self):
        return self.value * 2

    @functools.lru_cache(maxsize=None)
    def cached(self, x):
        return x + VERSION


def helper_{i}(x, y=1):
    return [x * y for _ in range(3)]
'''


IDLE = 0.05  # seconds between an edit (or the watcher's report) and the timed reload


def write_tree(root: Path, pkg: str, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        prev = f"m{i - 1}" if i % 10 else "base"
        (root / f"m{i}.py").write_text(BODY.format(pkg=pkg, prev=prev, i=i, version=0))
    (root / "base.py").write_text("X = 1\n")
    heads = [i for i in range(n) if i % 10 == 9 or i == n - 1]
    (root / "main.py").write_text("".join(f"from {pkg} import m{i}\n" for i in heads))


def edit(root: Path, pkg: str, i: int, version: int) -> None:
    prev = f"m{i - 1}" if i % 10 else "base"
    (root / f"m{i}.py").write_text(BODY.format(pkg=pkg, prev=prev, i=i, version=version)
                                   + "#" * version)


class quiet_gc:
    """A full collection before, none during the timed region (as timeit
    does): with a thousand modules' objects alive, one gen-2 collection
    (about 25 ms here) would otherwise land in a random round."""

    def __enter__(self):
        gc.collect()
        gc.disable()

    def __exit__(self, *exc):
        gc.enable()


def time_transaction(pkg: str, root: Path, mode: str, rounds: int, edited: int,
                     watcher=None) -> tuple:
    """(median seconds, modules retired, median seconds of module code: the
    execution of main, which imports the rest); with ``watcher``, each round
    waits (untimed) for it to report the edit, and the transaction gets its
    files."""
    times, code, retired = [], [], 0
    for r in range(rounds):
        edit(root, pkg, edited, r + 1)
        files = None
        if watcher is not None:
            assert watcher.wait(10), "the watcher reported nothing"
            files = watcher.take()
        time.sleep(IDLE)
        with quiet_gc():
            started = time.perf_counter()
            with bi.transaction(pkg, mode=mode, keep_retired=0, files=files) as tx:
                importlib.import_module(f"{pkg}.main")
            times.append(time.perf_counter() - started)
        assert sys.modules[f"{pkg}.m{edited}"].VERSION == r + 1, tx
        retired = len(tx.retired)
        code.append(tx.timings[f"{pkg}.main"])
    return statistics.median(times), retired, statistics.median(code)


def time_stock_purge(pkg: str, root: Path, rounds: int, edited: int) -> float:
    """The classic approach: drop every module of the package from
    sys.modules and import again, stock importlib from sys.path."""
    sys.path.insert(0, str(root.parent))
    importlib.invalidate_caches()
    importlib.import_module(f"{pkg}.main")
    times = []
    for r in range(rounds):
        edit(root, pkg, edited, 100 + r)
        time.sleep(IDLE)
        with quiet_gc():
            started = time.perf_counter()
            for name in [k for k in sys.modules if k == pkg or k.startswith(pkg + ".")]:
                del sys.modules[name]
            importlib.invalidate_caches()
            importlib.import_module(f"{pkg}.main")
            times.append(time.perf_counter() - started)
    sys.path.remove(str(root.parent))
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    sys.dont_write_bytecode = False  # the environment may say otherwise
    n = args.modules
    edited = n // 2 + 5  # the middle of a chain: 4 more of the chain + main re-run
    with tempfile.TemporaryDirectory() as tmp:
        pkg, stock_pkg = "txbench", "txbench_stock"
        root, stock_root = Path(tmp) / "bridges" / pkg, Path(tmp) / "syspath" / stock_pkg
        write_tree(root, pkg, n)
        write_tree(stock_root, stock_pkg, n)
        (stock_root / "__init__.py").write_text("")
        time.sleep(2.2)  # files older than the timestamp resolution, as in real use
        bi.mount(pkg, root)
        importlib.import_module(f"{pkg}.main")  # writes the pycs
        with bi.transaction(pkg, mode="all", keep_retired=0):
            importlib.import_module(f"{pkg}.main")  # warm: loads from the pycs
        changed, changed_retired, _ = time_transaction(pkg, root, "changed", args.rounds, edited)
        with _watch.Watcher([str(root)], settle=0.02) as watcher:
            watched, _, module_code = time_transaction(pkg, root, "changed", args.rounds,
                                                       edited, watcher)
            backend = watcher.status()["backend"]
        everything, all_retired, _ = time_transaction(pkg, root, "all", args.rounds, edited)
        stock = time_stock_purge(stock_pkg, stock_root, args.rounds, edited)
    print(f"reload transaction, {n} modules, 1 edited, median of {args.rounds} rounds")
    print(f"  mode='changed'   {changed * 1e3:8.2f} ms  (retired {changed_retired}; "
          "a stat per loaded module)")
    print(f"  + watcher        {watched * 1e3:8.2f} ms  (files= from a {backend} watcher; "
          f"{module_code * 1e3:.2f} ms of it module code)")
    print(f"  mode='all'       {everything * 1e3:8.2f} ms  (retired {all_retired})")
    print(f"  stock purge      {stock * 1e3:8.2f} ms  (sys.modules purge + import, sys.path)")
    print(f"  changed vs all:  {everything / changed:6.1f}x faster without the watcher, "
          f"{everything / watched:6.1f}x with it  (target >= 100x)")
    print(f"  ceiling:         {everything / module_code:6.1f}x  (mode='all' over the module "
          "code alone)")
    print(f"  own work:        {(watched - module_code) * 1e3:8.2f} ms  (the watcher row less "
          "its module code: the transaction and the import system)")
    print(f"  changed vs stock purge: {stock / changed:6.1f}x faster without the watcher, "
          f"{stock / watched:6.1f}x with it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
