"""The `bridgeimport` logger (DEBUG lines for find hits, loads, reloads and
rollbacks; nothing for misses or when DEBUG is off), the warning category and
the exception hierarchy."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import warnings

import pytest

import bridgeimport as bi
from bridgeimport import _native

LOGGER = "bridgeimport"


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_find_hit_load_reload_and_rollback_are_logged(tree, pkgname, caplog):
    root = tree({"ok.py": "X = 1\n", "bad.py": f"import {pkgname}.ok\nraise RuntimeError('no')\n"})
    bi.mount(pkgname, root)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    mod = importlib.import_module(f"{pkgname}.ok")
    got = lines(caplog)
    assert f"find {pkgname}: mount package" in got
    assert f"find {pkgname}.ok: {root / 'ok.py'}" in got
    (load,) = [m for m in got if m.startswith(f"load {pkgname}.ok ")]
    assert f"from {root / 'ok.py'} (code from source" in load and load.endswith(" ms)")
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == LOGGER)

    caplog.clear()
    importlib.import_module(f"{pkgname}.ok")  # already loaded: no finder call at all
    assert lines(caplog) == []
    bi.reload(mod)
    assert any(m.startswith(f"reload {pkgname}.ok from ") for m in lines(caplog))

    caplog.clear()
    with pytest.raises(RuntimeError):
        importlib.import_module(f"{pkgname}.bad")
    (rollback,) = [m for m in lines(caplog) if m.startswith("rollback")]
    assert (rollback.startswith(f"rollback {pkgname}.bad: ")
            and "rolled back sys.modules" in rollback)

    caplog.clear()
    (root / "ok.py").write_text("X = 2\nraise ValueError\n")
    with pytest.raises(ValueError):
        bi.reload(mod)
    assert any(m.startswith(f"reload failed {pkgname}.ok: ") and "namespace restored" in m
               for m in lines(caplog))


def test_misses_are_never_logged(tree, pkgname, caplog):
    bi.mount(pkgname, tree({"a.py": ""}))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert _native.finder.find_spec("json.decoder", None) is None  # unrelated name
    assert _native.finder.find_spec(f"{pkgname}.missing", None) is None  # under a mount
    importlib.import_module("colorsys")
    assert lines(caplog) == []


def test_nothing_is_logged_unless_debug_is_on_and_level_changes_apply_at_once(
        tree, pkgname, caplog):
    root = tree({"a.py": "", "b.py": "", "c.py": "", "d.py": ""})
    bi.mount(pkgname, root)
    caplog.set_level(logging.DEBUG, logger=LOGGER)  # the capturing handler takes all
    logging.getLogger(LOGGER).setLevel(logging.INFO)
    importlib.import_module(f"{pkgname}.a")
    assert lines(caplog) == []
    logging.getLogger(LOGGER).setLevel(logging.DEBUG)  # the native side sees it at once
    importlib.import_module(f"{pkgname}.b")
    assert any(m.startswith(f"load {pkgname}.b ") for m in lines(caplog))
    caplog.clear()
    logging.disable(logging.DEBUG)
    try:
        importlib.import_module(f"{pkgname}.c")
    finally:
        logging.disable(logging.NOTSET)
    assert lines(caplog) == []
    logging.getLogger(LOGGER).setLevel(logging.WARNING)
    importlib.import_module(f"{pkgname}.d")
    assert lines(caplog) == []


def test_a_failing_log_handler_never_fails_an_import(tree, pkgname, caplog, monkeypatch):
    bi.mount(pkgname, tree({"a.py": "A = 1\n"}))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def explode(record):
        raise RuntimeError("filter failed")

    logger = logging.getLogger(LOGGER)
    logger.addFilter(explode)
    try:
        assert importlib.import_module(f"{pkgname}.a").A == 1
    finally:
        logger.removeFilter(explode)
    assert unraisable and all(isinstance(u.exc_value, RuntimeError) for u in unraisable)


def test_logging_is_never_imported_by_bridgeimport(tmp_path):
    (tmp_path / "m.py").write_text("")
    code = (f"import sys, bridgeimport as bi; bi.mount('lgp', {str(tmp_path)!r}); "
            "import lgp.m; bi.load('lgp.m'); print('logging' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, "False"), r.stderr


# -- warnings and exceptions ------------------------------------------------------

def test_warning_category_hierarchy_and_collision_warning(tree, pkgname):
    assert issubclass(bi.BridgeImportWarning, UserWarning)
    assert issubclass(bi.BridgeCollisionWarning, bi.BridgeImportWarning)
    first = tree({"x_bridge.py": ""}, sub="one")
    second = tree({"x_bridge.py": ""}, sub="two")
    with pytest.warns(bi.BridgeImportWarning, match="has the same name"):
        bi.Registry(pkgname, first, second).names()
    with warnings.catch_warnings():
        warnings.simplefilter("error", bi.BridgeImportWarning)  # users can escalate them
        reg = bi.Registry(pkgname)
        with pytest.raises(bi.BridgeCollisionWarning):
            reg.names()


def test_exceptions_are_import_errors_where_cpython_raises_one(tree, pkgname):
    assert issubclass(bi.BridgeImportError, ImportError)
    assert issubclass(bi.BridgeNotFoundError, ModuleNotFoundError)
    assert issubclass(bi.BridgeNotFoundError, bi.BridgeImportError)
    assert issubclass(bi.InvalidModuleNameError, bi.BridgeImportError)
    assert issubclass(bi.InvalidModuleNameError, ValueError)
    root = tree({"a.py": ""})
    bi.mount(pkgname, root)
    with pytest.raises(ModuleNotFoundError) as info:
        bi.load(f"{pkgname}.nope")
    assert info.value.name == f"{pkgname}.nope"
    with pytest.raises(ImportError):
        bi.load(f"{pkgname}.9bad")
    with pytest.raises(ImportError):
        bi.reload(f"{pkgname}.a")  # not loaded yet
    spec = _native.finder.find_spec(f"{pkgname}.a", None)
    (root / "a.py").unlink()
    with pytest.raises(bi.BridgeImportError, match=r"a\.py"):
        spec.loader.get_source(f"{pkgname}.a")
    with pytest.raises(ValueError):  # API misuse stays ValueError
        bi.unmount(f"{pkgname}_never_mounted")
