"""Default rollback versus the opt-in atomic mode."""

from __future__ import annotations

import importlib
import sys

import pytest

import bridgeimport as bi

FILES = {
    "sibling.py": "VALUE = 'sibling'\n",
    "helper.py": "from . import sibling\n",
    "fails.py": ("from . import helper\nfrom . import sibling\n"
                 "raise RuntimeError('fails halfway')\n"),
    "preloaded.py": "",
    "uses_preloaded.py": "from . import preloaded\nraise RuntimeError('late')\n",
}


def test_default_keeps_siblings_loaded(tree, pkgname):
    bi.mount(pkgname, tree(FILES))
    pkg = bi.load(pkgname)
    with pytest.raises(RuntimeError, match="fails halfway"):
        bi.load(f"{pkgname}.fails")
    assert f"{pkgname}.fails" not in sys.modules
    assert f"{pkgname}.sibling" in sys.modules and f"{pkgname}.helper" in sys.modules
    assert pkg.sibling is sys.modules[f"{pkgname}.sibling"]


def test_atomic_load_removes_every_bridge_it_loaded(tree, pkgname):
    bi.mount(pkgname, tree(FILES))
    pkg = bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(RuntimeError, match="fails halfway") as info:
        bi.load(f"{pkgname}.fails", atomic=True)
    assert sys.modules == before
    assert not hasattr(pkg, "sibling") and not hasattr(pkg, "helper")
    assert any("atomic mode also removed" in n and f"{pkgname}.helper" in n
               and f"{pkgname}.sibling" in n for n in info.value.__notes__)
    # A later plain import loads everything afresh and consistently.
    assert importlib.import_module(f"{pkgname}.sibling").VALUE == "sibling"


def test_atomic_leaves_modules_loaded_before_it_alone(tree, pkgname):
    bi.mount(pkgname, tree(FILES))
    pre = bi.load(f"{pkgname}.preloaded")
    with pytest.raises(RuntimeError, match="late"):
        bi.load(f"{pkgname}.uses_preloaded", atomic=True)
    assert sys.modules[f"{pkgname}.preloaded"] is pre
    assert sys.modules[pkgname].preloaded is pre


def test_atomic_mount_option_applies_to_plain_imports(tree, pkgname):
    m = bi.mount(pkgname, tree(FILES), atomic=True)
    assert m.atomic
    bi.load(pkgname)
    before = dict(sys.modules)
    with pytest.raises(RuntimeError):
        importlib.import_module(f"{pkgname}.fails")
    assert sys.modules == before


def test_failure_caught_inside_an_atomic_load_keeps_its_work(tree, pkgname):
    bi.mount(pkgname, tree({**FILES, "tolerant.py": (
        "from . import sibling\n"
        "try:\n    from . import fails\nexcept RuntimeError:\n    FELL_BACK = True\n")}))
    bi.load(pkgname)
    tolerant = bi.load(f"{pkgname}.tolerant", atomic=True)
    assert tolerant.FELL_BACK
    assert f"{pkgname}.fails" not in sys.modules
    # The failed nested import's own siblings went; the successful load's stay.
    assert sys.modules[f"{pkgname}.sibling"] is tolerant.sibling
    assert f"{pkgname}.helper" not in sys.modules
