"""A bridge module's code runs once however many threads reach it, and how."""

from __future__ import annotations

import importlib
import sys
import threading

import bridgeimport as bi

from conftest import counted, run_on_threads

THREADS = 24


def test_every_import_style_executes_each_module_once(tree, pkgname, executions):
    # An acyclic graph with a package. (A package whose __init__ imports its
    # own child, imported while another thread imports that child directly,
    # is a lock-order inversion CPython itself reports as _DeadlockError with
    # stock modules too; bridgeimport uses the same locks, so it is not here.)
    bi.mount(pkgname, tree({
        "base.py": counted("base"),
        "mid.py": counted("mid", f"from {pkgname} import base\n"),
        "top.py": counted("top", f"import {pkgname}.mid\nfrom {pkgname}.pkg import leaf\n"),
        "pkg/__init__.py": counted("pkg", f"from {pkgname} import base\n"),
        "pkg/leaf.py": counted("leaf", f"from {pkgname} import base\n"),
        "key_bridge.py": counted("key", f"import {pkgname}.top\n"),
    }))
    reg = bi.Registry(pkgname, pattern="*.py")
    names = [f"{pkgname}.{n}" for n in ("base", "mid", "top", "pkg", "pkg.leaf", "key_bridge")]

    def style(i):
        name = names[i % len(names)]
        kind = i % 4
        if kind == 0:
            namespace = {}
            exec(f"import {name}", namespace)
            return sys.modules[name]
        if kind == 1:
            return importlib.import_module(name)
        if kind == 2:
            return bi.load(name)
        return reg.get(name[len(pkgname) + 1:])

    results, errors = run_on_threads(style, THREADS)
    assert not errors, errors
    assert sorted(executions) == sorted(["base", "mid", "top", "pkg", "leaf", "key"])
    for i, module in enumerate(results):
        assert module is sys.modules[names[i % len(names)]]


def test_plain_import_and_load_share_module_locks(tree, pkgname, executions):
    bi.mount(pkgname,
             tree({"slow.py": counted("slow", "import time\ntime.sleep(0.2)\nDONE = True\n")}))

    def style(i):
        module = bi.load(f"{pkgname}.slow") if i % 2 else importlib.import_module(f"{pkgname}.slow")
        return module.DONE  # never a partially initialised module

    results, errors = run_on_threads(style, 16)
    assert not errors, errors
    assert results == [True] * 16
    assert executions == ["slow"]


def cross_import_outcome(import_a, import_b):
    """Thread a imports A; 0.1 s later thread b imports B. A imports B and B
    imports A, both after a sleep, so the two imports really cross."""
    outcome = {}

    def one(label, fn):
        try:
            module = fn()
            outcome[label] = ("ok", module.SAW)
        except BaseException as exc:
            outcome[label] = ("error", type(exc).__name__)

    ta = threading.Thread(target=one, args=("a", import_a), daemon=True)
    tb = threading.Thread(target=one, args=("b", import_b), daemon=True)
    ta.start()
    threading.Event().wait(0.1)  # ordering only; nothing is timed
    tb.start()
    ta.join(60)
    tb.join(60)
    assert not ta.is_alive() and not tb.is_alive(), "cross import hung"
    return outcome


def test_two_threads_importing_each_other_behave_as_cpython(tree, pkgname, tmp_path):
    body = ("import time\n{me}_START = 1\ntime.sleep(0.3)\nfrom {p} import {other}\n"
            "SAW = sorted(k for k in vars({other}) if k.endswith(('_START', '_END')))\n"
            "{me}_END = 1\n")
    files = {"mod_a.py": body.replace("{me}", "A").replace("{other}", "mod_b"),
             "mod_b.py": body.replace("{me}", "B").replace("{other}", "mod_a")}
    stock_pkg = f"{pkgname}_stock"
    stock_root = tmp_path / "stock"
    (stock_root / stock_pkg).mkdir(parents=True)
    (stock_root / stock_pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (stock_root / stock_pkg / name).write_text(text.format(p=stock_pkg))
    sys.path.insert(0, str(stock_root))
    importlib.import_module(stock_pkg)
    stock = cross_import_outcome(lambda: importlib.import_module(f"{stock_pkg}.mod_a"),
                                 lambda: importlib.import_module(f"{stock_pkg}.mod_b"))
    # The imports crossed: one side saw the other partially initialised, or
    # the interpreter refused the cycle with an error.
    assert ("ok", ["A_START"]) in stock.values() or ("ok", ["B_START"]) in stock.values() \
        or any(kind == "error" for kind, _ in stock.values()), stock
    bi.mount(pkgname, tree({n: t.format(p=pkgname) for n, t in files.items()}))
    bi.load(pkgname)
    ours = cross_import_outcome(lambda: bi.load(f"{pkgname}.mod_a"),
                                lambda: importlib.import_module(f"{pkgname}.mod_b"))
    assert ours == stock


def test_registry_get_from_many_threads(tree, pkgname, executions):
    bi.mount(pkgname, tree({f"m{i}_bridge.py": counted(f"m{i}") for i in range(4)}),
             pattern="*_bridge.py")
    reg = bi.Registry(pkgname)
    results, errors = run_on_threads(lambda i: reg.get(f"m{i % 4}"), THREADS)
    assert not errors, errors
    assert sorted(executions) == ["m0", "m1", "m2", "m3"]
    assert all(r is sys.modules[f"{pkgname}.m{i % 4}_bridge"] for i, r in enumerate(results))
