"""The bytecode cache: CPython's files and headers, never stale, never trusted
when damaged. Tests set sys.dont_write_bytecode themselves: the caller's
PYTHONDONTWRITEBYTECODE must not decide what is tested."""

from __future__ import annotations

import importlib
import importlib.util
import marshal
import os
import py_compile
import subprocess
import sys
import time
from importlib import _bootstrap_external as bx
from pathlib import Path

import pytest

import bridgeimport as bi

PAST_NS = (int(time.time()) - 3600) * 1_000_000_000  # an hour ago, whole second


@pytest.fixture(autouse=True)
def write_bytecode(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)


def old_source(path: Path, text: str) -> Path:
    """Writes a source whose mtime is long past (its pyc is not racy)."""
    path.write_text(text)
    os.utime(path, ns=(PAST_NS, PAST_NS))
    return path


def cache_of(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def test_pyc_is_written_where_and_as_cpython_writes_it(tree, pkgname):
    d = tree({})
    src = old_source(d / "m.py", "X = 1\n")
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    pyc = cache_of(src)
    assert mod.__spec__.cached == str(pyc) and pyc.is_file()
    data = pyc.read_bytes()
    st = src.stat()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert bx._classify_pyc(data, "m", {}) == 0  # timestamp-based
    bx._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, "m", {})  # CPython accepts it
    code = marshal.loads(data[16:])
    assert code.co_filename == str(src)
    assert sorted(os.listdir(pyc.parent)) == [pyc.name]  # no temporary file left behind
    # CPython's own loader uses it without rewriting it.
    before = pyc.stat()
    stock = importlib.machinery.SourceFileLoader("m_stock", str(src)).get_code("m_stock")
    assert stock.co_filename == str(src)
    after = pyc.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_py_compile_pyc_is_used_as_is(tree, pkgname):
    d = tree({})
    src = old_source(d / "m.py", "X = 1\n")
    py_compile.compile(str(src), doraise=True)
    # Same size, same mtime, other code: only a pyc that is really used gives X == 1.
    src.write_text("X = 2\n")
    os.utime(src, ns=(PAST_NS, PAST_NS))
    bi.mount(pkgname, d)
    assert bi.load(f"{pkgname}.m").X == 1


def test_rewrite_in_the_same_second_same_size_is_never_stale(tree, pkgname):
    d = tree({})
    src = d / "m.py"
    src.write_text("X = 1\n")
    now = time.time_ns()
    os.utime(src, ns=(now, now))
    # CPython writes a pyc now; the second of the source's mtime is not over.
    py_compile.compile(str(src), doraise=True)
    src.write_text("X = 2\n")  # same size...
    os.utime(src, ns=(now, now))  # ...and the very same mtime
    stock = importlib.machinery.SourceFileLoader("m_stock", str(src)).get_code("m_stock")
    stock_ns = {}
    exec(stock, stock_ns)
    assert stock_ns["X"] == 1  # the hazard: stock importlib runs the old code
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    assert mod.X == 2
    src.write_text("X = 3\n")
    os.utime(src, ns=(now, now))
    assert bi.reload(mod).X == 3
    # And the untrustworthy timestamp pyc was not written by us either.
    assert bx._classify_pyc(cache_of(src).read_bytes(), "m", {}) == 0
    assert marshal.loads(cache_of(src).read_bytes()[16:]).co_consts[0] == 1  # still CPython's


def test_no_pyc_is_written_while_the_source_second_lasts(tree, pkgname):
    d = tree({})
    src = d / "fresh.py"
    src.write_text("X = 1\n")
    now = time.time_ns()
    os.utime(src, ns=(now, now))
    bi.mount(pkgname, d)
    assert bi.load(f"{pkgname}.fresh").X == 1
    assert not cache_of(src).exists()


def test_checked_hash_pyc(tree, pkgname):
    d = tree({})
    src = old_source(d / "h.py", "X = 1\n")
    py_compile.compile(str(src), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.h")
    assert mod.X == 1
    src.write_text("X = 22\n")  # the hash tells, whatever the mtime
    os.utime(src, ns=(PAST_NS, PAST_NS))
    assert bi.reload(mod).X == 22
    data = cache_of(src).read_bytes()
    assert bx._classify_pyc(data, "h", {}) == 0b11  # rewritten as a checked hash pyc
    assert data[8:16] == importlib.util.source_hash(src.read_bytes())


def test_unchecked_hash_pyc_is_trusted_as_cpython_does(tree, pkgname):
    d = tree({})
    src = old_source(d / "u.py", "X = 1\n")
    py_compile.compile(str(src), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    src.write_text("X = 2\n")
    bi.mount(pkgname, d)
    assert bi.load(f"{pkgname}.u").X == 1


@pytest.mark.parametrize("mode, expected", [("always", 2), ("never", 1), ("default", 1)])
def test_check_hash_based_pycs_option(tmp_path, mode, expected):
    d = tmp_path / "b"
    d.mkdir()
    src = old_source(d / "u.py", "X = 1\n")
    py_compile.compile(str(src), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    src.write_text("X = 2\n")
    code = (f"import sys, bridgeimport as bi; sys.dont_write_bytecode = True; "
            f"bi.mount('hp', {str(d)!r}); print(bi.load('hp.u').X)")
    r = subprocess.run([sys.executable, "--check-hash-based-pycs", mode, "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(expected)


def test_dont_write_bytecode_is_honoured(tree, pkgname, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    d = tree({})
    src = old_source(d / "m.py", "X = 1\n")
    bi.mount(pkgname, d)
    bi.load(f"{pkgname}.m")
    assert not cache_of(src).exists() and not (d / "__pycache__").exists()


def test_pycache_prefix_is_honoured(tree, pkgname, monkeypatch, tmp_path):
    prefix = tmp_path / "prefix"
    monkeypatch.setattr(sys, "pycache_prefix", str(prefix))
    d = tree({})
    src = old_source(d / "m.py", "X = 1\n")
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    expected = importlib.util.cache_from_source(str(src))
    assert expected.startswith(str(prefix))
    assert mod.__spec__.cached == expected and Path(expected).is_file()
    assert not (d / "__pycache__").exists()


def test_optimization_level_names_the_file(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    old_source(d / "m.py", "assert False\nX = 1\n")
    code = (f"import sys, bridgeimport as bi; sys.dont_write_bytecode = False; "
            f"bi.mount('op', {str(d)!r}); m = bi.load('op.m'); print(m.X, m.__spec__.cached)")
    r = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    x, cached = r.stdout.split()
    assert x == "1" and cached.endswith(".opt-1.pyc") and Path(cached).is_file()


GOOD = "X = 'from source'\n"


def damaged(kind: str, src: Path) -> bytes:
    st = src.stat()
    header = (importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
              + int(st.st_mtime).to_bytes(4, "little") + st.st_size.to_bytes(4, "little"))
    body = marshal.dumps(compile("X = 'from pyc'\n", str(src), "exec"))
    return {
        "empty": b"",
        "truncated_header": header[:10],
        "wrong_magic": b"\x00\x00\r\n" + header[4:] + body,
        "bad_flags": header[:4] + (8).to_bytes(4, "little") + header[8:] + body,
        "wrong_size": header[:12] + (st.st_size + 1).to_bytes(4, "little") + body,
        "wrong_mtime": (header[:8] + (int(st.st_mtime) - 5).to_bytes(4, "little") + header[12:]
                        + body),
        "garbage_body": header + b"\xff\x00garbage",
        "truncated_body": header + body[: len(body) // 2],
        "not_code": header + marshal.dumps(42),
    }[kind]


@pytest.mark.parametrize("kind", ["empty", "truncated_header", "wrong_magic", "bad_flags",
                                  "wrong_size", "wrong_mtime", "garbage_body",
                                  "truncated_body", "not_code"])
def test_damaged_pyc_is_ignored_and_replaced(tree, pkgname, kind):
    d = tree({})
    src = old_source(d / "m.py", GOOD)
    pyc = cache_of(src)
    pyc.parent.mkdir()
    pyc.write_bytes(damaged(kind, src))
    bi.mount(pkgname, d)
    assert bi.load(f"{pkgname}.m").X == "from source"
    data = pyc.read_bytes()
    st = src.stat()
    bx._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, "m", {})
    assert marshal.loads(data[16:]).co_consts[0] == "from source"


def test_unwritable_cache_is_skipped(tree, pkgname):
    d = tree({})
    old_source(d / "m.py", "X = 1\n")
    # A file where __pycache__ should be: no user, root included, can write there.
    (d / "__pycache__").write_text("not a directory")
    bi.mount(pkgname, d)
    assert bi.load(f"{pkgname}.m").X == 1
    assert (d / "__pycache__").read_text() == "not a directory"


def test_readonly_directory_is_skipped_for_non_root(tree, pkgname):
    if os.geteuid() == 0:
        pytest.skip("permission bits do not stop root; covered by test_unwritable_cache_is_skipped")
    d = tree({})
    old_source(d / "m.py", "X = 1\n")
    d.chmod(0o555)
    try:
        bi.mount(pkgname, d)
        assert bi.load(f"{pkgname}.m").X == 1
        assert not (d / "__pycache__").exists()
    finally:
        d.chmod(0o755)


def test_get_source_matches_what_ran_after_a_source_compile(tree, pkgname):
    d = tree({})
    old_source(d / "m.py", "X = 1\n")
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.m")
    assert mod.__loader__.get_source(f"{pkgname}.m") == "X = 1\n"
