"""Exit while daemon threads hammer imports: bridgeimport next to stock CPython.

Issue 15, part 4. Three daemon threads evict and re-import modules in a tight
loop; the main thread sleeps 0.2 s and exits. CPython < 3.14 ends a daemon
thread that asks for the GIL back during finalisation with pthread_exit(),
a forced unwind through whatever C frames it is in (python/cpython#87135).
Each round runs both loops in fresh processes, on the same 30 module files:

  stock   the files on sys.path, importlib.import_module
  bridge  the same files mounted, bridgeimport.load

and counts the runs that did not exit cleanly (a signal, a non-zero status,
or anything on stderr). Docs quote the output (docs/guide.md, "Bad input and
faults").

    python benchmarks/exit_stress.py [--runs N] [--python EXE ...]

Each EXE must have bridgeimport installed (the matrix venvs of make
test-matrix do: build/matrix/VERSION/venv/bin/python).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import textwrap

LOOP = """
import importlib, sys, threading, time
{setup}
def hammer(k):
    i = 0
    while True:
        name = f"bt_ham.m{{k * 10 + i % 10}}"
        sys.modules.pop(name, None)
        {load}(name)
        i += 1
for k in range(3):
    threading.Thread(target=hammer, args=(k,), daemon=True).start()
time.sleep(0.2)
"""

STYLES = {
    "stock": dict(setup="sys.path.insert(0, {parent!r})",
                  load="importlib.import_module"),
    "bridge": dict(setup="import bridgeimport as bi\nbi.mount('bt_ham', {tree!r})",
                   load="bi.load"),
}


def make_tree(root: str) -> str:
    """bt_ham/ with m0..m29: a package on sys.path for stock, a mount for ours."""
    tree = os.path.join(root, "bt_ham")
    os.makedirs(tree)
    open(os.path.join(tree, "__init__.py"), "w").close()
    for i in range(30):
        with open(os.path.join(tree, f"m{i}.py"), "w") as fh:
            fh.write(f"X = {i}\n")
    return tree


def one_run(python: str, style: str, tree: str) -> str:
    """'' for a clean exit, else a short description of how it ended."""
    spec = STYLES[style]
    setup = spec["setup"].format(parent=os.path.dirname(tree), tree=tree)
    code = LOOP.format(setup=setup, load=spec["load"])
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("BRIDGEIMPORT_PATH", None)
    r = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=60, env=env, cwd=tempfile.gettempdir())
    if r.returncode < 0:
        return f"signal {-r.returncode}"
    if r.returncode or r.stderr:
        last = (r.stderr.strip().splitlines() or [""])[-1]
        return f"exit {r.returncode}: {last[:60]}"
    return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="runs per style (default 40)")
    ap.add_argument("--python", nargs="+", default=[sys.executable])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bi-exit-") as root:
        tree = make_tree(root)
        for python in map(os.path.abspath, args.python):  # run from elsewhere
            version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True).stdout.strip()
            bad = {style: collections.Counter() for style in STYLES}
            for _ in range(args.runs):  # interleaved: both styles see the same machine load
                for style in STYLES:
                    how = one_run(python, style, tree)
                    if how:
                        bad[style][how] += 1
            cells = []
            for style in STYLES:
                n = sum(bad[style].values())
                detail = ", ".join(f"{k} x{v}" for k, v in bad[style].most_common())
                cells.append(f"{style} {n}/{args.runs}" + (f" ({detail})" if detail else ""))
            print(f"{version:>8}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
