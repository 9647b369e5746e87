#!/usr/bin/env python3
"""Cold start: a whole process that imports one bridge module, against a
stock interpreter importing the same file from sys.path (issue 11).

    .venv/bin/python benchmarks/bench_cold_start.py [--runs 40] [--wheel WHEEL]
                                                    [--start-file]

Two fresh venvs of the same base interpreter, without system site-packages:
"stock" holds nothing, "bridge" holds only bridgeimport's wheel (default:
build/wheel/*.whl, else $BRIDGEIMPORT_WHEEL). The module is four lines,
`one.py` in a temporary directory. Measured, in alternating runs after two
warm-ups (so both sides read a bytecode cache):

  process   wall time of `python -c 'import plugs.one'` with
            BRIDGEIMPORT_PATH=plugs=DIR, against `python -c 'import one'`
            with PYTHONPATH=DIR, as medians; the ratio is the headline;
  first     inside such a process, the time of that one import statement
            (perf_counter_ns around it): the first bridge import loads the
            extension and mounts; the stock one is a plain path import;
  pieces    `-X importtime` of the bridge process: the median self and
            cumulative microseconds of every module the stock run does not
            import (bridgeimport's modules, the synthetic package, stdlib
            modules bridgeimport pulls in), in import order;
  start     with --start-file, on an interpreter whose site.py reads PEP 829
            start files (3.15+): the process again in a third venv holding
            the wheel and bridgeimport.start (python/), which site.py then
            runs instead of the .pth import line (setup.py: START_FILE_FROM).

Prints ratios against stock measured in the same run; asserts nothing.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = "X = 1\n\ndef f():\n    return X\n"
FIRST = ("import time; t = time.perf_counter_ns(); import {name}; "
         "print(time.perf_counter_ns() - t)")


def find_wheel(given: str | None) -> str:
    candidates = [given] if given else (
        glob.glob(os.path.join(ROOT, "build", "wheel", "bridgeimport-*.whl"))
        or [os.environ.get("BRIDGEIMPORT_WHEEL", "")])
    wheel = candidates[0]
    if not wheel or not os.path.isfile(wheel):
        sys.exit("no wheel: run `make wheel` or pass --wheel")
    return wheel


def base_python() -> str:
    """The interpreter the running venv (if any) was made from."""
    return getattr(sys, "_base_executable", None) or sys.executable


def make_venv(tmp: str, name: str, wheel: str | None = None) -> str:
    venv = os.path.join(tmp, name)
    subprocess.run([base_python(), "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    if wheel:
        subprocess.run([sys.executable, "-m", "pip", "--python", python, "install",
                        "--no-deps", "--no-index", "--quiet", wheel], check=True)
    return python


def add_start_file(python: str) -> None:
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy(os.path.join(ROOT, "python", "bridgeimport.start"), site_packages)


def reads_start_files() -> bool:
    """Whether this interpreter's site.py runs PEP 829 start files."""
    import site
    return hasattr(site, "StartupState")


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "BRIDGEIMPORT_"))}
    env.update(extra)
    return env


class Side:
    """One of the two programs: an interpreter, its -c code template, its
    environment."""

    def __init__(self, python: str, name: str, env: dict):
        self.python, self.name, self.env = python, name, env

    def run(self, code: str, *flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, *flags, "-c", code.format(name=self.name)],
                              env=self.env, capture_output=True, text=True, check=True)

    def wall(self) -> float:
        start = time.perf_counter()
        self.run("import {name}")
        return time.perf_counter() - start

    def first_import_ns(self) -> int:
        return int(self.run(FIRST).stdout)

    def importtime(self) -> list[tuple[str, int, int]]:
        """(module, self us, cumulative us) of one run, in import order."""
        rows = []
        for line in self.run("import {name}", "-X", "importtime").stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, module = line[len("import time:"):].split("|")
            rows.append((module.strip(), int(own), int(cumulative)))
        return rows


def alternate(stock: Side, bridge: Side, measure: str, runs: int) -> tuple[list, list]:
    a, b = [], []
    for i in range(runs):
        # Alternate which side goes first, so that neither always follows the other.
        first, second = ((stock, a), (bridge, b)) if i % 2 == 0 else ((bridge, b), (stock, a))
        for side, out in (first, second):
            out.append(getattr(side, measure)())
    return a, b


def site_cumulative(side: Side, runs: int) -> float:
    """Median cumulative -X importtime of site: the interpreter's start-up
    imports, the .pth files included."""
    return statistics.median(next(c for m, _, c in side.importtime() if m == "site")
                             for _ in range(runs))


def pieces(stock: Side, bridge: Side, runs: int) -> list[tuple[str, float, float]]:
    """Median (module, self us, cumulative us) of the bridge process's modules
    that the stock process does not import; a module missing from a run
    counts as 0 there."""
    stock_modules = {m for m, _, _ in stock.importtime()}
    samples: dict[str, list[tuple[int, int]]] = {}
    order: list[str] = []
    for run in range(runs):
        for module, own, cumulative in bridge.importtime():
            if module in stock_modules:
                continue
            if module not in samples:
                samples[module] = [(0, 0)] * run
                order.append(module)
            samples[module].append((own, cumulative))
        for module in order:
            samples[module] += [(0, 0)] * (run + 1 - len(samples[module]))
    return [(m, statistics.median(s for s, _ in samples[m]),
             statistics.median(c for _, c in samples[m])) for m in order]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per side (default 40)")
    parser.add_argument("--wheel", help="the bridgeimport wheel to install")
    parser.add_argument("--start-file", action="store_true",
                        help="also time a venv holding bridgeimport.start (3.15+)")
    args = parser.parse_args(argv)
    wheel = find_wheel(args.wheel)
    with tempfile.TemporaryDirectory(prefix="bi-cold-") as tmp:
        plugs = os.path.join(tmp, "plugs")
        os.mkdir(plugs)
        with open(os.path.join(plugs, "one.py"), "w") as f:
            f.write(MODULE)
        stock = Side(make_venv(tmp, "stock"), "one", environment(PYTHONPATH=plugs))
        bridge_env = environment(BRIDGEIMPORT_PATH=f"plugs={plugs}")
        bridge = Side(make_venv(tmp, "bridge", wheel), "plugs.one", bridge_env)
        started = None
        if args.start_file and reads_start_files():
            started = Side(make_venv(tmp, "start", wheel), "plugs.one", bridge_env)
            add_start_file(started.python)
        # Start-up writes its entry-point cache only for site directories left
        # unchanged for 2 s (bridgeimport._entrypoints): wait, or the first
        # runs would scan instead of reading it, as no long-lived venv does.
        time.sleep(2.2)
        for side in [stock, bridge, started] * 2:  # warm-up: bytecode caches, page cache
            if side:
                side.wall()
        version = stock.run("import sys; print(sys.version.split()[0])").stdout.strip()
        print(f"Python {version}, {os.path.basename(wheel)}, {args.runs} alternating runs a side")

        a, b = alternate(stock, bridge, "wall", args.runs)
        ms_a, ms_b = statistics.median(a) * 1e3, statistics.median(b) * 1e3
        print(f"\nprocess (median wall ms)   stock {ms_a:7.2f}   bridge {ms_b:7.2f}   "
              f"ratio {ms_b / ms_a:.2f}x   (+{ms_b - ms_a:.2f} ms)")
        if args.start_file and not started:
            print("start file: this interpreter's site.py does not read start files")
        if started:
            a, b = alternate(stock, started, "wall", args.runs)
            ms_a, ms_b = statistics.median(a) * 1e3, statistics.median(b) * 1e3
            print(f"with bridgeimport.start    stock {ms_a:7.2f}   bridge {ms_b:7.2f}   "
                  f"ratio {ms_b / ms_a:.2f}x   (+{ms_b - ms_a:.2f} ms)")
        a, b = alternate(stock, bridge, "first_import_ns", args.runs)
        us_a, us_b = statistics.median(a) / 1e3, statistics.median(b) / 1e3
        print(f"first import (median us)   stock {us_a:7.0f}   bridge {us_b:7.0f}   "
              f"ratio {us_b / us_a:.1f}x   (+{(us_b - us_a) / 1e3:.2f} ms)")

        runs = min(args.runs, 20)
        a, b = site_cumulative(stock, runs), site_cumulative(bridge, runs)
        print(f"start-up: site, cumulative (median us)   stock {a:6.0f}   bridge {b:6.0f}   "
              f"(+{(b - a) / 1e3:.2f} ms)")
        print("\n-X importtime of the bridge process, modules stock does not import"
              f" (median of {runs} runs):")
        print(f"  {'module':36} {'self us':>8} {'cumul. us':>10}")
        for module, own, cumulative in pieces(stock, bridge, runs):
            print(f"  {module:36} {own:8.0f} {cumulative:10.0f}")
        if started:
            print("\n-X importtime with bridgeimport.start, modules the .pth process does not"
                  f" import (median of {runs} runs):")
            for module, own, cumulative in pieces(bridge, started, runs):
                print(f"  {module:36} {own:8.0f} {cumulative:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
