"""bi.Registry: keys, lazy discovery, identity with import, collisions, stats."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import bridgeimport as bi

STDLIB = {
    "datetime_bridge.py": "import datetime\nNAME = 'datetime'\n",
    "math_bridge.py": "NAME = 'math'\n",
    "helper.py": "raise AssertionError('never executed: not a bridge')\n",
    "text/__init__.py": "NAME = 'text'\n",
}


def test_keys_come_from_file_names_and_nothing_runs(tree, pkgname):
    reg = bi.Registry(pkgname, tree(STDLIB))
    assert reg.names() == ["datetime", "math", "text"]
    assert "datetime" in reg and "helper" not in reg and len(reg) == 3
    assert reg.module_name("datetime") == f"{pkgname}.datetime_bridge"
    assert not any(name.startswith(pkgname + ".") for name in sys.modules)
    assert bi.find_mount(pkgname).pattern == "*_bridge.py"


def test_get_is_the_plain_import(tree, pkgname):
    reg = bi.Registry(pkgname, tree(STDLIB))
    dt = reg.get("datetime")
    assert dt is sys.modules[f"{pkgname}.datetime_bridge"]
    assert dt is importlib.import_module(f"{pkgname}.datetime_bridge")
    assert reg["datetime"] is dt and reg.get("text").NAME == "text"
    # and the other way round: import first, get later
    math = importlib.import_module(f"{pkgname}.math_bridge")
    assert reg.get("math") is math


def test_unknown_key(tree, pkgname):
    reg = bi.Registry(pkgname, tree(STDLIB))
    with pytest.raises(KeyError, match="datetime, math, text"):
        reg.get("nope")


def test_custom_key_function(tree, pkgname):
    reg = bi.Registry(pkgname, tree(STDLIB), key=lambda stem: stem.upper())
    assert reg.names() == ["DATETIME_BRIDGE", "MATH_BRIDGE", "TEXT"]
    assert reg.get("MATH_BRIDGE").NAME == "math"


def test_key_collision_warns_naming_both_files(tree, pkgname):
    d = tree({"a_bridge.py": "WHO = 'a'\n", "b_bridge.py": "WHO = 'b'\n"})
    with pytest.warns(bi.BridgeCollisionWarning) as caught:
        reg = bi.Registry(pkgname, d, key=lambda stem: "same")
        assert reg.names() == ["same"]
    message = str(caught[0].message)
    assert str(d / "a_bridge.py") in message and str(d / "b_bridge.py") in message
    assert caught[0].filename == __file__  # points at the user's line
    assert reg.get("same").WHO == "a"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once, not on every scan
        reg.refresh()


def test_shadowed_file_in_extension_directory_warns(tree, pkgname):
    base = tree({"x_bridge.py": "WHO = 'base'\n"}, sub="base")
    ext = tree({"x_bridge.py": "WHO = 'ext'\n", "y_bridge.py": "WHO = 'ext'\n"}, sub="ext")
    reg = bi.Registry(pkgname, base)
    assert reg.names() == ["x"]
    with pytest.warns(bi.BridgeCollisionWarning, match="ignored") as caught:
        reg.add_directory(ext)
    assert str(base / "x_bridge.py") in str(caught[0].message)
    assert str(ext / "x_bridge.py") in str(caught[0].message)
    assert caught[0].filename == __file__
    assert reg.names() == ["x", "y"]
    assert reg.get("x").WHO == "base" and reg.get("y").WHO == "ext"


def test_registry_on_an_existing_mount(tree, pkgname):
    d = tree(STDLIB)
    bi.mount(pkgname, d, pattern="*_bridge.py")
    assert bi.Registry(pkgname).names() == ["datetime", "math", "text"]
    with pytest.raises(ValueError, match="pattern"):
        bi.Registry(pkgname, pattern="*.py")
    with pytest.raises(ValueError, match="needs directories"):
        bi.Registry(pkgname + "_unmounted")


def test_reload_and_refresh(tree, pkgname):
    d = tree(STDLIB)
    reg = bi.Registry(pkgname, d)
    math = reg.get("math")
    (d / "math_bridge.py").write_text("NAME = 'math v2'\n")
    assert reg.reload("math") is math and math.NAME == "math v2"
    (d / "new_bridge.py").write_text("NAME = 'new'\n")
    (d / "math_bridge.py").write_text("NAME = 'math v3'\n")
    report = reg.refresh()
    assert report == {"added": ["new"], "removed": [], "reloaded": ["math"], "failed": []}
    assert math.NAME == "math v3" and reg.get("new").NAME == "new"
    (d / "math_bridge.py").write_text("raise RuntimeError('bad edit')\n")
    report = reg.refresh()
    assert report["failed"] == ["math"] and math.NAME == "math v3"  # old contents kept


def test_stats(tree, pkgname):
    d = tree(STDLIB)
    reg = bi.Registry(pkgname, d)
    reg.get("math")
    reg.get("math")
    reg.reload("math")
    stats = reg.stats()
    assert stats["math"]["gets"] == 2 and stats["math"]["loaded"] is True
    assert stats["math"]["executions"] == 2 and stats["math"]["failures"] == 0
    assert stats["math"]["load_seconds"] > 0 and stats["math"]["total_seconds"] > 0
    assert stats["datetime"]["loaded"] is False and stats["datetime"]["executions"] == 0
    assert stats["math"]["file"] == str(d / "math_bridge.py")


def test_a_pattern_matching_none_of_the_files_warns_once(tree, pkgname):
    """Registry's default pattern is *_bridge.py, mount()'s is *.py: a plugin
    folder of plain modules would list nothing in silence."""
    root = tree({"csv_reader.py": "", "json_reader.py": ""})
    reg = bi.Registry(pkgname, root)
    with pytest.warns(bi.BridgeImportWarning,
                      match=r"none of the 2 \.py files .* is served") as got:
        assert reg.names() == []
    assert "pattern='*.py'" in str(got[0].message) and got[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.refresh()
        assert reg.names() == []  # once per directory
        other = bi.Registry(pkgname + "_all", root, pattern="*.py")
        assert other.names() == ["csv_reader", "json_reader"]
