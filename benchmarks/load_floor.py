#!/usr/bin/env python3
"""The parts of one warm bridge load, measured separately (microseconds).

    .venv/bin/python benchmarks/load_floor.py

Generates 1,000 small modules (docs/design.md section 11), warms their pycs, then
times each step of a load in isolation with timeit (best of 5): the import
system's module lock, the finder's hit, a ModuleSpec, reading and
unmarshalling the pyc (get_code), and executing the code. The sum of lock,
get_code and exec is the floor any loader that shares CPython's locks pays;
the README compares it with stock importlib.import_module.
"""

import os
import shutil
import sys
import tempfile
import timeit

import importlib._bootstrap as bootstrap
import importlib.machinery as machinery

import bridgeimport as bi
from bridgeimport import _native

N = 20000


def per_call(stmt, env):
    return min(timeit.repeat(stmt, globals=env, number=N, repeat=5)) / N * 1e6


def main():
    root = tempfile.mkdtemp(prefix="bridgeimport-floor-")
    try:
        for i in range(1000):
            path = os.path.join(root, f"m{i:04d}.py")
            with open(path, "w") as f:
                f.write(f"VALUE = {i}\n\n\ndef f(x):\n    return x + VALUE\n")
            os.utime(path, (1_000_000_000, 1_000_000_000))
        sys.dont_write_bytecode = False
        bi.mount("floor_bench", root)
        bi.load("floor_bench.m0001")  # writes its pyc
        pkg = sys.modules["floor_bench"]
        spec = _native.finder.find_spec("floor_bench.m0001", pkg.__path__)
        code = spec.loader.get_code("floor_bench.m0001")
        env = dict(b=bootstrap, f=_native.finder.find_spec, pkg=pkg, m=machinery,
                   spec=spec, code=code, builtins=__builtins__)
        rows = [
            ("module lock (_get_module_lock + acquire + release)",
             per_call("l = b._get_module_lock('floor_bench.m0001'); l.acquire(); l.release()",
                      env)),
            ("finder hit (find_spec)", per_call("f('floor_bench.m0001', pkg.__path__)", env)),
            ("ModuleSpec() alone", per_call(
                "m.ModuleSpec('x.y', None, origin='/a/b.py', is_package=False)", env)),
            ("get_code: stat source, read + validate + unmarshal pyc",
             per_call("spec.loader.get_code('floor_bench.m0001')", env)),
            ("exec(code) in a fresh namespace",
             per_call("exec(code, {'__builtins__': builtins})", env)),
        ]
        print(f"Python {sys.version.split()[0]}; one warm load of a small module, in µs:")
        for label, value in rows:
            print(f"  {label:<58} {value:6.2f}")
        floor = rows[0][1] + rows[3][1] + rows[4][1]
        print(f"  {'floor: lock + get_code + exec':<58} {floor:6.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
