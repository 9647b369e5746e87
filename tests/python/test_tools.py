"""The tools a user already has, on bridge modules (docs/design.md section 5).

inspect, tracebacks and linecache, importlib.resources, pkgutil, find_spec,
pickle and copy, runpy and ``python -m``, tracing (settrace, setprofile,
trace, coverage), ``-X importtime``, doctest and importlib.reload. Where it
sharpens a test, the same file imported from ``sys.path`` by stock CPython is
the reference.
"""

from __future__ import annotations

import contextlib
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


def test_resources_files_of_mount_package_and_subpackage(tree, pkgname, tmp_path):
    d = tree(RESOURCE_TREE)
    bi.mount(pkgname, d)
    if HAS_READERS:
        top = resources.files(pkgname)
        assert top.joinpath("data.txt").read_text() == "top data\n"
        assert top.joinpath("data.txt").is_file() and not top.joinpath("sub").is_file()
        assert top.joinpath("sub").is_dir()
        assert sorted(p.name for p in top.iterdir()) == sorted(os.listdir(d))
        with resources.as_file(top / "data.txt") as real:
            assert pathlib.Path(real) == d / "data.txt"  # no temporary copy
    else:  # 3.9's files() needs spec.origin: fails as for namespace packages
        with pytest.raises(TypeError):
            resources.files(pkgname)

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
    deep = importlib.import_module(f"{pkgname}.deep")
    (d / "data.txt").unlink()
    d.rmdir()
    with pytest.raises(FileNotFoundError, match="directories are gone"):
        deep.__loader__.get_resource_reader(f"{pkgname}.deep")


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


# --- inspect ------------------------------------------------------------------

INSPECT_SOURCE = '''\
"""A bridge module."""


def add(a, b):
    """Adds."""
    return a + b


class Thing:
    def __init__(self, x):
        self.x = x

    def double(self):
        return 2 * self.x
'''


def test_inspect_on_bridge_functions_classes_and_modules(tree, pkgname, tmp_path):
    import inspect

    d = tree({"sub/__init__.py": "", "sub/shapes.py": INSPECT_SOURCE})
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.sub.shapes")
    path = str(d / "sub" / "shapes.py")
    for obj in (mod, mod.add, mod.Thing, mod.Thing.double):
        assert inspect.getsourcefile(obj) == path
        assert inspect.getfile(obj) == path
        assert inspect.getmodule(obj) is mod
    assert inspect.getsource(mod) == INSPECT_SOURCE
    stock_dir = tmp_path / "stock"
    stock_dir.mkdir()
    (stock_dir / f"{pkgname}_shapes.py").write_text(INSPECT_SOURCE)
    stock = import_from_sys_path(stock_dir, f"{pkgname}_shapes")
    for name in ("add", "Thing"):
        assert inspect.getsource(getattr(mod, name)) == inspect.getsource(getattr(stock, name))
        assert (inspect.getsourcelines(getattr(mod, name))[1]
                == inspect.getsourcelines(getattr(stock, name))[1])
    assert inspect.getsource(mod.Thing.double).strip().startswith("def double(self):")
    assert inspect.getmodulename(path) == "shapes"
    pkg = sys.modules[f"{pkgname}.sub"]
    assert inspect.getfile(pkg) == str(d / "sub" / "__init__.py")
    with pytest.raises(TypeError):  # a mount package has no file, as a namespace package
        inspect.getfile(sys.modules[pkgname])


def test_traceback_format_exc_shows_bridge_lines(tree, pkgname):
    import traceback

    d = tree({"deep.py": "def outer():\n    return inner()\n\n\ndef inner():\n"
                         "    raise ValueError('from the bridge')\n"})
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.deep")
    try:
        mod.outer()
    except ValueError:
        text = traceback.format_exc()
    path = d / "deep.py"
    assert f'File "{path}", line 2, in outer\n    return inner()' in text
    assert f'File "{path}", line 6, in inner\n    raise ValueError(\'from the bridge\')' in text


# --- pkgutil and find_spec --------------------------------------------------------

def test_pkgutil_over_a_globbed_multi_directory_mount(tree, pkgname):
    import pkgutil

    first = tree({"a_bridge.py": "", "shared_bridge.py": "WHO = 1\n", "helper.py": "",
                  "sub/__init__.py": "", "sub/x_bridge.py": "", "sub/y.py": "",
                  "sub/data.txt": "sub data\n"}, sub="one")
    second = tree({"b_bridge.py": "", "shared_bridge.py": "WHO = 2\n", "other.py": "",
                   "sub/__init__.py": "", "sub/z_bridge.py": ""}, sub="two")
    bi.mount(pkgname, first, second, pattern="*_bridge.py")
    pkg = importlib.import_module(pkgname)
    listed = [(i.name, i.ispkg) for i in pkgutil.iter_modules(pkg.__path__)]
    # Each name once (shared_bridge, sub), only what the glob serves, the
    # first directory's package only (sub/z_bridge.py in `two` is shadowed).
    assert sorted(listed) == [("a_bridge", False), ("b_bridge", False),
                              ("shared_bridge", False), ("sub", True)]
    walked = [i.name for i in pkgutil.walk_packages(pkg.__path__, pkgname + ".")]
    assert sorted(walked) == sorted(f"{pkgname}.{n}" for n in (
        "a_bridge", "b_bridge", "shared_bridge", "sub", "sub.x_bridge"))
    assert len(walked) == len(set(walked))
    for name in walked:  # everything listed imports
        importlib.import_module(name)
    assert pkgutil.get_data(f"{pkgname}.sub", "data.txt") == b"sub data\n"
    # A mount package has no __file__: pkgutil.get_data gives None, as for a
    # namespace package.
    assert pkgutil.get_data(pkgname, "a_bridge.py") is None


def test_pkgutil_lists_what_cpython_lists_for_the_same_directory(tree, pkgname, tmp_path):
    import pkgutil

    files = {"__init__.py": "", "a.py": "", "b.py": "", "notes.txt": "", "sub/__init__.py": "",
             "sub/c.py": "", "sub/deeper/__init__.py": "", "sub/deeper/d.py": "",
             "plain_dir/e.py": ""}
    d = tree(files, sub=f"{pkgname}_stock")
    bi.mount(pkgname, d)
    ours = importlib.import_module(pkgname)
    stock = import_from_sys_path(tmp_path, f"{pkgname}_stock")

    def names(module, prefix):
        return sorted(i.name[len(prefix):] for i in pkgutil.walk_packages(module.__path__, prefix))

    assert names(ours, pkgname + ".") == names(stock, f"{pkgname}_stock.")
    assert names(ours, pkgname + ".") == ["a", "b", "sub", "sub.c", "sub.deeper", "sub.deeper.d"]


def test_find_spec_for_bridge_names(tree, pkgname):
    d = tree({"m.py": "", "helper.py": "", "p/__init__.py": "", "p/q_bridge.py": "",
              "m_bridge.py": ""})
    bi.mount(pkgname, d, pattern="*_bridge.py")
    spec = importlib.util.find_spec(f"{pkgname}.m_bridge")
    assert isinstance(spec.loader, bi.Loader)
    assert spec.origin == str(d / "m_bridge.py") and spec.has_location
    assert spec.cached == importlib.util.cache_from_source(str(d / "m_bridge.py"))
    assert spec.submodule_search_locations is None and spec.parent == pkgname
    pkg_spec = importlib.util.find_spec(f"{pkgname}.p")
    assert pkg_spec.origin == str(d / "p" / "__init__.py")
    assert pkg_spec.submodule_search_locations == [f"bridgeimport://{pkgname}.p"]
    assert importlib.util.find_spec(f"{pkgname}.p.q_bridge").origin == str(d / "p" / "q_bridge.py")
    assert importlib.util.find_spec(pkgname).origin is None
    for excluded in ("m", "helper", "missing_bridge"):
        assert importlib.util.find_spec(f"{pkgname}.{excluded}") is None
    assert f"{pkgname}.m_bridge" not in sys.modules


# --- pickle and copy --------------------------------------------------------------

PICKLE_SOURCE = '''\
import dataclasses


@dataclasses.dataclass
class Point:
    x: int
    y: int

    class Inner:
        def __eq__(self, other):
            return type(other) is type(self)


def norm(p):
    return abs(p.x) + abs(p.y)
'''


def test_pickle_and_copy_of_bridge_objects(tree, pkgname):
    import copy
    import pickle

    d = tree({"geo/__init__.py": "", "geo/deep/__init__.py": "",
              "geo/deep/shapes.py": PICKLE_SOURCE})
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.geo.deep.shapes")
    p = mod.Point(3, -4)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        for obj in (mod.Point, mod.norm, mod.Point.Inner):  # by reference
            assert pickle.loads(pickle.dumps(obj, protocol)) is obj
        back = pickle.loads(pickle.dumps(p, protocol))
        assert back == p and type(back) is mod.Point
        assert pickle.loads(pickle.dumps(mod.Point.Inner(), protocol)) == mod.Point.Inner()
    assert f"{pkgname}.geo.deep.shapes".encode() in pickle.dumps(p, 0)
    assert copy.copy(p) == p and copy.copy(p) is not p
    nested = {"points": [p, mod.Point(1, 2)], "f": mod.norm}
    clone = copy.deepcopy(nested)
    assert clone == nested and clone["points"][0] is not p and clone["f"] is mod.norm
    # Unpickling imports the bridge module by name when it is not loaded yet.
    data = pickle.dumps(p)
    for name in [n for n in sys.modules if n.startswith(f"{pkgname}.geo")]:
        del sys.modules[name]
    fresh = pickle.loads(data)
    assert type(fresh) is sys.modules[f"{pkgname}.geo.deep.shapes"].Point
    assert type(fresh).__module__ == f"{pkgname}.geo.deep.shapes"


# --- doctest and reload -----------------------------------------------------------

def test_doctest_testmod_on_a_bridge_module(tree, pkgname):
    import doctest
    import io

    d = tree({"doc.py": '''\
        def square(x):
            """
            >>> square(3)
            9
            """
            return x * x


        def wrong(x):
            """
            >>> wrong(2)
            5
            """
            return x
        '''})
    bi.mount(pkgname, d)
    mod = importlib.import_module(f"{pkgname}.doc")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = doctest.testmod(mod, report=False)
    assert (result.attempted, result.failed) == (2, 1)
    # The failure names the real file and the failing example's line in it.
    assert f'File "{d / "doc.py"}", line 11, in {pkgname}.doc.wrong' in out.getvalue()


def test_importlib_reload_keeps_identity_with_import_module(tree, pkgname):
    d = tree({"r.py": "VALUE = 1\n"})
    bi.mount(pkgname, d)
    name = f"{pkgname}.r"
    mod = importlib.import_module(name)
    (d / "r.py").write_text("VALUE = 22\n")  # another size: a fresh read
    assert importlib.reload(mod) is mod
    assert mod.VALUE == 22
    assert importlib.import_module(name) is mod is sys.modules[name] is bi.load(name)
    assert sys.modules[pkgname].r is mod


# --- runpy and python -m ----------------------------------------------------------

REPORT = ("import sys\n"
          "print(repr((__name__, __spec__.name, __file__, sys.argv, "
          "type(__loader__).__name__, __package__)))\n")


def test_runpy_run_module_in_process(tree, pkgname, monkeypatch):
    import runpy

    d = tree({"tool.py": ("import sys\n"
                          "RESULT = (__name__, __file__, __spec__.name, list(sys.argv))\n"),
              "app/__init__.py": "", "app/__main__.py": "RAN = __name__\n"})
    bi.mount(pkgname, d)
    monkeypatch.setattr(sys, "argv", ["prog", "arg"])
    asked = []
    get_code = bi.Loader.get_code
    monkeypatch.setattr(bi.Loader, "get_code",
                        lambda self, name=None: asked.append(name) or get_code(self, name))

    g = runpy.run_module(f"{pkgname}.tool", run_name="__main__", alter_sys=True)
    path = str(d / "tool.py")
    assert g["RESULT"] == ("__main__", path, f"{pkgname}.tool", [path, "arg"])
    assert sys.argv == ["prog", "arg"]  # restored
    assert f"{pkgname}.tool" not in sys.modules  # runpy runs the code, imports nothing
    g = runpy.run_module(f"{pkgname}.app")  # a package: its __main__
    assert g["RAN"] == f"{pkgname}.app.__main__"
    assert g["__file__"] == str(d / "app" / "__main__.py")
    # runpy compiled both through our loader's get_code(name).
    assert asked == [f"{pkgname}.tool", f"{pkgname}.app.__main__"]


def run_with_mounts(args, mounts: str, **kw):
    """The test interpreter (its .pth mounts BRIDGEIMPORT_PATH at start-up) in
    a clean environment."""
    import subprocess

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BRIDGEIMPORT_") and k != "PYTHONPATH"}
    env["BRIDGEIMPORT_PATH"] = mounts
    env.update(kw.pop("env", {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=env, cwd="/", timeout=120, **kw)


@pytest.fixture
def pth_mounts(tmp_path):
    """Skips unless the running interpreter has bridgeimport.pth installed
    (`make test` installs the wheel into .venv)."""
    r = run_with_mounts(["-c", "import sys; print('bridgeimport' in sys.modules)"],
                        f"probe={tmp_path}")
    if r.stdout.strip() != "True":
        pytest.skip("bridgeimport.pth is not installed for this interpreter")


def test_python_dash_m_runs_bridge_module_and_package(tree, pkgname, tmp_path, pth_mounts):
    import ast
    import subprocess

    d = tree({"tool.py": REPORT, "app/__init__.py": "", "app/__main__.py": REPORT},
             sub="stockpkg")
    for target, file in (("tool", d / "tool.py"), ("app", d / "app" / "__main__.py")):
        r = run_with_mounts(["-m", f"{pkgname}.{target}", "a", "b"], f"{pkgname}={d}")
        assert r.returncode == 0, r.stderr
        ours = ast.literal_eval(r.stdout.strip())
        spec_name = f"{pkgname}.{target}" + (".__main__" if target == "app" else "")
        assert ours == ("__main__", spec_name, str(file), [str(file), "a", "b"], "Loader",
                        spec_name.rpartition(".")[0])
        # Stock CPython on the same file from sys.path: same fields.
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
        env["PYTHONPATH"] = str(tmp_path)
        r = subprocess.run([sys.executable, "-m", f"stockpkg.{target}", "a", "b"],
                           capture_output=True, text=True, env=env, cwd="/", timeout=120)
        assert r.returncode == 0, r.stderr
        stock = ast.literal_eval(r.stdout.strip())
        assert ours[0] == stock[0] and ours[2:4] == stock[2:4]
        assert ours[1] == stock[1].replace("stockpkg", pkgname, 1)
        assert ours[5] == stock[5].replace("stockpkg", pkgname, 1)


def test_pdb_cprofile_and_unittest_dash_m(tree, pkgname, pth_mounts):
    d = tree({"tool.py": "VALUE = 41 + 1\nprint('value', VALUE)\n",
              "test_it.py": "import unittest\n\n\nclass T(unittest.TestCase):\n"
                            "    def test_ok(self):\n        self.assertTrue(True)\n"})
    mounts = f"{pkgname}={d}"
    r = run_with_mounts(["-m", "pdb", "-m", f"{pkgname}.tool"], mounts,
                        input="next\np VALUE\nquit\n")
    assert f"> {d / 'tool.py'}(1)<module>()" in r.stdout, r.stdout + r.stderr
    assert "-> VALUE = 41 + 1" in r.stdout and "\n(Pdb) 42\n" in r.stdout
    r = run_with_mounts(["-m", "cProfile", "-m", f"{pkgname}.tool"], mounts)
    assert r.returncode == 0 and "value 42" in r.stdout, r.stderr
    assert "tool.py:1(<module>)" in r.stdout
    r = run_with_mounts(["-m", "unittest", "-v", f"{pkgname}.test_it"], mounts)
    assert r.returncode == 0, r.stderr
    assert f"test_ok ({pkgname}.test_it.T" in r.stderr and "OK" in r.stderr


# --- tracing and profiling --------------------------------------------------------

def test_settrace_setprofile_and_trace_see_the_real_file(tree, pkgname, monkeypatch):
    import py_compile
    import trace

    d = tree({"sub/__init__.py": "", "sub/work.py": "def f(n):\n    t = 0\n"
              "    for i in range(n):\n        t += i\n    return t\n"})
    path = d / "sub" / "work.py"
    cache = importlib.util.cache_from_source(str(path))
    os.utime(path, ns=(1_600_000_000_000_000_000,) * 2)  # old enough for a timestamp pyc
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    bi.mount(pkgname, d)
    traced, profiled = set(), set()

    def tracer(frame, event, arg):
        traced.add((frame.f_code.co_filename, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        mod = importlib.import_module(f"{pkgname}.sub.work")
        mod.f(3)
    finally:
        sys.settrace(None)
    # (3.11+ also reports line 0 for the module's first instruction)
    assert {line for file, line in traced if file == str(path)} - {0} == {1, 2, 3, 4, 5}
    sys.setprofile(lambda frame, event, arg: profiled.add(
        (event, frame.f_code.co_filename, frame.f_code.co_name)))
    try:
        mod.f(1)
    finally:
        sys.setprofile(None)
    assert ("call", str(path), "f") in profiled

    def line_counts(module):
        tracer_obj = trace.Trace(count=1, trace=0)
        tracer_obj.runfunc(module.f, 4)
        return {line: n for (file, line), n in tracer_obj.results().counts.items()
                if file == str(path)}

    assert line_counts(mod) == {2: 1, 3: 5, 4: 4, 5: 1}
    # From the pyc the loader wrote, then from one compiled under another
    # file name (co_filename must still be the real file).
    with open(cache, "rb") as f:
        assert f.read(4) == importlib.util.MAGIC_NUMBER
    os.utime(cache, ns=(1_700_000_000_000_000_000,) * 2)
    for pyc_source in ("ours", "py_compile"):
        if pyc_source == "py_compile":
            py_compile.compile(str(path), cfile=cache, dfile="/elsewhere/work.py",
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        mtime = os.stat(cache).st_mtime_ns
        del sys.modules[f"{pkgname}.sub.work"]
        mod = importlib.import_module(f"{pkgname}.sub.work")
        assert os.stat(cache).st_mtime_ns == mtime  # read, not rewritten
        assert mod.f.__code__.co_filename == str(path)
        assert line_counts(mod) == {2: 1, 3: 5, 4: 4, 5: 1}


def test_coverage_measures_bridge_files(tree, pkgname):
    coverage = pytest.importorskip("coverage")
    d = tree({"sub/__init__.py": "", "sub/used.py": "def f(x):\n    if x:\n        return 1\n"
              "    return 2\n", "sub/unused.py": "Y = 1\n"})
    bi.mount(pkgname, d)
    cov = coverage.Coverage(data_file=None, source_pkgs=[f"{pkgname}.sub"])
    cov.start()
    try:
        mod = importlib.import_module(f"{pkgname}.sub.used")
        mod.f(True)
    finally:
        cov.stop()
    used = str(d / "sub" / "used.py")
    assert set(cov.get_data().lines(used)) == {1, 2, 3}
    _file, statements, _excluded, missing, _text = cov.analysis2(used)
    assert (statements, missing) == ([1, 2, 3, 4], [4])
    import io

    report = io.StringIO()
    cov.report(file=report, show_missing=True)
    # The subpackage has a directory: files never executed are reported too.
    assert "unused.py" in report.getvalue()


# --- -X importtime ---------------------------------------------------------------

def test_importtime_lists_bridge_imports_with_nesting(tree, pkgname, pth_mounts):
    d = tree({"sub/__init__.py": "from . import leaf\n", "sub/leaf.py": "", "top.py": ""})
    for code in (f"import {pkgname}.sub, {pkgname}.top",
                 f"import bridgeimport as bi; bi.load('{pkgname}.sub'); bi.load('{pkgname}.top')"):
        r = run_with_mounts(["-X", "importtime", "-c", code], f"{pkgname}={d}")
        assert r.returncode == 0, r.stderr
        depth = {}
        for line in r.stderr.splitlines():
            if line.startswith("import time:") and pkgname in line:
                name = line.rsplit("|", 1)[1]
                depth[name.strip()] = len(name) - len(name.lstrip())
        # Each module once; a module imported during another's import is listed
        # deeper than it (before it, as CPython prints on completion).
        assert set(depth) == {pkgname, f"{pkgname}.sub", f"{pkgname}.sub.leaf",
                              f"{pkgname}.top"}, r.stderr
        assert depth[f"{pkgname}.sub.leaf"] > depth[f"{pkgname}.sub"]
        assert depth[pkgname] > depth[f"{pkgname}.sub"]
        assert depth[f"{pkgname}.top"] == depth[f"{pkgname}.sub"]
