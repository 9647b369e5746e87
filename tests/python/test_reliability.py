"""Regressions from review: finalisation, __import__ chains, borrowed
references, reload visibility, namespace packages. Crashes are checked in
child interpreters (exit status), never in the test process."""

from __future__ import annotations

import builtins
import importlib
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import bridgeimport as bi
from bridgeimport import _native
from conftest import EXIT_CHILD_FLAGS, run_exit_child


def run_child(code: str, timeout: int = 60, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, **popen)


def test_bridge_import_from_a_late_atexit_handler(tree):
    d = tree({"b.py": "X = 1\n"})
    r = run_child(f"""
        import atexit
        def late():
            import late_plugins.b
            print("ok", late_plugins.b.X, flush=True)
        atexit.register(late)   # runs after bridgeimport's own exit handlers
        import bridgeimport as bi
        bi.mount("late_plugins", {str(d)!r})
        """, env=dict(os.environ, PYTHONMALLOC="debug"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok 1"


def test_daemon_threads_mid_import_while_the_interpreter_exits(tree):
    """Daemon threads in the middle of bridge imports (first loads whose module
    code is running) when the main thread exits: no crash, nothing on stderr.
    CPython < 3.14 ends such threads with pthread_exit(); bridgeimport parks
    them before its C++ frames could run cleanup without the GIL.

    (A tight load/reload loop that spends its time inside CPython's own import
    lock is another matter: stock CPython crashes there too, see
    test_faults.py::test_exit_while_threads_hammer_load.)"""
    d = tree({f"m{i}.py": "import time\n_end = time.perf_counter() + 0.02\n"
                          "while time.perf_counter() < _end:\n    pass\nX = 1\n"
              for i in range(8)})
    code = textwrap.dedent(f"""
        import sys, threading, time
        import bridgeimport as bi
        bi.mount("dplugins", {str(d)!r})
        def churn(k):
            i = 0
            while True:   # fresh first loads of this thread's own modules, until exit
                name = f"dplugins.m{{2 * k + i % 2}}"
                sys.modules.pop(name, None)
                bi.load(name)
                i += 1
        for k in range(4):
            threading.Thread(target=churn, args=(k,), daemon=True).start()
        time.sleep(0.3)
        print("main exiting", flush=True)
        """)
    for _ in range(5):
        r = run_exit_child(lambda timeout: subprocess.run(
            [sys.executable, *EXIT_CHILD_FLAGS, "-c", code], capture_output=True, text=True,
            timeout=timeout))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "main exiting"
        assert r.stderr == ""


def test_reading_a_fifo_fails_at_once_instead_of_blocking(tree, pkgname, tmp_path):
    bi.mount(pkgname, tree({"b.py": ""}))
    loader = bi.load(f"{pkgname}.b").__loader__
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(bi.BridgeImportError, match="not a regular file"):
        loader.get_data(str(fifo))


def test_import_wrapped_by_a_bridge_never_recurses(tree, pkgname):
    bi.mount(pkgname, tree({
        "tracer.py": "import builtins\n_prev = builtins.__import__\n"
                     "def tracer(*a, **k):\n    return _prev(*a, **k)\n"
                     "builtins.__import__ = tracer\n",
        "b.py": "X = 1\n",
    }))
    original = builtins.__import__
    try:
        bi.load(f"{pkgname}.tracer")
        assert builtins.__import__.__name__ == "tracer"
        assert bi.load(f"{pkgname}.b").X == 1  # no RecursionError
        exec(f"import {pkgname}.b", {})
    finally:
        builtins.__import__ = original


def test_patch_undone_after_a_bridge_leaves_imports_working_to_the_end(tree):
    d = tree({"patcher.py": (
        "import builtins\nfrom unittest import mock\n"
        "patch = mock.patch('builtins.__import__', side_effect=builtins.__import__)\n"
        "patch.start()\n")})
    r = run_child(f"""
        import atexit
        def late():
            import json
            print("late ok", flush=True)
        atexit.register(late)
        import bridgeimport as bi
        bi.mount("pp", {str(d)!r})
        import pp.patcher
        pp.patcher.patch.stop()
        import os
        print("import ok", flush=True)
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["import", "ok", "late", "ok"]


def test_load_never_uses_a_freed_sys_modules_entry(tree, pkgname):
    bi.mount(pkgname, tree({"b.py": "X = 1\n"}))
    real = bi.load(f"{pkgname}.b")
    r = run_child(f"""
        import sys
        import bridgeimport as bi
        bi.mount({pkgname!r}, {str(real.__file__.rpartition('/')[0])!r})
        import importlib
        import {pkgname}.b as b
        spec = b.__spec__
        class Evil:
            @property
            def __spec__(self):
                sys.modules.pop({pkgname + '.b'!r}, None)   # drops the only reference
                return spec
        for load in (importlib.import_module, bi.load):
            sys.modules[{pkgname + '.b'!r}] = Evil()
            print(type(load({pkgname + '.b'!r})).__name__)
        """, env=dict(os.environ, PYTHONMALLOC="debug"))
    assert r.returncode == 0, r.stderr
    # What importlib returns on this interpreter: the Evil object, or (where
    # _find_and_load looks again after the _initializing check, gh-143650:
    # 3.13.13+) a module imported afresh.
    stock, ours = r.stdout.split()
    assert stock in ("Evil", "module") and ours == stock


def test_failed_reload_never_shows_an_empty_module(tree, pkgname):
    d = tree({"m.py": "V = 1\n"})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    (d / "m.py").write_text("import time\nclass D:\n    def __del__(self, s=time.sleep):\n"
                            "        s(0.05)\nd = D()\nraise ValueError('bad reload')\n")
    seen, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            if "V" not in vars(mod):
                seen.append(sorted(vars(mod)))
            time.sleep(0.001)

    t = threading.Thread(target=poll)
    t.start()
    try:
        with pytest.raises(ValueError):
            importlib.reload(mod)
    finally:
        stop.set()
        t.join()
    assert mod.V == 1 and "d" not in vars(mod)
    assert seen == []


def test_namespace_package_modules_are_not_shadowed(tmp_path, pkgname):
    site = tmp_path / "site" / pkgname
    site.mkdir(parents=True)
    (site / "x.py").write_text("WHO = 'real'\n")  # a PEP 420 namespace package
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (mnt / "x.py").write_text("WHO = 'bridge'\n")
    (mnt / "y.py").write_text("WHO = 'bridge'\n")
    sys.path.insert(0, str(tmp_path / "site"))
    bi.mount(pkgname, mnt)
    ns = importlib.import_module(pkgname)
    # NamespacePath since 3.15 (_NamespacePath stays as an alias).
    assert type(ns.__path__).__name__ in ("_NamespacePath", "NamespacePath")
    assert importlib.import_module(f"{pkgname}.x").WHO == "real"
    assert importlib.import_module(f"{pkgname}.y").WHO == "bridge"
    assert bi.load(f"{pkgname}.y").WHO == "bridge"


def test_load_of_a_mount_package_has_no_file(tree, pkgname):
    bi.mount(pkgname, tree({"a.py": ""}))
    pkg = bi.load(pkgname)
    assert not hasattr(pkg, "__file__") and not hasattr(pkg, "__cached__")


def test_set_mounts_takes_mount_configs_and_refuses_anything_else(tree, pkgname):
    """One record type crosses into the finder: MountConfig (no positional
    tuples), given back by mounts()."""
    d = tree({"a.py": ""})
    before = _native.finder.mounts()
    try:
        config = _native.MountConfig(pkgname, [str(d)], "*.py")
        _native.finder.set_mounts([config])
        (got,) = _native.finder.mounts()
        assert got == config and (got.package, got.directories) == (pkgname, (str(d),))
        assert (got.pattern, got.allow_external_symlinks, got.atomic) == ("*.py", False, False)
        with pytest.raises(TypeError, match="takes _native.MountConfig objects, not list"):
            _native.finder.set_mounts([[pkgname, [str(d)], "*.py", False]])
        assert _native.finder.mounts() == [config]  # the refused call changed nothing
        (child,) = _native.finder.list_children(pkgname)
        assert (child.name, child.is_package, child.file, child.shadowed) == (
            "a", False, str(d / "a.py"), ())
        r = _native.finder.resolve(f"{pkgname}.a")
        assert (r.kind, r.file, r.mount) == ("module", str(d / "a.py"), pkgname)
        assert _native.finder.resolve("json").kind == "miss"
    finally:
        _native.finder.set_mounts(before)
