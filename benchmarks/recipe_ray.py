"""Recipe: bridge objects returned from Ray tasks (issue 16, part 2).

A benchmark-style program whose command and output the docs quote; not a CI
test. It writes a bridge file ``shapes.py`` into a temporary directory D,
mounts D as ``plugins`` in the driver, starts a local Ray instance (a raylet
and 2 worker processes on this machine; not Ray's deprecated
``local_mode=True``, which runs tasks inside the driver) and runs tasks that
return ``plugins.shapes.Square`` instances. The workers start from an
environment without any BRIDGEIMPORT_* variable (the driver removes its own
export from ``os.environ`` before ``ray.init``, so the raylet and its workers
inherit nothing) and get the mount only through the recipe:

  env   (the recipe)  ray.init(runtime_env={"working_dir": D,
                                           "env_vars": bi.env("plugins", relative_to=D)})
        bi.env gives {"BRIDGEIMPORT_PATH": "plugins=."}; Ray uploads D, unpacks it
        on each node and starts the workers with their current directory in that
        copy and env_vars in their environment, so bridgeimport's start-up
        resolves "." to the copy before any task runs.
  hook  (alternative) ray.init(runtime_env={"working_dir": D,
                                           "worker_process_setup_hook": setup_hook})
        setup_hook calls bi.mount("plugins", os.getcwd()) in each worker when it
        starts (its cwd is again the copy of D). Ray marks this hook experimental.
  none  (control)     working_dir only: the tasks fail with ModuleNotFoundError.

The driver checks, for every task: ``type(result) is plugins.shapes.Square``
(the driver's one module object), the result's value, that the worker's pid
is not the driver's, and that on the worker ``plugins.shapes`` was loaded by
bridgeimport's loader from the worker's copy of D (not from D itself). It
prints a short report and exits 1 if a check fails.

Assumptions, which hold on a real cluster too: bridgeimport is installed in
the interpreter the workers run (the one each node's raylet was started
with; here ray.init starts the local instance with the driver's
sys.executable; a cluster's image needs the wheel); everything the mount
serves lives under D, so it travels in working_dir (uploaded whole, within
Ray's size limit). Found by running it: the workers' cwd at start-up is
``/tmp/ray/session_*/runtime_resources/working_dir_files/_ray_pkg_<hash>``
and env_vars are in their environment from the start (both recipes work).
Ray also puts the working_dir on the workers' sys.path, hence: keep D flat
(relative_to=D, "plugins=."), since a subdirectory ``plugins/`` there would
make ``plugins`` a stock namespace package, which a mount never shadows
(recipe_spark.py shows that trap); and import the files as ``plugins.shapes``
only, since ``import shapes`` would make a second module object of the file.

    make recipes        # creates build/engines/venv, then runs this and recipe_spark.py
    build/engines/venv/bin/python benchmarks/recipe_ray.py [--tasks 200] [--mode env|hook|both|none]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SHAPES = '''\
class Square:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side
'''


def setup_hook() -> None:
    """worker_process_setup_hook: mount the worker's copy of the working_dir."""
    import os

    import bridgeimport as bi

    bi.mount("plugins", os.getcwd())


def make_square(i: int):
    """The task: a bridge object, plus what the worker saw."""
    import os

    import bridgeimport as bi
    import plugins.shapes

    facts = {
        "pid": os.getpid(),
        "cwd": os.path.realpath(os.getcwd()),
        "file": os.path.realpath(plugins.shapes.__file__),
        "bridge_loader": isinstance(plugins.shapes.__loader__, bi.Loader),
        "path_var": os.environ.get("BRIDGEIMPORT_PATH"),
    }
    return facts, plugins.shapes.Square(i)


def run(ray, mode: str, bridge_dir: Path, tasks: int, env: dict) -> tuple:
    """(problems, report lines) of one ray.init ... ray.shutdown cycle."""
    import plugins.shapes

    runtime_env = {"working_dir": str(bridge_dir)}
    if mode == "env":
        runtime_env["env_vars"] = env
    elif mode == "hook":
        runtime_env["worker_process_setup_hook"] = setup_hook
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             runtime_env=runtime_env)
    try:
        ready = time.perf_counter()
        remote = ray.remote(make_square)
        results = ray.get([remote.remote(i) for i in range(tasks)])
        done = time.perf_counter()
    finally:
        ray.shutdown()

    problems = []
    driver_pid = os.getpid()
    original = os.path.realpath(bridge_dir)
    for i, (facts, square) in enumerate(results):
        why = []
        if type(square) is not plugins.shapes.Square:
            why.append(f"type {type(square)!r} from module "
                       f"{sys.modules.get(type(square).__module__)!r}")
        elif square.side != i or square.area() != i * i:
            why.append(f"value {square.side!r}")
        if facts["pid"] == driver_pid:
            why.append("ran in the driver")
        if not facts["bridge_loader"]:
            why.append("not loaded by bridgeimport on the worker")
        if os.path.dirname(facts["file"]) != facts["cwd"] or facts["cwd"] == original:
            why.append(f"worker loaded {facts['file']} (cwd {facts['cwd']})")
        if why:
            problems.append(f"task {i}: " + "; ".join(why))
    pids = sorted({f["pid"] for f, _ in results})
    first = results[0][0]
    lines = [
        "  runtime_env: working_dir=<D>" + {"env": f", env_vars={env}",
                                            "hook": ", worker_process_setup_hook=setup_hook",
                                            "none": ""}[mode],
        f"  worker cwd:          {first['cwd']}",
        f"  worker module file:  {first['file']}",
        f"  worker BRIDGEIMPORT_PATH: {first['path_var']!r}",
        f"  tasks: {len(results)} on {len(pids)} worker process(es) {pids}, driver pid "
        f"{driver_pid}",
        "  identity (type(result) is plugins.shapes.Square, bridge loader on workers): "
        + ("ok" if not problems else f"FAILED ({len(problems)} problem(s))"),
        f"  seconds: ray.init {ready - started:.2f}, tasks {done - ready:.2f}",
    ]
    return problems, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200, help="tasks per run (default 200)")
    parser.add_argument("--mode", choices=("env", "hook", "both", "none"), default="both",
                        help="env_vars recipe, worker_process_setup_hook, both (default), "
                        "or none (working_dir only: the tasks must fail)")
    args = parser.parse_args()
    started = time.perf_counter()

    import bridgeimport as bi

    bridge_dir = Path(tempfile.mkdtemp(prefix="recipe-ray-"))
    (bridge_dir / "shapes.py").write_text(SHAPES)
    bi.mount("plugins", bridge_dir)
    env = bi.env("plugins", relative_to=bridge_dir)
    # A clean start for the workers: they inherit the raylet's environment,
    # which ray.init() copies from this process, so drop this process's own
    # export (BRIDGEIMPORT_MOUNTS, absolute paths) and any BRIDGEIMPORT_PATH.
    for name in [n for n in os.environ if n.startswith("BRIDGEIMPORT_")]:
        del os.environ[name]

    import ray

    print(f"recipe_ray: ray {ray.__version__}, Python {sys.version.split()[0]}, "
          f"bridgeimport {getattr(bi, '__version__', '?')}")
    print(f"  D = {bridge_dir}; bi.env('plugins', relative_to=D) = {env}")
    failed = False
    for mode in (("env", "hook") if args.mode == "both" else (args.mode,)):
        print(f"{mode}:")
        try:
            problems, lines = run(ray, mode, bridge_dir, args.tasks, env)
        except Exception as exc:  # report its error's last line, go on with the other mode
            errors = [x.strip() for x in str(exc).splitlines() if "Error" in x]
            problems = [f"{type(exc).__name__}: {errors[-1] if errors else str(exc)[:300]}"]
            lines = []
        if lines:
            print("\n".join(lines))
        for line in problems[:5]:
            print(f"  FAIL {line}")
        failed = failed or bool(problems)
    shutil.rmtree(bridge_dir, ignore_errors=True)
    print(f"recipe_ray: {'FAILED' if failed else 'ok'} in {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
