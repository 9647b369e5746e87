"""Pickling bridgeimport's loader, and so a bridge module's __spec__, as the
stock loaders pickle (issue 16, part 4): the state is the loader's name,
path and options; unpickled, it is a fresh Loader for the same file, in a
process where a mount serves the name or not. By-value pickling (cloudpickle)
of a bridge module's functions ships their globals, __loader__ and
__spec__ included, and so depends on it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import bridgeimport as bi
# Loaded at collection, so in sys.modules before any test's import_state
# snapshot (conftest.py), which would otherwise drop it after the first test
# that activates the package: pickle looks the Loader class up there.
from bridgeimport import _native  # noqa: F401


@pytest.fixture
def geo(tmp_path, pkgname):
    d = tmp_path / "shapes"
    d.mkdir()
    (d / "geo.py").write_text(textwrap.dedent("""
        class Shape:
            def __init__(self, n):
                self.n = n
        def describe(shape):
            return f"{__loader__.get_filename()}: {shape.n * 2}"
        """))
    bi.mount(pkgname, d)
    return bi.load(f"{pkgname}.geo")


def child(code: str, data: bytes) -> subprocess.CompletedProcess:
    """A fresh interpreter with no mounts, given `data` on stdin."""
    # Not clean_env(): that drops PYTHONPATH, which `make sanitize` finds the package by.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=data,
                          capture_output=True, env=env, timeout=60)


def test_a_spec_round_trips_with_a_fresh_loader_for_the_same_file(geo):
    spec = pickle.loads(pickle.dumps(geo.__spec__))
    loader = spec.loader
    assert type(loader) is type(geo.__loader__) and loader is not geo.__loader__
    assert (spec.name, spec.origin, loader.name, loader.path) == (
        geo.__name__, geo.__file__, geo.__name__, geo.__file__)
    assert loader.get_source(geo.__name__) == geo.__loader__.get_source(geo.__name__)
    assert loader.source_stamp is None  # fresh: it has executed nothing
    assert not loader.is_package(geo.__name__)


def test_a_mount_package_loader_round_trips(geo):
    package = sys.modules[geo.__name__.rpartition(".")[0]]
    loader = pickle.loads(pickle.dumps(package.__spec__)).loader
    assert loader.is_package(package.__name__) and loader.path is None
    assert repr(loader) == repr(package.__loader__)


def test_an_unpickled_spec_runs_its_module_where_nothing_is_mounted(geo):
    r = child("""
        import importlib.util, pickle, sys
        spec = pickle.load(sys.stdin.buffer)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(type(spec.loader).__qualname__, module.describe(module.Shape(21)))
        """, pickle.dumps(geo.__spec__))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split() == ["Loader", f"{geo.__file__}:", "42"]


def test_a_state_of_another_kind_is_a_value_error(geo):
    Loader = type(geo.__loader__)
    for state in [(), ("source", "m"), ("package", 1, []), ("other", "m", "/x"),
                  ("source", "m", "/x", False, False, False, "not a list")]:
        blank = Loader.__new__(Loader)
        with pytest.raises(ValueError, match="cannot unpickle a Loader"):
            blank.__setstate__(state)


def test_by_value_pickling_of_a_bridge_module_runs_in_a_worker_without_the_mount(geo):
    cloudpickle = pytest.importorskip("cloudpickle")  # deps/dev-requirements.txt
    cloudpickle.register_pickle_by_value(geo)
    try:
        data = cloudpickle.dumps((geo.describe, geo.Shape(5)))
    finally:
        cloudpickle.unregister_pickle_by_value(geo)
    r = child("""
        import pickle, sys
        describe, shape = pickle.load(sys.stdin.buffer)
        print(describe(shape))
        """, data)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == f"{geo.__file__}: 10"
