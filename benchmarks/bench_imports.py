#!/usr/bin/env python3
"""bridgeimport against stock importlib: see bridgeimport/cli/_bench.py.

    .venv/bin/python benchmarks/bench_imports.py --scales 100,1000,10000 --reps 5
"""
import sys

from bridgeimport.cli import _bench

if __name__ == "__main__":
    sys.exit(_bench.main())
