"""The native finder: protocol, mounts, prefixes, globs, shadowing, caches."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import pkgutil
import sys

import pytest

import bridgeimport as bi
from bridgeimport import _native


def test_finder_is_native_and_first_on_meta_path(tree, pkgname):
    bi.mount(pkgname, tree({"m.py": "X = 1\n"}))
    assert sys.meta_path[0] is _native.finder
    assert type(sys.meta_path[0]) is bi.Finder
    assert isinstance(sys.meta_path[0], importlib.abc.MetaPathFinder)
    # find_spec is the raw fast entry point, not a pybind11-bound method
    assert type(_native.finder.find_spec).__name__ == "builtin_function_or_method"


def test_miss_returns_none_for_unrelated_names(tree, pkgname):
    bi.mount(pkgname, tree({"m.py": ""}))
    f = _native.finder.find_spec
    for name in ("json", "os.path", "xml.dom.minidom", pkgname + "x", "", "a" * 5000):
        assert f(name, None) is None
    assert f(fullname="json", path=None, target=None) is None
    assert f(42) is None
    with pytest.raises(TypeError):
        f()
    with pytest.raises(TypeError):
        f("json", bogus=1)


def test_spec_is_a_real_module_spec(tree, pkgname):
    d = tree({"m.py": "X = 1\n", "sub/__init__.py": "", "sub/n.py": ""})
    bi.mount(pkgname, d)
    spec = _native.finder.find_spec(f"{pkgname}.m", None)
    assert type(spec) is importlib.machinery.ModuleSpec
    assert spec.name == f"{pkgname}.m"
    assert spec.origin == str(d / "m.py")
    assert spec.has_location
    assert spec.cached == importlib.util.cache_from_source(str(d / "m.py"))
    assert spec.submodule_search_locations is None
    assert type(spec.loader) is bi.Loader
    assert isinstance(spec.loader, importlib.abc.InspectLoader)
    pkg = _native.finder.find_spec(f"{pkgname}.sub", None)
    assert pkg.origin == str(d / "sub" / "__init__.py")
    assert pkg.submodule_search_locations == [f"bridgeimport://{pkgname}.sub"]
    assert pkg.parent == f"{pkgname}.sub"


def test_module_attributes_match_cpython_source_modules(tree, pkgname, tmp_path):
    # The same file imported by stock importlib from sys.path and by bridgeimport.
    body = "import sys\nNAME = __name__\n"
    stock_root = tmp_path / "stock"
    (stock_root / f"{pkgname}_stock").mkdir(parents=True)
    (stock_root / f"{pkgname}_stock" / "__init__.py").write_text("")
    (stock_root / f"{pkgname}_stock" / "m.py").write_text(body)
    sys.path.insert(0, str(stock_root))
    stock = importlib.import_module(f"{pkgname}_stock.m")
    bi.mount(pkgname, tree({"m.py": body}))
    ours = importlib.import_module(f"{pkgname}.m")
    assert sorted(vars(ours)) == sorted(vars(stock))
    assert ours.__name__ == f"{pkgname}.m" and ours.NAME == ours.__name__
    assert ours.__package__ == pkgname
    assert ours.__spec__.name == ours.__name__
    assert ours.__loader__ is ours.__spec__.loader
    assert ours.__file__ == ours.__spec__.origin
    # 3.15 no longer sets __cached__ (_init_module_attrs); vars() above match stock.
    assert getattr(ours, "__cached__", ours.__spec__.cached) == ours.__spec__.cached
    assert type(ours.__builtins__) is type(stock.__builtins__)
    assert not hasattr(ours, "__path__")
    assert sys.modules[pkgname].m is ours


def test_package_attributes(tree, pkgname):
    d = tree({"pkg/__init__.py": "Y = 2\n", "pkg/inner.py": "Z = 3\n"})
    bi.mount(pkgname, d)
    pkg = importlib.import_module(f"{pkgname}.pkg")
    assert pkg.__file__ == str(d / "pkg" / "__init__.py")
    assert pkg.__package__ == f"{pkgname}.pkg"
    assert pkg.__path__ == [f"bridgeimport://{pkgname}.pkg"]
    inner = importlib.import_module(f"{pkgname}.pkg.inner")
    assert inner.Z == 3 and pkg.inner is inner


def test_synthetic_mount_package_is_namespace_like(tree, pkgname):
    bi.mount(f"{pkgname}.deep.lib", tree({"m.py": "X = 1\n"}))
    mod = importlib.import_module(f"{pkgname}.deep.lib.m")
    assert mod.X == 1
    for name in (pkgname, f"{pkgname}.deep", f"{pkgname}.deep.lib"):
        pkg = sys.modules[name]
        assert pkg.__spec__.origin is None
        assert not hasattr(pkg, "__file__")
        assert pkg.__path__ == [f"bridgeimport://{name}"]
        assert type(pkg.__loader__) is bi.Loader
    assert sys.modules[f"{pkgname}.deep"].lib is sys.modules[f"{pkgname}.deep.lib"]


def test_glob_excluded_files_are_never_importable(tree, pkgname):
    d = tree({"a_bridge.py": "", "helper.py": "", "sub/__init__.py": "",
              "sub/b_bridge.py": "", "sub/other.py": ""})
    bi.mount(pkgname, d, pattern="*_bridge.py")
    importlib.import_module(f"{pkgname}.a_bridge")
    importlib.import_module(f"{pkgname}.sub.b_bridge")
    for name in ("helper", "sub.other"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"{pkgname}.{name}")
    # Not even through the stock path machinery, with our meta finder removed.
    bi.uninstall()
    sys.path_hooks.insert(0, __import__("bridgeimport._mounts").__dict__["_mounts"].path_hook)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.helper")


def test_pkgutil_lists_bridges(tree, pkgname):
    d = tree({"a.py": "", "b.py": "", "not-an-identifier.py": "", "notes.txt": "",
              "sub/__init__.py": "", "sub/c.py": "", "plain_dir/d.py": ""})
    bi.mount(pkgname, d)
    pkg = importlib.import_module(pkgname)
    listed = sorted((name, ispkg) for _, name, ispkg in pkgutil.iter_modules(pkg.__path__))
    assert listed == [("a", False), ("b", False), ("sub", True)]
    walked = sorted(info.name for info in pkgutil.walk_packages(pkg.__path__, pkgname + "."))
    assert walked == [f"{pkgname}.a", f"{pkgname}.b", f"{pkgname}.sub", f"{pkgname}.sub.c"]


def test_first_directory_wins_and_shadowed_are_reported(tree, pkgname):
    first = tree({"x.py": "WHO = 'first'\n"}, sub="one")
    second = tree({"x.py": "WHO = 'second'\n", "y.py": "WHO = 'second'\n"}, sub="two")
    m = bi.mount(pkgname, first, second)
    assert importlib.import_module(f"{pkgname}.x").WHO == "first"
    assert importlib.import_module(f"{pkgname}.y").WHO == "second"
    assert m.shadowed() == {f"{pkgname}.x": [str(second / "x.py")]}
    assert m.modules() == [f"{pkgname}.x", f"{pkgname}.y"]


def test_package_directory_beats_module_file(tree, pkgname):
    bi.mount(pkgname, tree({"x.py": "KIND = 'module'\n", "x/__init__.py": "KIND = 'package'\n"}))
    assert importlib.import_module(f"{pkgname}.x").KIND == "package"


def test_directory_without_init_is_not_a_package(tree, pkgname):
    bi.mount(pkgname, tree({"plain/m.py": ""}))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.plain.m")


def test_mount_never_shadows_a_real_package(tree, pkgname, tmp_path):
    real = tmp_path / "site" / pkgname
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\n")
    (real / "mod.py").write_text("WHO = 'real'\n")
    sys.path.insert(0, str(tmp_path / "site"))
    bi.mount(pkgname, tree({"mod.py": "WHO = 'bridge'\n", "extra.py": "WHO = 'bridge'\n"}))
    pkg = importlib.import_module(pkgname)
    assert pkg.REAL is True  # the real package, not a synthetic one
    assert importlib.import_module(f"{pkgname}.mod").WHO == "real"
    extra = importlib.import_module(f"{pkgname}.extra")
    assert extra.WHO == "bridge" and type(extra.__loader__) is bi.Loader


def test_mount_into_a_real_packages_own_directory(tmp_path, pkgname):
    # mlpy's case: the mount directory is the package's own directory.
    root = tmp_path / "site"
    std = root / pkgname / "stdlib"
    std.mkdir(parents=True)
    (root / pkgname / "__init__.py").write_text("")
    (std / "__init__.py").write_text("INIT = True\n")
    (std / "datetime_bridge.py").write_text("KIND = 'bridge'\n")
    (std / "helper.py").write_text("KIND = 'helper'\n")
    sys.path.insert(0, str(root))
    bi.mount(f"{pkgname}.stdlib", std, pattern="*_bridge.py")
    stdlib = importlib.import_module(f"{pkgname}.stdlib")
    assert stdlib.INIT is True
    assert stdlib.__path__ == [str(std)]
    bridge = importlib.import_module(f"{pkgname}.stdlib.datetime_bridge")
    helper = importlib.import_module(f"{pkgname}.stdlib.helper")
    assert type(bridge.__loader__) is bi.Loader
    assert type(helper.__loader__) is importlib.machinery.SourceFileLoader
    assert bi.load(f"{pkgname}.stdlib.datetime_bridge") is bridge


def test_invalidate_caches_reaches_the_finder(tree, pkgname):
    d = tree({"a.py": ""})
    bi.mount(pkgname, d)
    importlib.import_module(f"{pkgname}.a")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.late")
    (d / "late.py").write_text("OK = 1\n")
    importlib.invalidate_caches()
    assert importlib.import_module(f"{pkgname}.late").OK == 1


def test_new_file_seen_without_invalidation_once_mtime_changes(tree, pkgname):
    d = tree({"a.py": ""})
    bi.mount(pkgname, d)
    old = 1_000_000_000  # the listing is trusted: mtime far in the past
    os.utime(d, ns=(old, old))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.late")
    (d / "late.py").write_text("OK = 2\n")  # bumps the directory mtime
    assert importlib.import_module(f"{pkgname}.late").OK == 2


@pytest.mark.parametrize("bad", ["", ".", "a..b", ".a", "a.", "a/b", "a\\b", "..", "a.1b",
                                 "a-b", "a.b c", "a\0b", "a." + "x" * 2000])
def test_invalid_names_are_refused(tree, pkgname, bad):
    bi.mount(pkgname, tree({"a.py": "", "b.py": ""}))
    name = f"{pkgname}.{bad}" if bad else pkgname + "."
    before = dict(sys.modules)
    assert _native.finder.find_spec(name, None) is None
    with pytest.raises(bi.InvalidModuleNameError) as info:
        bi.load(name)
    assert isinstance(info.value, ImportError) and isinstance(info.value, ValueError)
    assert name[:40] in str(info.value)
    assert sys.modules == before


def test_non_ascii_names_follow_str_isidentifier(tree, pkgname):
    bi.mount(pkgname, tree({"café.py": "OK = 1\n"}))
    assert importlib.import_module(f"{pkgname}.café").OK == 1
    with pytest.raises(bi.InvalidModuleNameError):
        bi.load(f"{pkgname}.caf\u2603")  # valid UTF-8, not an identifier (snowman)
    with pytest.raises(bi.InvalidModuleNameError):
        bi.load(f"{pkgname}.\u00b7x")  # U+00B7 may continue an identifier, not start one
