"""PEP 810 lazy imports (CPython 3.15+) of bridge modules: a lazy binding
reifies to the one module object, once across threads; a failing module rolls
back at reification as at a plain import; a lazy statement counts as a
dependency from the statement on (loader/load_frame.cc wraps
builtins.__lazy_import__ while bridges execute, as it wraps __import__), so
transactions retire and restore what they would with eager imports.

`lazy` is a SyntaxError before 3.15: statements live in strings run at module
level (module_level) or in bridge files the tests write, and the module is
skipped where the syntax does not compile. What 3.15.2 does and the tests rely
on: the statement calls builtins.__lazy_import__ and binds a
types.LazyImportType proxy (`from a import b` binds a loaded a's b at once); a
global read of the proxy, or a module attribute read, reifies it through the
import system and replaces it in place, reading the namespace dict does not; a
failed reification raises the module's own error, its __cause__ an ImportError
naming the lazy import, and leaves the proxy for a retry; `-X
lazy_imports=all` makes module-level imports outside try/except lazy; a
module's `__lazy_modules__` names the modules whose imports are lazy there.
"""

from __future__ import annotations

import builtins
import importlib
import json
import subprocess
import sys
import textwrap
import types

import pytest

import bridgeimport as bi
from bridgeimport import _native
from conftest import counted, run_on_threads

try:
    compile("lazy import json\n", "<lazy probe>", "exec")
    LazyImportType = types.LazyImportType
except (SyntaxError, AttributeError):
    pytest.skip("this interpreter has no lazy imports (PEP 810)", allow_module_level=True)


def module_level(code: str, ns: dict | None = None) -> dict:
    """Runs `code` at module level (where `lazy` is allowed) in `ns`."""
    ns = {"__name__": "lazy_driver"} if ns is None else ns
    exec(compile(textwrap.dedent(code), "<lazy driver>", "exec"), ns)
    return ns


def test_lazy_import_runs_nothing_until_first_use_then_is_the_one_module(
        tree, pkgname, executions):
    p = pkgname
    bi.mount(p, tree({"x.py": counted("x"), "y.py": counted("y"), "z.py": counted("z")}))
    ns = module_level(f"lazy import {p}.x\nlazy from {p} import y\nlazy import {p}.z as zed\n")
    assert executions == []
    assert not {f"{p}.x", f"{p}.y", f"{p}.z"} & set(sys.modules)
    assert all(type(ns[k]) is LazyImportType for k in (p, "y", "zed"))

    module_level(f"X = {p}.x\nY = y\nZ = zed\n", ns)
    assert sorted(executions) == ["x", "y", "z"]
    for key, name in (("X", "x"), ("Y", "y"), ("Z", "z")):
        module = ns[key]
        assert module is sys.modules[f"{p}.{name}"]
        assert module is bi.load(f"{p}.{name}") is importlib.import_module(f"{p}.{name}")
        assert isinstance(module.__spec__.loader, bi.Loader)
    assert ns["y"] is ns["Y"] and ns["zed"] is ns["Z"]  # reified in place
    assert sorted(executions) == ["x", "y", "z"]


def test_lazy_import_inside_a_bridge_module_defers_its_target(tree, pkgname, executions):
    p = pkgname
    bi.mount(p, tree({"dep.py": counted("dep", "VALUE = 7\n"),
                      "user.py": f"lazy from {p} import dep\ndef get():\n    return dep\n"}))
    user = bi.load(f"{p}.user")
    assert executions == [] and f"{p}.dep" not in sys.modules
    assert type(vars(user)["dep"]) is LazyImportType
    dep = user.get()
    assert dep is sys.modules[f"{p}.dep"] is bi.load(f"{p}.dep") and dep.VALUE == 7
    assert vars(user)["dep"] is dep and executions == ["dep"]


def test_bi_load_of_a_pending_lazy_name_settles_it_as_a_plain_import_does(tree, pkgname):
    # _bootstrap._find_and_load_unlocked calls _imp._set_lazy_attributes(),
    # which takes the name out of sys.lazy_modules; bi.load's native path
    # does the same.
    p = pkgname
    bi.mount(p, tree({"viaload.py": "", "viaimport.py": ""}))
    ns = module_level(f"lazy from {p} import viaload, viaimport\n")
    assert {f"{p}.viaload", f"{p}.viaimport"} <= sys.lazy_modules
    loaded = bi.load(f"{p}.viaload")
    imported = importlib.import_module(f"{p}.viaimport")
    assert f"{p}.viaimport" not in sys.lazy_modules
    assert f"{p}.viaload" not in sys.lazy_modules
    module_level("A = viaload\nB = viaimport\n", ns)
    assert ns["A"] is loaded and ns["B"] is imported


@pytest.mark.parametrize("round_", range(4))
def test_reification_from_many_threads_executes_the_module_once(
        tree, pkgname, executions, round_):
    p = pkgname
    bi.mount(p, tree({"shared.py": counted("shared",
                                           "import time\ntime.sleep(0.1)\nDONE = True\n")}))
    # Several namespaces, each with its own proxy for the same module, plus
    # threads going through bi.load and import_module at the same instant.
    drivers = [module_level(f"lazy from {p} import shared\ndef get():\n    return shared\n",
                            {"__name__": f"lazy_driver_{i}"}) for i in range(4)]
    def get(i):
        kind = i % 6
        if kind == 4:
            module = bi.load(f"{p}.shared")
        elif kind == 5:
            module = importlib.import_module(f"{p}.shared")
        else:
            module = drivers[kind]["get"]()
        return (module, module.DONE)  # never a partial module

    results, errors = run_on_threads(get, 16)
    assert not errors, errors
    assert executions == ["shared"]
    module = sys.modules[f"{p}.shared"]
    assert all(r == (module, True) for r in results)
    assert all(d["shared"] is module for d in drivers)  # each proxy reified in place


def test_failed_reification_names_the_file_rolls_back_and_retries(tree, pkgname):
    p = pkgname
    d = tree({"bad.py": "import builtins\nbuiltins._bt_lazy_half = True\n"
                        "raise RuntimeError('bad module body')\n"})
    bi.mount(p, d)
    ns = module_level(f"lazy from {p} import bad\nlazy import {p}.bad as bad2\n")
    proxy = ns["bad"]
    try:
        with pytest.raises(RuntimeError, match="bad module body") as info:
            module_level("bad\n", ns)
        # bridgeimport's note names the file; CPython's cause names the import.
        assert any(str(d / "bad.py") in n and "rolled back" in n for n in info.value.__notes__)
        assert isinstance(info.value.__cause__, ImportError)
        assert f"{p}.bad" in str(info.value.__cause__)
        assert builtins._bt_lazy_half is True  # it did run, and was rolled back:
        assert f"{p}.bad" not in sys.modules
        assert "bad" not in vars(sys.modules[p])
        assert ns["bad"] is proxy  # still pending: the next use tries again
        with pytest.raises(RuntimeError, match="bad module body"):
            module_level("bad2\n", ns)
        assert f"{p}.bad" not in sys.modules
    finally:
        builtins.__dict__.pop("_bt_lazy_half", None)

    (d / "bad.py").write_text("FIXED = 'yes, fixed now'\n")
    module_level("fixed = bad\nfixed2 = bad2\n", ns)
    assert ns["fixed"] is ns["fixed2"] is sys.modules[f"{p}.bad"] is bi.load(f"{p}.bad")
    assert ns["fixed"].FIXED == "yes, fixed now"
    assert vars(sys.modules[p])["bad"] is ns["fixed"]


def test_lazy_statements_count_as_dependencies_from_the_statement_on(tree, pkgname):
    # A lazy import is reified after its module's execution (here: never
    # during it), so the import hook never sees it; the statement itself is
    # recorded, in the graph that dependents() and transactions read.
    # dependencies() keeps listing what the execution imported or bound.
    p = pkgname
    bi.mount(p, tree({
        "leaf.py": "X = 1\n", "other.py": "", "sub/__init__.py": "", "sub/inner.py": "",
        "explicit.py": f"lazy from {p} import leaf\nlazy import {p}.sub.inner\n",
        # __lazy_modules__ names the module imported from (PEP 810)
        "listed.py": f"__lazy_modules__ = [{p!r}]\nfrom {p} import other\n",
        "relative.py": "lazy from .sub import inner\n",
    }))
    for name, bound in (("explicit", ("leaf", p)), ("listed", ("other",)),
                        ("relative", ("inner",))):
        module = bi.load(f"{p}.{name}")
        assert all(type(vars(module)[k]) is LazyImportType for k in bound), name
    assert not {f"{p}.leaf", f"{p}.other", f"{p}.sub.inner"} & set(sys.modules)
    for name in ("leaf", "other", "sub.inner"):
        bi.load(f"{p}.{name}")
    assert bi.dependents(f"{p}.leaf") == [f"{p}.explicit"]
    assert bi.dependents(f"{p}.other") == [f"{p}.listed"]
    assert bi.dependents(f"{p}.sub.inner") == sorted([f"{p}.explicit", f"{p}.relative"])
    assert _native.dependents_closure([f"{p}.leaf"]) == [f"{p}.explicit"]
    assert bi.dependencies(f"{p}.explicit") == []  # nothing was imported while it ran


def test_a_lazy_import_bound_at_once_is_an_ordinary_dependency(tree, pkgname):
    # A lazy import of a loaded module, or one the lazy-imports filter keeps
    # eager, binds the module during the execution: dependencies() lists it
    # as it lists a plain import.
    p = pkgname
    bi.mount(p, tree({"loaded.py": "", "eager.py": "", "sub/__init__.py": "", "sub/leaf.py": "",
                      "user.py": f"lazy from {p} import loaded\nlazy from {p} import eager\n"
                                 f"lazy from {p}.sub import leaf\n"}))
    bi.load(f"{p}.loaded")
    bi.load(f"{p}.sub")
    previous = sys.get_lazy_imports_filter()
    sys.set_lazy_imports_filter(lambda importer, name, fromlist: fromlist != ("eager",))
    try:
        user = bi.load(f"{p}.user")
    finally:
        sys.set_lazy_imports_filter(previous)
    assert vars(user)["loaded"] is sys.modules[f"{p}.loaded"]
    assert vars(user)["eager"] is sys.modules[f"{p}.eager"]
    assert type(vars(user)["leaf"]) is LazyImportType
    assert bi.dependencies(f"{p}.user") == sorted([f"{p}.eager", f"{p}.loaded"])
    bi.load(f"{p}.sub.leaf")
    assert bi.dependents(f"{p}.sub.leaf") == [f"{p}.user"]
    assert bi.dependents(f"{p}.sub") == []  # sub was loaded: leaf is a submodule


GLOBAL_MODE_CHILD = """
import importlib, json, sys, time, types
import bridgeimport as bi
P, D = sys.argv[1], sys.argv[2]
L = types.LazyImportType
out = {"mode": sys.get_lazy_imports()}
def state():
    return {k: id(v) for k, v in sys.modules.items() if k == P or k.startswith(P + ".")}
bi.mount(P, D)
user = bi.load(P + ".user")
out["after_load"] = sorted(state())
out["helper_pending"] = type(vars(user)["helper"]) is L
out["dependents_of_helper"] = bi.dependents(P + ".helper")

# 1. A dependency reified after the transaction ended.
with bi.transaction(P, mode="all") as tx:
    fresh = importlib.import_module(P + ".user")
out["tx1"] = [tx.state, tx.retired, tx.reloaded, tx.loaded]
out["tx1_after_commit"] = sorted(state())
out["run1"] = fresh.run()
out["tx1_later"] = [tx.reloaded, tx.loaded, sorted(state())]

# 2. A failing transaction whose body reified the lazy imports.
before = state()
try:
    with bi.transaction(P, mode="all") as tx:
        importlib.import_module(P + ".user").run()
        out["tx2_body"] = sorted(k for k in state() if state()[k] != before.get(k))
        raise KeyError("body fails")
except KeyError:
    pass
out["tx2"] = [tx.state, tx.reloaded, tx.loaded]
out["tx2_restored_exactly"] = state() == before
old_user = sys.modules[P + ".user"]
out["tx2_old_user_sees_restored"] = (
    vars(old_user)["helper"] is sys.modules[P + ".helper"]
    and vars(sys.modules[P + ".helper"])["core"] is sys.modules[P + ".core"])

# 3. Only core changes: its lazy dependents, reified after their own
#    execution, must be retired with it.
time.sleep(0.01)
with open(D + "/core.py", "w") as f:
    f.write("VALUE = 'core-2, edited'\\n")
with bi.transaction(P, mode="changed") as tx:
    pass
out["tx3"] = [tx.changed, tx.retired]
out["run3"] = sys.modules[P + ".user"].run() if P + ".user" in sys.modules else \\
    importlib.import_module(P + ".user").run()
print(json.dumps(out))
"""


def test_global_lazy_mode_with_transactions(tree, pkgname):
    # Semantics under -X lazy_imports=all (checked here):
    # - loading user runs none of the modules its import statements name;
    #   the statements are recorded as dependencies all the same;
    # - a transaction reports what its body loaded: a lazy import that the
    #   body did not reify is loaded after the end by an ordinary import of
    #   the then-current module, and is not part of the transaction (run1);
    # - a rollback removes everything under the packages loaded since begin,
    #   including what the body reified, and restores sys.modules exactly; the
    #   restored modules' globals hold the restored objects;
    # - mode="changed" retires the lazy dependents of a changed module even
    #   though they imported it after their own execution.
    p = pkgname
    d = tree({
        "core.py": "VALUE = 'core-1'\n",
        "helper.py": f"from {p} import core\ndef value():\n    return core.VALUE\n",
        "user.py": f"from {p} import helper\ndef run():\n    return helper.value()\n",
    })
    r = subprocess.run([sys.executable, "-X", "lazy_imports=all", "-c", GLOBAL_MODE_CHILD, p,
                        str(d)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    core, helper, user = (f"{p}.{m}" for m in ("core", "helper", "user"))
    assert out["mode"] == "all"
    assert out["after_load"] == sorted([p, user]) and out["helper_pending"]
    assert out["dependents_of_helper"] == [user]

    assert out["tx1"] == ["committed", [user], [user], []]
    assert out["tx1_after_commit"] == sorted([p, user])
    assert out["run1"] == "core-1"
    assert out["tx1_later"] == [[user], [], sorted([p, core, helper, user])]

    assert out["tx2_body"] == sorted([core, helper, user])
    assert out["tx2"] == ["rolled back", sorted([core, helper, user]), []]
    assert out["tx2_restored_exactly"] and out["tx2_old_user_sees_restored"]

    assert out["tx3"] == [[core], sorted([core, helper, user])]
    assert out["run3"] == "core-2, edited"


@pytest.fixture
def lazy_app(tree, pkgname):
    """user (a bridge) and `outside` (a namespace outside the packages) hold
    still-pending lazy bindings of dep, which is loaded. (A lazy import of a
    module already loaded binds it at once.)"""
    p = pkgname
    d = tree({"dep.py": "VALUE = 'dep-1'\n",
              "user.py": f"lazy from {p} import dep\ndef get():\n    return dep\n"})
    bi.mount(p, d)
    user = bi.load(f"{p}.user")
    outside = module_level(f"lazy from {p} import dep\n")
    dep = bi.load(f"{p}.dep")
    assert type(vars(user)["dep"]) is LazyImportType and type(outside["dep"]) is LazyImportType
    return p, d, user, outside, dep


def test_pending_lazy_binding_through_a_rolled_back_transaction(lazy_app):
    p, d, user, outside, dep = lazy_app
    (d / "dep.py").write_text("VALUE = 'dep-2, edited'\n")
    with pytest.raises(KeyError):
        with bi.transaction(p) as tx:
            fresh = importlib.import_module(f"{p}.user").get()
            assert fresh.VALUE == "dep-2, edited" and fresh is sys.modules[f"{p}.dep"]
            raise KeyError("body fails")
    # user depends on dep by its lazy statement: retired, so the body's
    # reification happened in a fresh user, and the old one is untouched.
    # (A binding outside the packages that the body itself resolves would
    # keep the body's dep after the rollback, like any reference the body
    # stores outside.)
    assert tx.retired == sorted([f"{p}.dep", f"{p}.user"])
    assert sys.modules[f"{p}.user"] is user and sys.modules[f"{p}.dep"] is dep
    assert type(vars(user)["dep"]) is LazyImportType
    assert user.get() is dep and module_level("X = dep\n", outside)["X"] is dep


def test_pending_lazy_binding_through_a_committed_transaction(lazy_app):
    p, d, user, outside, dep = lazy_app
    (d / "dep.py").write_text("VALUE = 'dep-2, edited'\n")
    with bi.transaction(p) as tx:
        pass  # the body reifies nothing
    assert tx.retired == sorted([f"{p}.dep", f"{p}.user"])
    assert f"{p}.dep" not in sys.modules
    fresh = module_level("X = dep\n", outside)["X"]  # first use after the end
    assert fresh is sys.modules[f"{p}.dep"] is bi.load(f"{p}.dep") and fresh is not dep
    assert fresh.VALUE == "dep-2, edited"
    assert importlib.import_module(f"{p}.user").get() is fresh
    # The retired user's binding was still pending: like any lazy binding it
    # resolves on first use, to the module current then.
    assert user.get() is fresh


def test_bi_load_when_the_parent_attribute_is_a_lazy_binding(tree, pkgname, executions):
    p = pkgname
    bi.mount(p, tree({"pkg/__init__.py": "lazy from . import child, other\n",
                      "pkg/child.py": counted("child"), "pkg/other.py": counted("other")}))
    pkg = bi.load(f"{p}.pkg")
    assert type(vars(pkg)["child"]) is LazyImportType and executions == []
    child = bi.load(f"{p}.pkg.child")
    assert vars(pkg)["child"] is child is sys.modules[f"{p}.pkg.child"]
    assert importlib.import_module(f"{p}.pkg.child") is child
    assert module_level(f"from {p}.pkg import child\n")["child"] is child
    other = pkg.other  # the attribute reifies it
    assert other is bi.load(f"{p}.pkg.other") is sys.modules[f"{p}.pkg.other"]
    assert executions == ["child", "other"]

    # A transaction over a package whose child binding is still pending.
    bi.mount(f"{p}_t", tree({"pkg/__init__.py": "lazy from . import child\n",
                             "pkg/child.py": counted("t_child")}, sub="t"))
    tpkg = bi.load(f"{p}_t.pkg")
    proxy = vars(tpkg)["child"]
    with pytest.raises(KeyError):
        with bi.transaction(f"{p}_t", mode="all"):
            fresh = importlib.import_module(f"{p}_t.pkg")
            assert fresh is not tpkg and fresh.child is sys.modules[f"{p}_t.pkg.child"]
            raise KeyError("body fails")
    assert sys.modules[f"{p}_t.pkg"] is tpkg and f"{p}_t.pkg.child" not in sys.modules
    assert vars(tpkg)["child"] is proxy
    again = tpkg.child
    assert again is sys.modules[f"{p}_t.pkg.child"] is bi.load(f"{p}_t.pkg.child")
    assert executions == ["child", "other", "t_child", "t_child"]


def test_reload_of_a_module_with_pending_lazy_imports(tree, pkgname, executions):
    p = pkgname
    d = tree({"dep.py": counted("dep"),
              "mod.py": f"lazy from {p} import dep\nVERSION = 1\ndef get():\n    return dep\n"})
    bi.mount(p, d)
    mod = bi.load(f"{p}.mod")
    first = vars(mod)["dep"]
    (d / "mod.py").write_text(f"lazy from {p} import dep\nVERSION = 2\n"
                              "def get():\n    return dep\n")
    assert importlib.reload(mod) is mod and mod.VERSION == 2
    second = vars(mod)["dep"]
    assert type(second) is LazyImportType and second is not first and executions == []
    assert bi.dependencies(f"{p}.mod") == [] and bi.dependents(f"{p}.dep") == [f"{p}.mod"]

    # A failing reload restores the namespace: the same pending proxy, untouched.
    (d / "mod.py").write_text(f"lazy from {p} import dep\nVERSION = 3\nraise ValueError('v3')\n")
    with pytest.raises(ValueError, match="v3"):
        importlib.reload(mod)
    assert mod.VERSION == 2 and vars(mod)["dep"] is second and executions == []
    assert f"{p}.dep" not in sys.modules
    dep = mod.get()
    assert dep is sys.modules[f"{p}.dep"] is bi.load(f"{p}.dep") and executions == ["dep"]
    (d / "mod.py").write_text(f"lazy from {p} import dep\nVERSION = 4\n"
                              "def get():\n    return dep\n")
    assert bi.reload(mod) is mod and mod.get() is dep  # dep is loaded: bound at once
    assert vars(mod)["dep"] is dep and executions == ["dep"]
    assert bi.dependencies(f"{p}.mod") == [f"{p}.dep"]  # an ordinary import now
