"""Public API: mount, unmount, mounts, install, uninstall."""

from __future__ import annotations

import importlib
import sys

import pytest

import bridgeimport as bi
from bridgeimport import _native


def test_mount_returns_mount_and_installs(tree, pkgname):
    bi.uninstall()
    d = tree({"a.py": ""})
    m = bi.mount(pkgname, d)
    assert isinstance(m, bi.Mount)
    assert m.package == pkgname and m.directories == (str(d),) and m.pattern == "*.py"
    assert m in bi.mounts() and bi.find_mount(pkgname) is m
    assert bi.installed() and sys.meta_path[0] is _native.finder


def test_mount_accepts_pathlike_and_relative(tree, pkgname, monkeypatch):
    d = tree({"a.py": ""})
    monkeypatch.chdir(d.parent)
    m = bi.mount(pkgname, d.name)
    assert m.directories == (str(d),)


def test_remount_same_is_idempotent_different_needs_replace(tree, pkgname):
    d1, d2 = tree({"a.py": ""}, sub="d1"), tree({"a.py": ""}, sub="d2")
    m = bi.mount(pkgname, d1)
    assert bi.mount(pkgname, d1) is m
    with pytest.raises(ValueError, match="already mounted"):
        bi.mount(pkgname, d2)
    assert bi.find_mount(pkgname) is m
    m2 = bi.mount(pkgname, d2, replace=True)
    assert m2.directories == (str(d2),)
    m3 = m2.add_directory(d1)
    assert m3.directories == (str(d2), str(d1))


@pytest.mark.parametrize("package, exc", [("", ValueError), ("a..b", ValueError),
                                          ("1a", ValueError), ("a/b", ValueError),
                                          ("a-b", ValueError), (None, TypeError)])
def test_bad_package_names(tree, package, exc):
    with pytest.raises(exc):
        bi.mount(package, tree({"a.py": ""}))


def test_bad_directories_and_globs(tree, pkgname, tmp_path):
    before = bi.mounts()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bi.mount(pkgname, tmp_path / "nope")
    f = tmp_path / "file.txt"
    f.write_text("")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        bi.mount(pkgname, f)
    for glob in ("../*.py", "a/*.py", "", "..", "x\0.py"):
        with pytest.raises(ValueError):
            bi.mount(pkgname, tree({"a.py": ""}), pattern=glob)
    with pytest.raises(ValueError, match="at least one directory"):
        bi.mount(pkgname)
    assert bi.mounts() == before


def test_unmount_keeps_loaded_modules(tree, pkgname):
    bi.mount(pkgname, tree({"a.py": "", "b.py": ""}))
    a = importlib.import_module(f"{pkgname}.a")
    removed = bi.unmount(pkgname)
    assert removed.package == pkgname and bi.find_mount(pkgname) is None
    assert sys.modules[f"{pkgname}.a"] is a
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.b")
    with pytest.raises(ValueError, match="not mounted"):
        bi.unmount(pkgname)


def test_install_is_idempotent_and_keeps_first_place(tree, pkgname):
    bi.install()
    bi.install()
    assert sum(f is _native.finder for f in sys.meta_path) == 1
    sys.meta_path.append(_native.finder)  # a careless second registration
    bi.install()
    assert sum(f is _native.finder for f in sys.meta_path) == 1
    assert sys.meta_path[0] is _native.finder
    bi.uninstall()
    bi.uninstall()
    assert not bi.installed()
    bi.mount(pkgname, tree({"a.py": ""}))
    assert bi.installed()


def test_uninstalled_finder_serves_nothing(tree, pkgname):
    bi.mount(pkgname, tree({"a.py": ""}))
    bi.uninstall()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.a")


def test_mounts_outside_each_other(tree, pkgname):
    bi.mount(pkgname, tree({"x.py": "WHO = 'outer'\n"}, sub="outer"))
    bi.mount(f"{pkgname}.inner.deep", tree({"y.py": "WHO = 'deep'\n"}, sub="deep"))
    assert importlib.import_module(f"{pkgname}.x").WHO == "outer"
    assert importlib.import_module(f"{pkgname}.inner.deep.y").WHO == "deep"
    assert sys.modules[f"{pkgname}.inner"].__path__ == [f"bridgeimport://{pkgname}.inner"]


def test_public_api_is_documented():
    for name in bi.__all__:
        obj = getattr(bi, name)
        assert obj.__doc__, name
