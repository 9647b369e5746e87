"""Which bridge modules a module's execution imported."""

from __future__ import annotations

import builtins
import importlib

import pytest

import bridgeimport as bi


@pytest.fixture
def graph_tree(tree, pkgname):
    p = pkgname
    bi.mount(p, tree({
        "leaf.py": "X = 1\n",
        "other.py": "Y = 2\n",
        "late.py": "Z = 3\n",
        "dyn.py": "",
        "via_load.py": "",
        "sub/__init__.py": "",
        "sub/inner.py": "",
        "user.py": (f"import {p}.leaf\n"
                    f"from {p}.other import Y\n"
                    "from .sub import inner\n"
                    "import json\n"
                    "def helper():\n    from . import late\n"
                    "helper()\n"
                    "def unused():\n    import " + p + ".dyn\n"
                    "import importlib\nimportlib.import_module('" + p + ".dyn')\n"
                    "import bridgeimport\nbridgeimport.load('" + p + ".via_load')\n"),
    }))
    bi.load(f"{p}.leaf")  # already loaded before user runs: still recorded
    return p


def graph_tree_dir(p):
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp())
    (d / "probe.py").write_text("import builtins\nDURING = builtins.__import__\n")
    return d


def test_direct_dependencies_of_every_import_form(graph_tree):
    p = graph_tree
    bi.load(f"{p}.user")
    # `from .sub import inner` binds the submodule only: p.sub is not one.
    assert bi.dependencies(f"{p}.user") == sorted([
        f"{p}.leaf", f"{p}.other", f"{p}.sub.inner", f"{p}.late",
        f"{p}.dyn", f"{p}.via_load"])
    assert bi.dependents(f"{p}.leaf") == [f"{p}.user"]
    assert bi.dependencies(f"{p}.leaf") == []
    from bridgeimport import _native

    graph = _native.dependency_graph()
    assert graph[f"{p}.user"] == bi.dependencies(f"{p}.user") and graph[f"{p}.leaf"] == []


def test_import_hook_is_only_there_while_bridges_execute(graph_tree):
    from bridgeimport import _native

    original = builtins.__import__
    assert original is not _native.import_hook
    bi.mount(f"{graph_tree}_probe", graph_tree_dir(graph_tree))
    probe = bi.load(f"{graph_tree}_probe.probe")
    assert probe.DURING is _native.import_hook  # wrapped while a bridge executes
    assert builtins.__import__ is original       # and restored afterwards


def test_failed_execution_commits_nothing_and_reload_rerecords(tree, pkgname):
    d = tree({"a.py": "", "b.py": "", "m.py": f"from {pkgname} import a\n"})
    bi.mount(pkgname, d)
    m = bi.load(f"{pkgname}.m")
    assert bi.dependencies(f"{pkgname}.m") == [f"{pkgname}.a"]
    (d / "m.py").write_text(f"from {pkgname} import b\n")
    bi.reload(m)
    assert bi.dependencies(f"{pkgname}.m") == [f"{pkgname}.b"]
    (d / "m.py").write_text(f"from {pkgname} import a\nraise RuntimeError('x')\n")
    with pytest.raises(RuntimeError):
        bi.reload(m)
    assert bi.dependencies(f"{pkgname}.m") == [f"{pkgname}.b"]


def test_user_replacing_import_during_exec_is_respected(tree, pkgname):
    calls = []
    bi.mount(pkgname, tree({
        "a.py": "",
        "patcher.py": ("import builtins\n_orig = builtins.__import__\n"
                       "def traced(*args, **kwargs):\n"
                       "    CALLS.append(args[0])\n    return _orig(*args, **kwargs)\n"
                       "builtins.__import__ = traced\n"
                       f"from {pkgname} import a\n"),
    }))
    original = builtins.__import__
    builtins.CALLS = calls
    try:
        bi.load(f"{pkgname}.patcher")
        assert builtins.__import__.__name__ == "traced"  # theirs stays in place
        import json  # noqa: F401  (still works through the chain)
        assert "json" in calls
        assert bi.dependencies(f"{pkgname}.patcher") == [f"{pkgname}.a"]
    finally:
        builtins.__import__ = original
        del builtins.CALLS
    # Their undo put back the __import__ we wrap: recording works again.
    later = tree({"later.py": f"from {pkgname} import a\n"}, sub="later")
    bi.find_mount(pkgname).add_directory(later)
    bi.load(f"{pkgname}.later")
    assert bi.dependencies(f"{pkgname}.later") == [f"{pkgname}.a"]
    assert builtins.__import__ is original


def test_reload_api(tree, pkgname):
    d = tree({"r.py": "V = 1\n", "p/__init__.py": "from . import child\nV = 1\n",
              "p/child.py": ("import builtins\n"
                             "builtins.__dict__.setdefault('_bt_child', []).append(1)\n")})
    bi.mount(pkgname, d)
    r = bi.load(f"{pkgname}.r")
    (d / "r.py").write_text("V = 2\n")
    assert bi.reload(f"{pkgname}.r") is r and r.V == 2
    with pytest.raises(TypeError):
        bi.reload(importlib.import_module("json"))
    with pytest.raises(bi.BridgeNotFoundError):
        bi.reload(f"{pkgname}.never_loaded")
    try:
        pkg = bi.load(f"{pkgname}.p")
        (d / "p" / "__init__.py").write_text("from . import child\nV = 2\n")
        assert bi.reload(pkg).V == 2
        assert builtins._bt_child == [1]  # the package's __init__ only
    finally:
        builtins.__dict__.pop("_bt_child", None)


def test_reload_matches_cpython_for_old_instances(tree, pkgname):
    d = tree({"k.py": "class K:\n    pass\nONE = K()\n"})
    bi.mount(pkgname, d)
    k = bi.load(f"{pkgname}.k")
    old_class, old = k.K, k.ONE
    bi.reload(k)
    # As with importlib.reload: a new class object; old instances keep theirs.
    assert k.K is not old_class
    assert isinstance(old, old_class) and not isinstance(old, k.K)
    assert isinstance(k.ONE, k.K)


def test_from_import_records_the_submodule_or_the_package(tree, pkgname):
    p = pkgname
    bi.mount(p, tree({
        "pkg/__init__.py": "CONST = 1\nfrom . import shadowed\nshadowed = 'not the module'\n",
        "pkg/sub.py": "",
        "pkg/shadowed.py": "",
        "takes_sub.py": f"from {p}.pkg import sub\n",
        "takes_const.py": f"from {p}.pkg import CONST\n",
        "takes_shadowed.py": f"from {p}.pkg import shadowed\n",
        "takes_star.py": f"from {p}.pkg.sub import *\n",
    }))
    for m in ("takes_sub", "takes_const", "takes_shadowed", "takes_star"):
        bi.load(f"{p}.{m}")
    assert bi.dependencies(f"{p}.takes_sub") == [f"{p}.pkg.sub"]
    assert bi.dependencies(f"{p}.takes_const") == [f"{p}.pkg"]
    # pkg.shadowed is loaded, but the name binds the package's own attribute.
    assert bi.dependencies(f"{p}.takes_shadowed") == [f"{p}.pkg"]
    assert bi.dependencies(f"{p}.takes_star") == [f"{p}.pkg.sub"]
