"""Import-system details that changed between CPython 3.9 and 3.13, checked
against bridge modules (make test-matrix runs this on every version):
LazyLoader (3.12 added its lock and __class__ switch under it), module-lock
deadlock detection between threads (rewritten in 3.12), and the absence of
find_module/load_module (removed from importlib's fallbacks in 3.12)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading

import bridgeimport as bi


def test_lazy_loader_defers_and_executes_a_bridge_once(tree, pkgname):
    bi.mount(pkgname, tree({"lazy.py": (
        "import builtins\n"
        "builtins._bi_lazy_runs = getattr(builtins, '_bi_lazy_runs', 0) + 1\n"
        "VALUE = 42\n")}))
    import builtins

    builtins._bi_lazy_runs = 0
    try:
        name = f"{pkgname}.lazy"
        importlib.import_module(pkgname)
        spec = importlib.util.find_spec(name)
        assert type(spec.loader).__module__ == "bridgeimport._native"
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        assert builtins._bi_lazy_runs == 0  # nothing ran yet
        assert module.VALUE == 42
        assert builtins._bi_lazy_runs == 1
        assert module.VALUE == 42 and builtins._bi_lazy_runs == 1
    finally:
        del builtins._bi_lazy_runs


def test_circular_imports_from_two_threads_resolve_as_cpython_does(tree, pkgname):
    # a imports b and b imports a; each thread starts with one of them. The
    # module locks make one thread detect the deadlock and take the partially
    # initialised module, as CPython does for any module: both must finish.
    bi.mount(pkgname, tree({
        "a.py": f"import time\ntime.sleep(0.2)\nimport {pkgname}.b\nA = 1\n",
        "b.py": f"import time\ntime.sleep(0.2)\nimport {pkgname}.a\nB = 2\n",
    }))
    importlib.import_module(pkgname)
    errors = []

    def run(how, name):
        try:
            how(f"{pkgname}.{name}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for how in (importlib.import_module, bi.load):
        for n in ("a", "b"):
            sys.modules.pop(f"{pkgname}.{n}", None)
        threads = [threading.Thread(target=run, args=(how, n)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), f"{how.__name__}: threads hang"
        assert errors == [], f"{how.__name__}: {errors!r}"
        a, b = sys.modules[f"{pkgname}.a"], sys.modules[f"{pkgname}.b"]
        assert (a.A, b.B) == (1, 2)


def test_import_needs_no_find_module_or_load_module(tree, pkgname):
    bi.mount(pkgname, tree({"m.py": "X = 1\n"}))
    assert not hasattr(bi.Finder, "find_module")
    # Without find_module, 3.9-3.11 could not fall back to it: find_spec and
    # exec_module alone did this import on every version.
    assert importlib.import_module(f"{pkgname}.m").X == 1
