"""The native loader: identity, sys.modules protocol, rollback, source."""

from __future__ import annotations

import importlib
import inspect
import linecache
import sys
import threading
import traceback

import pytest

import bridgeimport as bi


def test_load_is_the_plain_import(tree, pkgname):
    bi.mount(pkgname, tree({"shapes.py": "class Shape:\n    pass\n",
                            "user.py": f"from {pkgname}.shapes import Shape\nONE = Shape()\n"}))
    plain = importlib.import_module(f"{pkgname}.shapes")
    assert bi.load(f"{pkgname}.shapes") is plain
    user = bi.load(f"{pkgname}.user")
    exec(f"import {pkgname}.user as again", globals())
    assert again is user  # noqa: F821  (bound by exec)
    assert isinstance(user.ONE, bi.load(f"{pkgname}.shapes").Shape)
    assert isinstance(user.ONE, plain.Shape)


def test_load_first_then_plain_import(tree, pkgname):
    bi.mount(pkgname, tree({"m.py": "COUNT = 1\n"}))
    loaded = bi.load(f"{pkgname}.m")
    assert importlib.import_module(f"{pkgname}.m") is loaded
    assert sys.modules[f"{pkgname}.m"] is loaded
    assert sys.modules[pkgname].m is loaded


def test_thread_local_state_is_shared_across_import_styles(tree, pkgname):
    # The classic split-identity bug: a context object defined in one bridge.
    bi.mount(pkgname, tree({
        "context.py": "import threading\nLOCAL = threading.local()\n",
        "worker.py": f"from {pkgname} import context\n"
                     "def current():\n    return getattr(context.LOCAL, 'value', None)\n",
    }))
    ctx = bi.load(f"{pkgname}.context")
    worker = importlib.import_module(f"{pkgname}.worker")
    ctx.LOCAL.value = "set through load()"
    assert worker.current() == "set through load()"


def test_module_is_in_sys_modules_before_its_code_runs(tree, pkgname):
    bi.mount(pkgname, tree({
        "a.py": f"import sys\nSEEN = sys.modules['{pkgname}.a'] is sys.modules.get('{pkgname}.a')\n"
                f"SELF = sys.modules['{pkgname}.a']\n"
                f"from {pkgname} import b\nVALUE = 'a'\n",
        "b.py": f"import {pkgname}.a as a\nPARTIAL = not hasattr(a, 'VALUE')\n",
    }))
    a = importlib.import_module(f"{pkgname}.a")
    assert a.SELF is a
    assert a.b.PARTIAL is True  # the circular import saw the partial module


def test_raising_module_is_rolled_back(tree, pkgname):
    bi.mount(pkgname, tree({"bad.py": "X = 1\nraise RuntimeError('boom')\n"}))
    bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(RuntimeError, match="boom") as info:
        bi.load(f"{pkgname}.bad")
    assert sys.modules == before
    assert not hasattr(sys.modules[pkgname], "bad")
    notes = getattr(info.value, "__notes__", [])
    assert any("bad.py" in n and f"{pkgname}.bad" in n for n in notes)
    with pytest.raises(RuntimeError):
        importlib.import_module(f"{pkgname}.bad")  # still fails, still clean
    assert sys.modules == before


def test_package_whose_init_imported_a_child_then_raised(tree, pkgname):
    d = tree({
        "pkg/__init__.py": "from . import child\nfrom .child import deeper\n"
                           "import os\nif not os.environ.get('BT_PKG_OK'):\n"
                           "    raise ImportError('init failed')\n",
        "pkg/child/__init__.py": "RUNS = globals().get('RUNS', 0) + 1\n",
        "pkg/child/deeper.py": "",
    })
    bi.mount(pkgname, d)
    bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(ImportError, match="init failed") as info:
        importlib.import_module(f"{pkgname}.pkg")
    assert sys.modules == before
    assert any("rolled back" in n and f"{pkgname}.pkg.child" in n
               for n in getattr(info.value, "__notes__", []))
    # CPython would have kept pkg.child, so this later import would lack .child.
    import os
    os.environ["BT_PKG_OK"] = "1"
    try:
        pkg = importlib.import_module(f"{pkgname}.pkg")
    finally:
        del os.environ["BT_PKG_OK"]
    assert pkg.child is sys.modules[f"{pkgname}.pkg.child"]
    assert pkg.child.deeper is sys.modules[f"{pkgname}.pkg.child.deeper"]


def test_previous_subtree_entry_is_restored(tree, pkgname):
    bi.mount(pkgname, tree({"pkg/__init__.py": "from . import child\nraise ValueError('no')\n",
                            "pkg/child.py": ""}))
    bi.load(pkgname)
    orphan = type(sys)(f"{pkgname}.pkg.stale")
    sys.modules[f"{pkgname}.pkg.stale"] = orphan
    before = dict(sys.modules)
    with pytest.raises(ValueError):
        importlib.import_module(f"{pkgname}.pkg")
    assert sys.modules == before
    assert sys.modules[f"{pkgname}.pkg.stale"] is orphan


def test_syntax_error_is_clear_and_leaves_nothing(tree, pkgname):
    d = tree({"broken.py": "def f(:\n    pass\n"})
    bi.mount(pkgname, d)
    bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(SyntaxError) as info:
        bi.load(f"{pkgname}.broken")
    assert info.value.filename == str(d / "broken.py")
    assert info.value.lineno == 1
    assert sys.modules == before


def test_not_found_and_unmounted_names(tree, pkgname):
    bi.mount(pkgname, tree({"a.py": ""}))
    with pytest.raises(bi.BridgeNotFoundError) as info:
        bi.load(f"{pkgname}.missing")
    assert isinstance(info.value, ModuleNotFoundError)
    assert "missing.py" in str(info.value)
    with pytest.raises(bi.BridgeNotFoundError, match="not mounted"):
        bi.load("json")
    with pytest.raises(TypeError):
        bi.load(b"json")


def test_coding_cookie_is_honoured(tree, pkgname):
    source = "# -*- coding: latin-1 -*-\nTEXT = 'caf\xe9'\n".encode("latin-1")
    d = tree({"latin.py": source})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.latin")
    assert mod.TEXT == "caf\u00e9"
    assert "caf\u00e9" in inspect.getsource(mod)


def test_inspect_and_tracebacks_show_real_source(tree, pkgname):
    d = tree({"tb.py": "def fail():\n    raise KeyError('where')\n"})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.tb")
    assert inspect.getfile(mod) == str(d / "tb.py")
    assert inspect.getsource(mod.fail).startswith("def fail():")
    try:
        mod.fail()
    except KeyError:
        text = traceback.format_exc()
    assert f'File "{d / "tb.py"}", line 2, in fail' in text
    assert "raise KeyError('where')" in text
    assert linecache.getline(str(d / "tb.py"), 2).strip() == "raise KeyError('where')"


def test_get_source_returns_the_bytes_that_ran(tree, pkgname):
    d = tree({"m.py": "VERSION = 1\n"})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    (d / "m.py").write_text("VERSION = 2  # edited after the load\n")
    assert mod.__loader__.get_source(f"{pkgname}.m") == "VERSION = 1\n"
    with pytest.raises(ImportError):
        mod.__loader__.get_source("other.name")


def test_loader_protocol_methods(tree, pkgname):
    d = tree({"m.py": "X = 1\n", "p/__init__.py": ""})
    bi.mount(pkgname, d)
    m = bi.load(f"{pkgname}.m")
    loader = m.__loader__
    assert loader.name == f"{pkgname}.m" and loader.path == str(d / "m.py")
    assert loader.get_filename(f"{pkgname}.m") == str(d / "m.py")
    assert loader.is_package(f"{pkgname}.m") is False
    assert bi.load(f"{pkgname}.p").__loader__.is_package(f"{pkgname}.p") is True
    code = loader.get_code(f"{pkgname}.m")
    assert code.co_filename == str(d / "m.py")
    assert loader.get_data(str(d / "m.py")) == b"X = 1\n"
    assert loader.create_module(m.__spec__) is None
    synthetic = sys.modules[pkgname].__loader__
    assert synthetic.path is None and synthetic.is_package(pkgname)
    assert synthetic.get_source(pkgname) == ""
    with pytest.raises(ImportError):
        synthetic.get_filename(pkgname)


def test_file_deleted_between_find_and_exec(tree, pkgname):
    d = tree({"gone.py": "X = 1\n"})
    bi.mount(pkgname, d)
    bi.load(pkgname)
    spec = importlib.util.find_spec(f"{pkgname}.gone")
    (d / "gone.py").unlink()
    module = importlib.util.module_from_spec(spec)
    before = dict(sys.modules)
    with pytest.raises(bi.BridgeImportError) as info:
        spec.loader.exec_module(module)
    assert "gone.py" in str(info.value) and f"{pkgname}.gone" in str(info.value)
    assert sys.modules == before


def test_reload_keeps_identity_and_restores_on_failure(tree, pkgname):
    d = tree({"r.py": "VALUE = 1\ndef f():\n    return 'v1'\n"})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.r")
    old_f = mod.f
    (d / "r.py").write_text("VALUE = 2\ndef f():\n    return 'v2'\n")
    assert importlib.reload(mod) is mod
    assert mod.VALUE == 2 and mod.f() == "v2" and old_f() == "v1"
    before = dict(vars(mod))
    (d / "r.py").write_text("VALUE = 3\nNEW = 1\nraise RuntimeError('half way')\n")
    with pytest.raises(RuntimeError, match="half way"):
        importlib.reload(mod)
    assert vars(mod).keys() == before.keys()
    assert all(vars(mod)[k] is v for k, v in before.items())
    assert sys.modules[f"{pkgname}.r"] is mod
    (d / "r.py").write_text("VALUE = (\n")
    with pytest.raises(SyntaxError):
        importlib.reload(mod)
    assert all(vars(mod)[k] is v for k, v in before.items())


def test_reload_of_a_deleted_file_leaves_the_module_as_it_was(tree, pkgname):
    """Found by test_stateful.py: importlib.reload stores None in __spec__
    before raising ModuleNotFoundError when the file is gone; bi.reload keeps
    the spec, so the module can be reloaded once the file is back."""
    d = tree({"gone.py": "VALUE = 1\n"})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.gone")
    before = dict(vars(mod))
    (d / "gone.py").unlink()
    with pytest.raises(ModuleNotFoundError):
        bi.reload(mod)
    assert vars(mod) == before and mod.__spec__ is before["__spec__"]
    (d / "gone.py").write_text("VALUE = 2\n")
    assert bi.reload(mod) is mod and mod.VALUE == 2


def test_concurrent_first_imports_execute_once(tree, pkgname):
    bi.mount(pkgname, tree({"counted.py": "import builtins, time\n"
                                          "builtins.__dict__.setdefault('_bt_runs', []).append(1)\n"
                                          "time.sleep(0.05)\n"}))
    import builtins
    builtins.__dict__.pop("_bt_runs", None)
    barrier = threading.Barrier(16)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            get = bi.load if i % 2 else importlib.import_module
            results.append(get(f"{pkgname}.counted"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == 16 and all(r is results[0] for r in results)
    assert builtins.__dict__.pop("_bt_runs") == [1]


def test_failing_package_that_removed_itself_still_rolls_back_children(tree, pkgname):
    bi.mount(pkgname, tree({
        "pkg/__init__.py": "import sys\nfrom . import child\ndel sys.modules[__name__]\n"
                           "raise RuntimeError('gone and failed')\n",
        "pkg/child.py": "",
    }))
    bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(RuntimeError, match="gone and failed"):
        importlib.import_module(f"{pkgname}.pkg")
    assert sys.modules == before


def test_unrelated_imports_during_a_failed_package_stay(tree, pkgname):
    bi.mount(pkgname, tree({
        "pkg/__init__.py": f"from . import child\nimport {pkgname}.other\nraise ValueError('x')\n",
        "pkg/child.py": "",
        "other.py": "",
    }))
    bi.load(pkgname)
    with pytest.raises(ValueError):
        importlib.import_module(f"{pkgname}.pkg")
    assert f"{pkgname}.pkg.child" not in sys.modules
    assert f"{pkgname}.other" in sys.modules  # a sibling: the default keeps it
