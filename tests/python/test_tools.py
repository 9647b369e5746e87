"""The tools a user already has, on bridge modules (DESIGN.md section 5).

inspect, tracebacks and linecache, importlib.resources, pkgutil, find_spec,
pickle and copy, runpy and ``python -m``, tracing (settrace, setprofile,
trace, coverage), ``-X importtime``, doctest and importlib.reload. Where it
sharpens a test, the same file imported from ``sys.path`` by stock CPython is
the reference.
"""

from __future__ import annotations

import importlib
import importlib.resources as resources
import importlib.util
import os
import pathlib
import sys
import warnings

import pytest

import bridgeimport as bi

HAS_READERS = sys.version_info >= (3, 10)  # importlib.readers, FileReader


def import_from_sys_path(root: pathlib.Path, name: str):
    """Stock CPython's import of `name` with `root` on sys.path (the conftest
    fixture restores sys.path and sys.modules afterwards)."""
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return importlib.import_module(name)


# --- importlib.resources ------------------------------------------------------

RESOURCE_TREE = {
    "data.txt": "top data\n",
    "mod.py": "X = 1\n",
    "sub/__init__.py": "",
    "sub/data.txt": "sub data\n",
    "sub/inner.py": "",
    "sub/assets/logo.txt": "logo\n",
}


@pytest.mark.skipif(not HAS_READERS, reason="files() of 3.9 reads spec.origin only")
def test_resources_files_of_mount_package_and_subpackage(tree, pkgname, tmp_path):
    d = tree(RESOURCE_TREE)
    bi.mount(pkgname, d)
    top = resources.files(pkgname)
    assert top.joinpath("data.txt").read_text() == "top data\n"
    assert top.joinpath("data.txt").is_file() and not top.joinpath("sub").is_file()
    assert top.joinpath("sub").is_dir()
    assert sorted(p.name for p in top.iterdir()) == sorted(os.listdir(d))
    with resources.as_file(top / "data.txt") as real:
        assert pathlib.Path(real) == d / "data.txt"  # no temporary copy

    sub = resources.files(f"{pkgname}.sub")
    assert sub.joinpath("data.txt").read_text() == "sub data\n"
    assert sub.joinpath("assets", "logo.txt").read_bytes() == b"logo\n"
    assert not sub.joinpath("missing.txt").is_file()
    # Same answer as stock CPython for the same directory as a real package.
    (tmp_path / "real").mkdir()
    os.symlink(d / "sub", tmp_path / "real" / "stock_sub")
    stock = import_from_sys_path(tmp_path / "real", "stock_sub")
    stock_files = resources.files(stock)
    assert sorted(p.name for p in sub.iterdir()) == sorted(p.name for p in stock_files.iterdir())
    with resources.as_file(sub / "data.txt") as ours, resources.as_file(
            stock_files / "data.txt") as theirs:
        assert os.path.samefile(ours, theirs)


@pytest.mark.skipif(not HAS_READERS, reason="files() of 3.9 reads spec.origin only")
def test_resources_with_a_glob_and_placeholder_path(tree, pkgname):
    d = tree({"a_bridge.py": "", "helper.py": "", "data.txt": "top\n",
              "sub/__init__.py": "", "sub/x_bridge.py": "", "sub/data.txt": "sub\n"})
    bi.mount(pkgname, d, pattern="*_bridge.py")
    sub = importlib.import_module(f"{pkgname}.sub")
    assert sub.__path__[0].startswith("bridgeimport://")  # not a directory
    assert resources.files(pkgname).joinpath("data.txt").read_text() == "top\n"
    assert resources.files(f"{pkgname}.sub").joinpath("data.txt").read_text() == "sub\n"
    # The glob limits modules, not data: the directory is shown as it is.
    assert {p.name for p in resources.files(pkgname).iterdir()} == set(os.listdir(d))


@pytest.mark.skipif(not HAS_READERS, reason="MultiplexedPath exists from 3.10")
def test_resources_of_a_mount_over_several_directories(tree, pkgname):
    first = tree({"same.txt": "first\n", "only_first.txt": "1\n", "shared/a.txt": "a\n"},
                 sub="one")
    second = tree({"same.txt": "second\n", "only_second.txt": "2\n", "shared/b.txt": "b\n"},
                  sub="two")
    bi.mount(pkgname, first, second)
    files = resources.files(pkgname)
    names = [p.name for p in files.iterdir()]
    assert sorted(names) == ["only_first.txt", "only_second.txt", "same.txt", "shared"]
    # First directory wins, as it does for modules.
    assert files.joinpath("same.txt").read_text() == "first\n"
    assert files.joinpath("only_second.txt").read_text() == "2\n"
    if sys.version_info >= (3, 12):  # 3.10/3.11 MultiplexedPath does not merge subdirectories
        assert sorted(p.name for p in files.joinpath("shared").iterdir()) == ["a.txt", "b.txt"]


def test_resources_legacy_functions(tree, pkgname):
    d = tree(RESOURCE_TREE)
    bi.mount(pkgname, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.11, 3.12
        assert resources.read_text(f"{pkgname}.sub", "data.txt") == "sub data\n"
        assert resources.read_binary(f"{pkgname}.sub", "data.txt") == b"sub data\n"
        assert resources.is_resource(f"{pkgname}.sub", "data.txt")
        assert not resources.is_resource(f"{pkgname}.sub", "assets")
        assert "inner.py" in set(resources.contents(f"{pkgname}.sub"))
        with resources.path(f"{pkgname}.sub", "data.txt") as p:
            assert pathlib.Path(p) == d / "sub" / "data.txt"
        assert resources.read_text(pkgname, "data.txt") == "top data\n"


def test_resource_reader_protocol(tree, pkgname):
    d = tree(RESOURCE_TREE)
    bi.mount(pkgname, d)
    sub = importlib.import_module(f"{pkgname}.sub")
    reader = sub.__loader__.get_resource_reader(f"{pkgname}.sub")
    if HAS_READERS:  # what SourceFileLoader returns
        from importlib.readers import FileReader

        assert type(reader) is FileReader
        assert reader.files() == d / "sub"
    assert reader.resource_path("data.txt") == str(d / "sub" / "data.txt")
    with pytest.raises(ImportError):
        sub.__loader__.get_resource_reader("some.other.name")


def test_parent_of_a_deeper_mount_says_it_has_no_resources(tree, pkgname):
    d = tree({"data.txt": ""})
    bi.mount(f"{pkgname}.deep", d)
    top = importlib.import_module(pkgname)
    with pytest.raises(FileNotFoundError, match="parent of a deeper mount"):
        top.__loader__.get_resource_reader(pkgname)
    if HAS_READERS:
        with pytest.raises(FileNotFoundError, match="parent of a deeper mount"):
            resources.files(pkgname)
        assert resources.files(f"{pkgname}.deep").joinpath("data.txt").is_file()


# --- tracebacks and linecache ----------------------------------------------

def _traceback_line(func) -> str:
    """The source line a traceback shows for the innermost frame of func()."""
    import traceback

    try:
        func()
    except Exception:
        return traceback.format_exc().splitlines()[-2].strip()
    raise AssertionError("no exception")


def test_traceback_after_same_size_rewrite_and_reload_shows_new_lines(tree, pkgname):
    old = "def fail():\n    raise KeyError('old')\n"
    new = "def fail():\n    raise KeyError('new')\n"
    assert len(old) == len(new)
    d = tree({"tb.py": old})
    path = d / "tb.py"
    stamp = (1_600_000_000_000_000_000,) * 2
    os.utime(path, ns=stamp)
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.tb")
    assert _traceback_line(mod.fail) == "raise KeyError('old')"  # linecache now holds it
    # Same size, same mtime: what a rewrite within the clock's resolution
    # looks like to linecache (and to CPython's pyc check).
    path.write_text(new)
    os.utime(path, ns=stamp)
    assert importlib.reload(mod) is mod
    with pytest.raises(KeyError, match="new"):
        mod.fail()
    assert _traceback_line(mod.fail) == "raise KeyError('new')"
    import inspect
    import linecache

    assert "'new'" in inspect.getsource(mod.fail)
    size, mtime, lines, _ = linecache.cache[str(path)]
    assert (size, mtime) == (os.stat(path).st_size, os.stat(path).st_mtime)
    assert lines == new.splitlines(keepends=True)


def test_linecache_uses_loader_source_when_file_is_deleted(tree, pkgname, tmp_path):
    import linecache

    source = "def f():\n    return 1\n"
    d = tree({"gone.py": source})
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.gone")
    (d / "gone.py").unlink()
    linecache.checkcache(mod.__file__)
    # Through module globals' __loader__ / __spec__: the bytes that ran.
    assert linecache.getlines(mod.__file__, mod.__dict__) == source.splitlines(keepends=True)
    # Stock CPython re-reads the (deleted) file: nothing.
    stock_dir = tmp_path / "stock"
    stock_dir.mkdir()
    (stock_dir / f"{pkgname}_gone.py").write_text(source)
    stock = import_from_sys_path(stock_dir, f"{pkgname}_gone")
    (stock_dir / f"{pkgname}_gone.py").unlink()
    assert linecache.getlines(stock.__file__, stock.__dict__) == []


def test_linecache_after_a_bytecode_cache_load(tree, pkgname, monkeypatch):
    import linecache
    import py_compile

    stamp = (1_600_000_000_000_000_000,) * 2  # old enough for a timestamp pyc
    d = tree({"cached.py": "def f():\n    return 'pyc'\n"})
    path = d / "cached.py"
    os.utime(path, ns=stamp)
    cache = importlib.util.cache_from_source(str(path))
    # Compiled under another name: the loader must fix co_filename.
    py_compile.compile(str(path), cfile=cache, dfile="/elsewhere/cached.py",
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    path.write_text("def f():\n    return 'src'\n")  # same size and mtime: the pyc is valid
    os.utime(path, ns=stamp)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.cached")
    assert mod.f() == "pyc"  # the code came from the pyc
    assert mod.f.__code__.co_filename == str(path)
    assert mod.__spec__.loader is mod.__loader__
    path.unlink()
    linecache.checkcache(str(path))
    # No source was read for a pyc load and the file is gone: like CPython,
    # no lines and no error.
    assert linecache.getlines(mod.__file__, mod.__dict__) == []
