"""Generated inputs against the public API (issue 15, part 1).

The bad-input table (test_bad_input.py) lists the cases someone thought of;
these tests let hypothesis choose: arbitrary text (lone surrogates, NUL,
combining marks, very long), bytes, paths and objects of the wrong type, for
every public function and constructor that takes a name, a path or a glob.
The contract for each call:

* it succeeds, or raises the documented type (TypeError, ValueError,
  ImportError and their subclasses; OSError for a directory), with a message
  that is a str (never pybind11's "Unable to cast" RuntimeError, a
  SystemError or a crash);
* on failure, sys.modules, sys.meta_path and the mount table are as before;
* for names no mount serves, the finder answers as if it were not there.

Examples per test: HYPOTHESIS_PROFILE=ci (the default, what make test runs)
or deep (make test-deep). A failure hypothesis finds is kept as an explicit
@example on the test that found it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings

import pytest

hypothesis = pytest.importorskip("hypothesis")  # deps/dev-requirements.txt (3.11+)
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import bridgeimport as bi  # noqa: E402
from bridgeimport import _native  # noqa: E402

import hypothesis_profiles  # noqa: E402,F401  (the example budgets)

# Every code point, surrogates included.
ANY_CHAR = st.characters(codec=None, categories=None)
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.text(st.sampled_from("ab._/\0\udcff\u0301é*?[]!-"), max_size=12),
    st.text(ANY_CHAR, min_size=250, max_size=600),
)
NAMES = st.one_of(TEXT, st.lists(st.text(ANY_CHAR, min_size=1, max_size=8), min_size=1,
                                 max_size=5).map(".".join))
WRONG_TYPES = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=20),
                        st.lists(st.text(max_size=3), max_size=3), st.just(object()))
ALLOWED = (TypeError, ValueError, ImportError, OSError)


def state() -> tuple:
    return (set(sys.modules), list(sys.meta_path),
            [(m.package, m.directories, m.pattern) for m in bi.mounts()])


def contract(call, *args, **kwargs) -> object:
    """Runs call(*args, **kwargs) under the contract; returns its result or
    the exception it raised."""
    before = state()
    try:
        return call(*args, **kwargs)
    except ALLOWED as exc:
        message = str(exc)
        assert "Unable to cast" not in message and "PYBIND11" not in message, message
        assert not isinstance(exc, (RuntimeError, SystemError))
        assert state() == before, f"{call.__name__}{args!r} changed state on failure"
        return exc


@pytest.fixture
def mounted(tmp_path_factory):
    """A mounted package (with one module and one subpackage) for the duration
    of one test function; hypothesis calls the test body many times in it."""
    root = tmp_path_factory.mktemp("prop")
    (root / "mod.py").write_text("X = 1\n")
    (root / "sub").mkdir()
    (root / "sub" / "__init__.py").write_text("")
    package = f"prop_{os.getpid()}_{len(bi.mounts())}"
    bi.mount(package, root)
    importlib.import_module(package)
    importlib.util.find_spec(f"{package}.absent")  # the placeholder path hook, imported once
    yield package
    bi.unmount(package)
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@given(name=st.one_of(NAMES, WRONG_TYPES))
@example(name="\udcff")
@example(name="x.\udcff")
def test_load_reload_dependencies_take_any_name(mounted, name):
    for target in (name, f"{mounted}.{name}" if isinstance(name, str) else name):
        result = contract(bi.load, target)
        if not isinstance(result, BaseException):
            assert sys.modules[target] is result
        contract(bi.dependencies, target)
        contract(bi.dependents, target)
        if isinstance(target, str) and target not in sys.modules:
            assert isinstance(contract(bi.reload, target), bi.BridgeNotFoundError)


@given(name=NAMES)
@example(name="\udcff")  # issue 15: pybind11's RuntimeError, now ModuleNotFoundError
@example(name="mod\0")
def test_import_styles_under_a_mount_answer_as_stock(mounted, name):
    full = f"{mounted}.{name}"
    spec = contract(importlib.util.find_spec, full)
    result = contract(importlib.import_module, full)
    if isinstance(spec, BaseException) or spec is None:
        assert isinstance(result, BaseException)
    if isinstance(result, ModuleNotFoundError):
        assert result.name in (full, None, "") or full.startswith(str(result.name))


def outcome(name: str) -> str:
    try:
        importlib.import_module(name)
    except Exception as exc:  # the type and text stock gives, compared below
        return f"{type(exc).__name__}: {exc}"
    return "imported"


def exists_elsewhere(top: str) -> bool:
    """Whether stock importlib finds the top-level name (which is then not
    ours to import in a test: 'this' prints, 'antigravity' opens a browser)."""
    try:
        return top in sys.modules or importlib.util.find_spec(top) is not None
    except Exception:
        return False


@given(name=NAMES)
@example(name="\udcff.x")
@example(name="")
@example(name=".relative")
def test_names_outside_the_mounts_are_answered_as_if_the_finder_were_absent(mounted, name):
    """The native finder never serves a name outside its mounts: find_spec
    gives None, and importing gives exactly what it gives without the
    finder on sys.meta_path."""
    top = name.partition(".")[0]
    if top == mounted or exists_elsewhere(top):
        return
    assert contract(_native.finder.find_spec, name) is None
    assert contract(_native.finder.find_spec, name, None, None) is None
    ours = outcome(name)
    bi.uninstall()
    try:
        stock = outcome(name)
    finally:
        bi.install()
    assert ours == stock


@given(package=st.one_of(NAMES, WRONG_TYPES), pattern=st.one_of(TEXT, WRONG_TYPES))
@example(package="p\udcff", pattern="*.py")
@example(package="ok_pkg", pattern="*\udcff.py")
def test_mount_takes_any_package_and_pattern(tmp_path_factory, package, pattern):
    root = tmp_path_factory.mktemp("m")
    result = contract(bi.mount, package, root, pattern=pattern)
    if isinstance(result, BaseException):
        assert isinstance(result, (TypeError, ValueError)), repr(result)
        return
    assert bi.find_mount(package) is result
    bi.unmount(package)


@given(directory=st.one_of(TEXT, st.binary(max_size=30), WRONG_TYPES))
@example(directory=b"/tmp/\xff")
@example(directory="/tmp/\udcff")
def test_mount_takes_any_directory(directory):
    result = contract(bi.mount, f"prop_dir_{os.getpid()}", directory)
    if not isinstance(result, BaseException):
        bi.unmount(result.package)


@given(package=st.one_of(NAMES, WRONG_TYPES))
@example(package=[])  # found: TypeError("unhashable type: 'list'"), now naming the type
def test_lookups_and_unmount_take_any_package(package):
    for call in (bi.find_mount, bi.unmount):
        result = contract(call, package)
        if not isinstance(package, str):
            assert isinstance(result, TypeError) and type(package).__name__ in str(result)
        else:
            assert result is None if call is bi.find_mount else isinstance(result, ValueError)


@given(package=st.one_of(NAMES, WRONG_TYPES), relative_to=st.one_of(st.none(), TEXT, WRONG_TYPES))
def test_env_takes_any_package_and_base(mounted, package, relative_to):
    result = contract(bi.env, package, relative_to=relative_to)
    if isinstance(package, str) and package != mounted:
        assert isinstance(result, ValueError) and "is not mounted" in str(result)
    result = contract(bi.env, mounted, relative_to=relative_to)
    if not isinstance(result, BaseException):  # a dict of str whose path form reads back
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


@given(package=st.one_of(NAMES, WRONG_TYPES), pattern=st.one_of(TEXT, WRONG_TYPES))
def test_registry_takes_any_package_and_pattern(tmp_path_factory, package, pattern):
    root = tmp_path_factory.mktemp("r")
    (root / "a_bridge.py").write_text("")
    result = contract(bi.Registry, package, root, pattern=pattern)
    if not isinstance(result, BaseException):
        with warnings.catch_warnings():  # a pattern matching nothing warns: expected here
            warnings.simplefilter("ignore", bi.BridgeImportWarning)
            contract(result.names)
        bi.unmount(result.package)


@given(name=st.one_of(NAMES, WRONG_TYPES))
def test_loads_inside_a_transaction_take_any_name(mounted, name):
    contract(bi.transaction, name)  # constructed, not begun
    with bi.transaction(mounted):
        contract(bi.load, name)
        contract(bi.load, f"{mounted}.{name}" if isinstance(name, str) else name)
