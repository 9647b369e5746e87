"""Tasks per second returning bridge objects on a 2-worker dask cluster:
bridgeimport against the same module on sys.path, in the same run and on the
same cluster (issue 16, part 6).

One LocalCluster of 2 worker processes (1 thread each) starts with a
directory of plain packages on PYTHONPATH. The same source is then mounted
as a bridge package and shipped with ``bridgeimport.dask.register``. Each
round maps ``Square(i)`` over N inputs and gathers the N instances (pickled by
reference on the worker, unpickled on the client), then maps ``grow`` over
those instances (pickled both ways); stock and bridge rounds alternate. Once
a module is imported, unpickling a class by reference is a sys.modules
lookup, so the ratio should be close to 1: the cost is the pickling, not the
hook. The pickled sizes are printed too (the bridge name is longer).

    .venv/bin/python benchmarks/bench_dask.py [--tasks 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
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


def grow(square):
    return Square(square.side + 1)
'''


def make_trees(root: Path) -> tuple:
    plain = root / "plain"
    (plain / "stockshapes").mkdir(parents=True)
    (plain / "stockshapes" / "__init__.py").write_text("")
    (plain / "stockshapes" / "shapes.py").write_text(SHAPES)
    bridges = root / "bridges"
    bridges.mkdir()
    (bridges / "shapes.py").write_text(SHAPES)
    return plain, bridges


def one_round(client, module, tasks: int) -> float:
    """Seconds for N Square tasks gathered, then N grow tasks on them."""
    started = time.perf_counter()
    squares = client.gather(client.map(module.Square, range(tasks), pure=False))
    grown = client.gather(client.map(module.grow, squares, pure=False))
    elapsed = time.perf_counter() - started
    assert type(grown[-1]) is module.Square and grown[-1].side == tasks
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per map (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (default 5)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    plain, bridges = make_trees(root)
    # The workers see the plain package through PYTHONPATH, as a deployment would.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(plain)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    sys.path.insert(0, str(plain))

    import warnings

    import distributed
    from distributed import Client, LocalCluster

    import bridgeimport as bi
    import bridgeimport.dask

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with warnings.catch_warnings():  # "workers started before this mount": known here
            warnings.simplefilter("ignore", bi.BridgeImportWarning)
            bi.mount("benchshapes", bridges)  # after the workers started: the plugin mounts
        bridgeimport.dask.register(client)
        import benchshapes.shapes
        import stockshapes.shapes
        modules = {"stock": stockshapes.shapes, "bridgeimport": benchshapes.shapes}
        for module in modules.values():  # warm up: imports done, connections open
            one_round(client, module, 200)
        times = {name: [] for name in modules}
        for _ in range(args.rounds):
            for name, module in modules.items():
                times[name].append(one_round(client, module, args.tasks))

    tasks = 2 * args.tasks
    rate = {name: tasks / statistics.median(t) for name, t in times.items()}
    size = {name: len(pickle.dumps(m.Square(3))) for name, m in modules.items()}
    print(f"dask/distributed {distributed.__version__}, Python {sys.version.split()[0]}, "
          f"2 workers x 1 thread, {tasks} tasks a round, median of {args.rounds} rounds")
    print(f"{'':14}{'tasks/s':>10}{'pickled Square':>16}")
    for name in modules:
        print(f"{name:14}{rate[name]:>10.0f}{size[name]:>13} B")
    print(f"ratio bridgeimport/stock (tasks/s): {rate['bridgeimport'] / rate['stock']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
