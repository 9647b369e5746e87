"""Reload transactions: fresh code once per transaction, only what changed."""

from __future__ import annotations

import contextlib
import gc
import importlib
import linecache
import os
import sys
import sysconfig
import threading
import time
import weakref

import pytest

import bridgeimport as bi
from bridgeimport import _native, _transaction


def executions(name):
    stats = _native.execution_stats(name)
    return stats["executions"] if stats else 0


def immortal_module(module):
    """True if `module` can never be freed: CPython 3.13's free-threaded build
    gives module objects (and their dicts, top-level functions, classes and
    code) deferred reference counting, and once the process has started a
    second thread it makes every such object immortal, those made later
    included (gh-117783, gh-117696: Python/gc_free_threading.c,
    _PyGC_ImmortalizeDeferredObjects; Objects/object.c,
    _PyObject_SetDeferredRefcount). 3.14 counts them instead. An immortal
    object's reference count reads 2**32 - 1 there."""
    return (bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and sys.version_info[:2] == (3, 13)
            and sys.getrefcount(module) == 2**32 - 1)


def rewrite_same_size(path, old, new):
    """Rewrites ``path`` replacing ``old`` by ``new`` (same length) and puts
    the old mtime back: what a same-second save looks like to stat()."""
    assert len(old) == len(new)
    st = os.stat(path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size


@pytest.fixture
def app(tree, pkgname):
    """A mounted app: user -> helper -> core; sibling independent."""
    p = pkgname
    d = tree({
        "core.py": "VALUE = 'core-1'\ndef value():\n    return VALUE\n",
        "helper.py": f"from {p} import core\nDERIVED = core.VALUE + '+helper'\n",
        "user.py": f"from {p}.helper import DERIVED\nSEEN = DERIVED\n",
        "sibling.py": "SIB = 'sib'\n",
    })
    bi.mount(p, d)
    for m in ("user", "sibling"):
        importlib.import_module(f"{p}.{m}")
    return p, d


def test_same_second_same_size_rewrite_runs_new_code(app):
    p, d = app
    old_core = sys.modules[f"{p}.core"]
    rewrite_same_size(d / "core.py", "core-1", "core-2")
    with bi.transaction(p, mode="changed") as tx:
        core = importlib.import_module(f"{p}.core")
    assert core.VALUE == "core-2" and core is not old_core
    assert tx.changed == [f"{p}.core"]
    assert f"{p}.core" in tx.reloaded and tx.failed == []
    # and again: a second same-size rewrite of the fresh module is seen too
    rewrite_same_size(d / "core.py", "core-2", "core-3")
    with bi.transaction(p) as tx2:
        assert importlib.import_module(f"{p}.core").VALUE == "core-3"
    assert tx2.changed == [f"{p}.core"]


def test_dependents_pick_up_the_change_transitively(app):
    p, d = app
    rewrite_same_size(d / "core.py", "core-1", "core-X")
    with bi.transaction(p) as tx:
        import_user = importlib.import_module(f"{p}.user")
    assert import_user.SEEN == "core-X+helper"
    assert tx.retired == sorted([f"{p}.core", f"{p}.helper", f"{p}.user"])
    assert tx.reloaded == tx.retired


def test_unchanged_sibling_is_not_reexecuted(app):
    p, d = app
    sibling = sys.modules[f"{p}.sibling"]
    runs = {m: executions(f"{p}.{m}") for m in ("core", "helper", "user", "sibling")}
    (d / "helper.py").write_text((d / "helper.py").read_text() + "EXTRA = 1\n")
    with bi.transaction(p) as tx:
        importlib.import_module(f"{p}.user")
        importlib.import_module(f"{p}.sibling")
        importlib.import_module(f"{p}.user")  # loaded once per transaction
    assert executions(f"{p}.sibling") == runs["sibling"]
    assert executions(f"{p}.core") == runs["core"]
    assert executions(f"{p}.helper") == runs["helper"] + 1
    assert executions(f"{p}.user") == runs["user"] + 1
    assert sys.modules[f"{p}.sibling"] is sibling
    assert f"{p}.sibling" not in tx.retired and f"{p}.core" not in tx.retired


def test_nothing_changed_retires_nothing(app):
    p, _ = app
    with bi.transaction(p) as tx:
        pass
    assert tx.retired == [] and tx.changed == [] and tx.reloaded == []


def test_mode_all_retires_every_module_and_reimports_lazily(app):
    p, _ = app
    before = {m: sys.modules[f"{p}.{m}"] for m in ("core", "helper", "user", "sibling")}
    with bi.transaction(p, mode="all") as tx:
        # retired and not imported yet: gone, and not an attribute of the package
        assert f"{p}.sibling" not in sys.modules
        assert "sibling" not in vars(sys.modules[p])
        importlib.import_module(f"{p}.helper")
    assert tx.retired == sorted(f"{p}.{m}" for m in before)
    assert tx.reloaded == [f"{p}.core", f"{p}.helper"]  # only what the body imported
    assert f"{p}.sibling" not in sys.modules  # lazily: imported on next use...
    pkg = sys.modules[p]
    fresh = pkg.sibling  # ...including through the package attribute
    assert fresh is sys.modules[f"{p}.sibling"] and fresh is not before["sibling"]
    assert importlib.import_module(f"{p}.sibling") is fresh
    with bi.transaction(p, mode="all"):
        pass
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pkg.nothing  # noqa: B018  (the attribute read is the test)
    assert p not in tx.retired and p in tx.kept  # the mount package has no code


def test_old_functions_keep_working_after_retirement(app):
    p, d = app
    core = sys.modules[f"{p}.core"]
    old_value = core.value
    ref = weakref.ref(core)
    (d / "core.py").write_text("VALUE = 'new'\ndef value():\n    return VALUE\n")
    with bi.transaction(p, keep_retired=1) as tx:
        assert importlib.import_module(f"{p}.core").value() == "new"
    del core
    gc.collect()
    assert old_value() == "core-1"  # globals intact
    assert ref() is not None and tx.retired_modules[f"{p}.core"] is ref()
    del tx
    gc.collect()
    assert ref() is not None  # kept by the last committed transaction
    with bi.transaction(p, keep_retired=1):
        pass
    gc.collect()
    assert old_value() == "core-1"  # the function keeps its own globals
    # No longer among the last keep_retired transactions: nothing of
    # bridgeimport's holds it, so it dies, unless the interpreter made it
    # immortal (see immortal_module).
    assert not any(ref() is m for t in _transaction._history
                   for m in t.retired_modules.values())
    assert ref() is None or immortal_module(ref())


def test_failing_body_restores_the_old_modules(app):
    p, d = app
    names = {k for k in sys.modules if k == p or k.startswith(p + ".")}
    old = {k: sys.modules[k] for k in names}
    pkg_attrs = {k: getattr(sys.modules[p], k.rsplit(".", 1)[1], None) for k in names if k != p}
    graph_before = _native.dependency_records(sorted(names))
    (d / "core.py").write_text("VALUE = 'broken'\ndef value(:\n")
    with pytest.raises(SyntaxError):
        with bi.transaction(p) as tx:
            importlib.import_module(f"{p}.user")
    assert {k for k in sys.modules if k == p or k.startswith(p + ".")} == names
    assert all(sys.modules[k] is old[k] for k in names)
    assert {k: getattr(sys.modules[p], k.rsplit(".", 1)[1], None)
            for k in names if k != p} == pkg_attrs
    assert _native.dependency_records(sorted(names)) == graph_before
    assert tx.state == "rolled back" and isinstance(tx.error, SyntaxError)
    assert f"{p}.core" in tx.failed and "failed" in repr(tx)
    assert sys.modules[f"{p}.user"].SEEN == "core-1+helper"


def test_failing_body_after_fresh_loads_removes_them(app):
    p, d = app
    old_core = sys.modules[f"{p}.core"]
    (d / "core.py").write_text("VALUE = 'fresh'\ndef value():\n    return VALUE\n")
    (d / "brand_new.py").write_text("N = 1\n")
    with pytest.raises(KeyError):
        with bi.transaction(p):
            assert importlib.import_module(f"{p}.core").VALUE == "fresh"
            importlib.import_module(f"{p}.brand_new")
            raise KeyError("body failed")
    assert sys.modules[f"{p}.core"] is old_core
    assert sys.modules[p].core is old_core
    assert f"{p}.brand_new" not in sys.modules and not hasattr(sys.modules[p], "brand_new")


def test_selection_is_by_package_name_not_prefix(tree, pkgname):
    app, apple = pkgname, pkgname + "le"
    bi.mount(app, tree({"m.py": "A = 1\n"}, sub="app"))
    bi.mount(apple, tree({"m.py": "B = 1\n"}, sub="apple"))
    a, b = (importlib.import_module(f"{x}.m") for x in (app, apple))
    with bi.transaction(app, mode="all") as tx:
        pass
    assert tx.retired == [f"{app}.m"]
    assert sys.modules[f"{apple}.m"] is b and f"{app}.m" not in sys.modules
    assert f"{app}.m" in tx and f"{apple}.m" not in tx


def test_changed_package_init_retires_its_subtree(tree, pkgname):
    p = pkgname
    d = tree({"pkg/__init__.py": "X = 1\n", "pkg/leaf.py": "L = 1\n", "other.py": ""})
    bi.mount(p, d)
    importlib.import_module(f"{p}.pkg.leaf")
    importlib.import_module(f"{p}.other")
    (d / "pkg/__init__.py").write_text("X = 22\n")
    with bi.transaction(p) as tx:
        leaf = importlib.import_module(f"{p}.pkg.leaf")
    assert tx.retired == [f"{p}.pkg", f"{p}.pkg.leaf"]
    assert sys.modules[f"{p}.pkg"].leaf is leaf and sys.modules[f"{p}.pkg"].X == 22


def test_linecache_and_tracebacks_show_the_fresh_source(app):
    p, d = app
    path = str(d / "core.py")
    linecache.getlines(path)
    assert "core-1" in "".join(linecache.cache[path][2])
    (d / "core.py").write_text("VALUE = 'core-9'\ndef value():\n    return VALUE\n")
    with bi.transaction(p):
        assert path not in linecache.cache
        importlib.import_module(f"{p}.core")
    assert "core-9" in "".join(linecache.getlines(path))


def test_explicit_begin_commit_and_rollback(app):
    p, d = app
    tx = bi.transaction(p, mode="all")
    assert "new" in repr(tx)
    tx.begin()
    assert tx.state == "active" and f"{p}.core" not in sys.modules
    with pytest.raises(RuntimeError, match="do not nest"):
        bi.transaction(p).begin()
    tx.rollback()
    assert tx.state == "rolled back" and f"{p}.core" in sys.modules
    with pytest.raises(RuntimeError, match="rolled back"):
        tx.commit()
    # begin in one thread, commit in another (a framework's request cycle)
    tx2 = bi.transaction(p, mode="all").begin()
    t = threading.Thread(target=tx2.commit)
    t.start()
    t.join()
    assert tx2.state == "committed"
    bi.transaction(p).begin().commit()  # the process-wide slot was released


def test_arguments_are_checked():
    with pytest.raises(TypeError):
        bi.transaction()
    for bad in ("", "a..b", "a/b", 3, "1x"):
        with pytest.raises(ValueError):
            bi.transaction(bad)
    with pytest.raises(ValueError):
        bi.transaction("app", mode="some")
    with pytest.raises(ValueError):
        bi.transaction("app", keep_retired=-1)


def test_report(app):
    p, d = app
    (d / "sibling.py").write_text("SIB = 'changed'\n")
    with bi.transaction(p) as tx:
        importlib.import_module(f"{p}.sibling")
    r = tx.report()
    assert r["retired"] == [f"{p}.sibling"] and r["reloaded"] == [f"{p}.sibling"]
    assert r["timings"][f"{p}.sibling"] > 0 and r["state"] == "committed"
    assert set(r["seconds"]) == {"begin", "end", "total"}
    assert "retired 1" in repr(tx) and "reloaded 1" in repr(tx)


# -- ordinary packages on sys.path --------------------------------------------

@pytest.fixture
def ordinary(tree, pkgname, monkeypatch):
    p = f"{pkgname}_plain"
    root = tree({
        f"{p}/__init__.py": "",
        f"{p}/base.py": "class Base:\n    TAG = 'base-1'\n",
        f"{p}/derived.py": f"from {p}.base import Base\nclass Derived(Base):\n    pass\n",
        f"{p}/alone.py": "A = 1\n",
    }, sub="syspath")
    monkeypatch.syspath_prepend(str(root))
    for m in ("derived", "alone"):
        importlib.import_module(f"{p}.{m}")
    return p, root / p


def test_ordinary_package_first_transaction_is_conservative_then_exact(ordinary):
    p, d = ordinary
    # Files written after the process started: nothing proves they did not
    # change since their load, so the first transaction re-runs them.
    with bi.transaction(p) as first:
        importlib.import_module(f"{p}.derived")
        importlib.import_module(f"{p}.alone")
    assert f"{p}.alone" in first.retired and first.timings[f"{p}.alone"] is None
    time.sleep(2.2)  # past the timestamp resolution of the files' last change
    with bi.transaction(p) as settle:  # loads after the files settled: stamped
        for m in ("derived", "alone"):
            importlib.import_module(f"{p}.{m}")
    alone = sys.modules[f"{p}.alone"]
    with bi.transaction(p) as quiet:
        pass
    assert quiet.retired == [], quiet.report()
    rewrite_same_size(d / "base.py", "base-1", "base-2")
    with bi.transaction(p) as tx:
        derived = importlib.import_module(f"{p}.derived")
    assert derived.Derived.TAG == "base-2"
    # base changed; derived holds a class whose base came from it
    assert tx.retired == [f"{p}.base", f"{p}.derived"], tx.report()
    assert sys.modules[f"{p}.alone"] is alone
    assert settle.state == "committed"


def test_ordinary_module_stale_pyc_is_not_used(ordinary, monkeypatch):
    p, d = ordinary
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    importlib.import_module(f"{p}.alone")
    with bi.transaction(p, mode="all"):
        importlib.import_module(f"{p}.alone")  # writes a pyc (CPython's loader)
    rewrite_same_size(d / "alone.py", "A = 1", "A = 7")
    with bi.transaction(p) as tx:
        assert importlib.import_module(f"{p}.alone").A == 7
    assert f"{p}.alone" in tx.retired


# -- threads ------------------------------------------------------------------

def test_transactions_against_concurrent_imports(tree, pkgname, monkeypatch):
    p = pkgname
    n = 12
    runs = []  # (name, module object) per execution, kept outside the package
    monkeypatch.setattr(sys, "_bt_transaction_runs", runs, raising=False)
    files = {f"m{i}.py": (f"from {p} import counter\nimport sys\n"
                          "sys._bt_transaction_runs.append((__name__, sys.modules[__name__]))\n"
                          f"V = {i}\n")
             for i in range(n)}
    files["counter.py"] = "X = 0\n"
    d = tree(files)
    bi.mount(p, d)
    importlib.import_module(f"{p}.counter")
    errors = []
    stop = threading.Event()

    def importer(seed):
        i = seed
        while not stop.is_set():
            try:
                m = importlib.import_module(f"{p}.m{i % n}")
                assert m.V == i % n
            except BaseException as e:  # noqa: BLE001 - report any failure
                errors.append(e)
            i += 1

    threads = [threading.Thread(target=importer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        for _round in range(15):
            with bi.transaction(p, mode="all", keep_retired=0) as tx:
                for i in range(0, n, 2):
                    importlib.import_module(f"{p}.m{i}")
            assert tx.failed == []
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    # Every execution made a module object of its own: no module object's
    # code ran twice (two threads, or a transaction and an importer).
    assert len({(name, id(module)) for name, module in runs}) == len(runs)
    assert len(runs) >= n  # and the modules did run, round after round
    for i in range(n):
        m = importlib.import_module(f"{p}.m{i}")
        assert m.V == i and any(module is m for _, module in runs)


def test_import_error_from_fresh_code_rolls_back(app):
    p, d = app
    old_helper = sys.modules[f"{p}.helper"]
    (d / "helper.py").write_text(f"from {p}.core import NO_SUCH_NAME\n")
    with pytest.raises(ImportError, match="NO_SUCH_NAME"):
        with bi.transaction(p) as tx:
            importlib.import_module(f"{p}.user")
    assert sys.modules[f"{p}.helper"] is old_helper
    assert sys.modules[f"{p}.user"].SEEN == "core-1+helper"
    assert tx.failed == [f"{p}.helper", f"{p}.user"]
    # fixed on disk: the next transaction runs the new code
    (d / "helper.py").write_text(f"from {p} import core\nDERIVED = 'fixed'\n")
    with bi.transaction(p) as tx2:
        assert importlib.import_module(f"{p}.user").SEEN == "fixed"
    assert tx2.failed == []


def test_bridge_depending_on_an_ordinary_module(tree, pkgname, monkeypatch):
    p, lib = pkgname, f"{pkgname}_lib"
    root = tree({f"{lib}/__init__.py": "", f"{lib}/conf.py": "LEVEL = 1\n"}, sub="syspath")
    monkeypatch.syspath_prepend(str(root))
    bi.mount(p, tree({"uses.py": f"from {lib}.conf import LEVEL\n", "free.py": ""}))
    importlib.import_module(f"{p}.uses")
    importlib.import_module(f"{p}.free")
    (root / lib / "conf.py").write_text("LEVEL = 2\n")
    with bi.transaction(p, lib) as tx:
        assert importlib.import_module(f"{p}.uses").LEVEL == 2
    assert f"{lib}.conf" in tx.retired and f"{p}.uses" in tx.retired
    assert f"{p}.free" not in tx.retired


def test_a_package_getattr_of_its_own_is_kept_and_restored(tree, pkgname):
    p = pkgname
    d = tree({"pkg/__init__.py": "def __getattr__(name):\n    return 'dynamic:' + name\n",
              "pkg/leaf.py": "L = 1\n"})
    bi.mount(p, d)
    pkg = importlib.import_module(f"{p}.pkg")
    importlib.import_module(f"{p}.pkg.leaf")
    own = vars(pkg)["__getattr__"]
    (d / "pkg/leaf.py").write_text("L = 2\n")
    with pytest.raises(RuntimeError):
        with bi.transaction(f"{p}.pkg.leaf"):
            assert pkg.other == "dynamic:other"   # theirs still answers
            assert pkg.leaf.L == 2                # ours imports the retired child
            raise RuntimeError("roll back")
    assert vars(pkg)["__getattr__"] is own and pkg.leaf.L == 1
    with bi.transaction(f"{p}.pkg.leaf"):
        pass
    assert vars(pkg)["__getattr__"] is not own  # leaf retired, not imported yet
    assert pkg.leaf.L == 2
    with bi.transaction(f"{p}.pkg.leaf"):
        importlib.import_module(f"{p}.pkg.leaf")
    assert vars(pkg)["__getattr__"] is own  # every retired child is back


def test_files_limit_the_check_to_the_modules_a_watcher_reports(tree, pkgname):
    """transaction(files=...): only those files' modules are checked (issue 13,
    part 2); a file that changed without being reported counts as unchanged
    until it is, and a reported file that did not change retires nothing."""
    root = tree({"a.py": "V = 1\n", "b.py": "V = 1\n", "c.py": "V = 1\n"})
    bi.mount(pkgname, root)
    for n in "abc":
        bi.load(f"{pkgname}.{n}")
    (root / "a.py").write_text("V = 22\n")
    (root / "b.py").write_text("V = 22\n")
    with bi.transaction(pkgname, files=[root / "a.py", root / "c.py"]) as tx:
        pass
    assert tx.retired == [f"{pkgname}.a"] and tx.changed == [f"{pkgname}.a"]
    with bi.transaction(pkgname, files=[str(root / "b.py")]) as tx:
        pass
    assert tx.retired == [f"{pkgname}.b"]
    with bi.transaction(pkgname, files=[]) as tx:
        pass
    assert tx.retired == []


def test_files_keep_trusted_listings_and_drop_the_ones_they_contradict(tree, pkgname):
    """transaction(files=...) re-reads no directory listing for a content
    edit, but one that a reported new file contradicts, even where the
    directory's mtime says nothing changed (DirCache::Revalidate)."""
    root = tree({"a.py": "V = 1\n", "sub/__init__.py": "", "sub/x.py": "X = 1\n"})
    past = time.time_ns() - 10 * 10**9
    for d in (root, root / "sub"):
        os.utime(d, ns=(past, past))  # trusted listings: not re-read by mtime
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.a")
    bi.load(f"{pkgname}.sub.x")
    assert _native.finder.revalidate([str(root / "a.py")]) == 0
    # a.py now imports b.py, which is new; the directory keeps its old mtime.
    (root / "b.py").write_text("V = 2\n")
    (root / "a.py").write_text(f"from {pkgname}.b import V\n")
    os.utime(root, ns=(past, past))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.b")  # the listing does not know it
    with bi.transaction(pkgname, files=[root / "a.py", root / "b.py"]) as tx:
        importlib.import_module(f"{pkgname}.a")
    assert tx.reloaded == [f"{pkgname}.a"] and tx.loaded == [f"{pkgname}.b"]
    assert sys.modules[f"{pkgname}.a"].V == 2
    # A file in a new directory contradicts its listed parent.
    (root / "new").mkdir()
    (root / "new" / "__init__.py").write_text("")
    (root / "new" / "y.py").write_text("Y = 1\n")
    os.utime(root, ns=(past, past))
    assert _native.finder.revalidate([str(root / "new" / "y.py")]) == 1
    assert bi.load(f"{pkgname}.new.y").Y == 1
    # Only the contradicted listing goes: sub's stays (no file of it reported).
    assert _native.finder.revalidate([str(root / "sub" / "x.py")]) == 0


def test_mode_all_drops_every_listing_even_given_files(tree, pkgname):
    """files= hints a changed-only transaction; mode="all" wants a fresh
    view of everything, so it still drops every directory listing (found
    in review: it kept them)."""
    root = tree({"a.py": "V = 1\n"})
    past = time.time_ns() - 10 * 10**9
    os.utime(root, ns=(past, past))
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.a")
    (root / "b.py").write_text("V = 2\n")
    (root / "a.py").write_text(f"from {pkgname}.b import V\n")
    os.utime(root, ns=(past, past))  # the listing cannot tell b.py is new
    with bi.transaction(pkgname, mode="all", files=[]):
        importlib.import_module(f"{pkgname}.a")
    assert sys.modules[f"{pkgname}.a"].V == 2


@pytest.mark.parametrize("fails", [False, True])
def test_a_blocking_none_set_in_the_body_is_no_module(tree, pkgname, fails):
    """sys.modules[name] = None in the body (an import blocker) is neither
    loaded nor removed by a rollback, whose error stays the body's (found
    in review: the rollback raised TypeError instead)."""
    root = tree({"a.py": "V = 1\n"})
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.a")
    (root / "a.py").write_text("V = 22\n")
    with pytest.raises(LookupError) if fails else contextlib.nullcontext():
        with bi.transaction(pkgname) as tx:
            sys.modules[f"{pkgname}.blocked"] = None
            importlib.import_module(f"{pkgname}.a")
            if fails:
                raise LookupError("the body fails")
    assert tx.loaded == [] and f"{pkgname}.blocked" not in tx.timings
    assert tx.reloaded == [f"{pkgname}.a"]  # what the body did, rolled back or not
    assert sys.modules[f"{pkgname}.a"].V == (1 if fails else 22)
    assert sys.modules.pop(f"{pkgname}.blocked") is None


def test_module_scans_select_by_package_and_compare_by_identity(pkgname):
    """The native passes of a transaction (loader/module_scan.cc): "app"
    selects "app" and "app.*" but never "apple" or a non-str key; new_entries
    compares objects, not names; classify sorts what it is given."""
    import types
    mods = {pkgname: types.ModuleType(pkgname), f"{pkgname}.x": types.ModuleType("x"),
            f"{pkgname}x": types.ModuleType("y"), f"{pkgname}.none": None}
    sys.modules.update(mods)
    sys.modules[(pkgname, 1)] = types.ModuleType("tuple-keyed")  # type: ignore[index]
    try:
        before = _native.select_modules([pkgname])
        assert list(before) == [pkgname, f"{pkgname}.x", f"{pkgname}.none"]
        assert _native.new_entries([pkgname], before) == {}
        sys.modules[f"{pkgname}.x"] = replaced = types.ModuleType("x")
        sys.modules[f"{pkgname}.y"] = added = types.ModuleType("y")
        assert _native.new_entries([pkgname], before) == {
            f"{pkgname}.x": replaced, f"{pkgname}.y": added}
        before[f"{pkgname}.x"].__file__ = "/src/x.py"
        assert _native.modules_of_files(before, {"/src/x.py"}) == [f"{pkgname}.x"]
        assert _native.modules_of_files(before, set()) == []
        assert _native.classify_modules(before, True) == (
            [], [], [], [pkgname, f"{pkgname}.x", f"{pkgname}.none"])
    finally:
        del sys.modules[(pkgname, 1)]  # type: ignore[arg-type]
