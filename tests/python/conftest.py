"""Shared fixtures: isolated bridge trees and a clean import state per test."""

from __future__ import annotations

import builtins
import itertools
import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path
from typing import Dict

import pytest

import bridgeimport as bi

_counter = itertools.count()


def counted(tag: str, extra: str = "") -> str:
    """Source that records one execution under `tag` (in the list the
    `executions` fixture yields), sleeping to widen races."""
    return ("import builtins, time\n"
            f"builtins.__dict__.setdefault('_bt_exec', []).append({tag!r})\n"
            "time.sleep(0.02)\n" + extra)


@pytest.fixture
def executions():
    builtins.__dict__["_bt_exec"] = []
    yield builtins.__dict__["_bt_exec"]
    builtins.__dict__.pop("_bt_exec", None)


def run_on_threads(target, count: int, timeout: float = 60):
    """Runs target(i) on `count` threads released together by a barrier;
    returns (results, errors), errors as (i, exception). A thread still
    running after `timeout` fails the test as a deadlock."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def body(i):
        try:
            barrier.wait(timeout=timeout)
            results[i] = target(i)
        except BaseException as exc:  # judged by the caller
            errors.append((i, exc))

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    hung = [t for t in threads if t.is_alive()]
    assert not hung, f"{len(hung)} of {count} threads still running after {timeout}s: deadlock"
    return results, errors

# The children of the exit tests (daemon threads still importing when the
# interpreter exits). CPython 3.13's free-threaded build can hang there,
# bridgeimport or not: a daemon thread that is handed a dict's lock (PyMutex
# hand-off) while detached cannot attach again once finalisation has begun,
# and keeps the lock; finalize_remove_modules then waits for sys.modules' lock
# forever. Stock importlib on 3.13.15t, four daemon threads importing: 3 hangs
# in 20 runs with the GIL off, 1 in 90 with -X gil=1 on a loaded machine. So
# there the children keep the GIL on (what the tests check, bridgeimport's
# frames when daemon threads are stopped, is the same with it), and a child
# that hangs is run again, twice at most; a crash or a line on stderr never is.
FREE_THREADED_BUILD = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
EXIT_CHILD_FLAGS = ["-X", "gil=1"] if FREE_THREADED_BUILD else []


def run_exit_child(run_once, timeout=60):
    """run_once(timeout) -> CompletedProcess, again after a hang on a
    free-threaded build (see EXIT_CHILD_FLAGS)."""
    tries = 3 if FREE_THREADED_BUILD else 1
    for attempt in range(tries):
        try:
            return run_once(20 if FREE_THREADED_BUILD else timeout)
        except subprocess.TimeoutExpired:
            if attempt == tries - 1:
                raise


def write_tree(root: Path, files: Dict[str, str]) -> Path:
    """Writes {relative path: source} under root (dedented); returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def pkgname() -> str:
    """A package name no other test uses, so module state never leaks."""
    return f"bt{os.getpid()}_{next(_counter)}"


@pytest.fixture(autouse=True)
def import_state():
    """Restores sys.modules, sys.path, meta_path, path hooks and mounts."""
    modules = dict(sys.modules)
    path = list(sys.path)
    meta_path = list(sys.meta_path)
    path_hooks = list(sys.path_hooks)
    mounted = {m.package for m in bi.mounts()}
    yield
    for m in bi.mounts():
        if m.package not in mounted:
            bi.unmount(m.package)
    for name in list(sys.modules):
        if name not in modules:
            del sys.modules[name]
    sys.modules.update(modules)
    sys.path[:] = path
    sys.meta_path[:] = meta_path
    sys.path_hooks[:] = path_hooks
    sys.path_importer_cache.clear()


@pytest.fixture
def tree(tmp_path: Path):
    """write_tree bound to a fresh directory: tree({'a.py': '...'}) -> Path."""

    def make(files: Dict[str, str], sub: str = "bridges") -> Path:
        return write_tree(tmp_path / sub, files)

    return make
