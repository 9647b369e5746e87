"""The bad-input matrix: every way a caller, a configuration or the file system
can hand the hook something wrong.

For each case the contract is the same: a clear exception (its type, and a
message naming the file or module and, where there is one, what to do), the
exact set of sys.modules keys unchanged, and no file outside the mount ever
executed. Files that a naive name-to-path mapping would reach are planted
next to the mount and set a marker when executed, so "never loads a file it
was not told to" is checked, not assumed.

Permission cases need a user that permission bits stop: as root they run in
a child process that drops to uid/gid 65534 (nobody).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
from importlib import _bootstrap
from pathlib import Path

import pytest

import bridgeimport as bi

MARK = "_bt_bad_input_ran"  # set in builtins by any planted file that executes
PLANT = f"import builtins\nbuiltins.__dict__.setdefault({MARK!r}, []).append(__file__)\n"


@pytest.fixture(autouse=True)
def no_marker(request):
    builtins.__dict__.pop(MARK, None)
    yield
    ran = builtins.__dict__.pop(MARK, None)
    if request.node.get_closest_marker("xfail") is None:  # a known bug may run one
        assert ran is None, f"a file that must never run was executed: {ran}"


# Bugs this matrix found, each fixed in its own commit, which removes its
# entry here: a listed bug's cases must fail (strict xfail), so the fixing
# commit shows its regression tests turning from failing to passing.
KNOWN_BUGS: set = {
}


def known_bug(request, bug: str) -> None:
    assert bug in {"unreadable-mount", "unlistable-identifiers", "load-validates-late",
                   "load-none-entry", "read-outside-mount"}
    if bug in KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=bug))


def keys() -> set:
    """sys.modules' keys but bridgeimport's own modules, which it imports
    lazily on first need (the placeholder path hook on the first miss under
    a mount package): whether a case is the first to need one depends on
    which tests ran before it."""
    return {k for k in sys.modules if not k.startswith("bridgeimport.")}


def _others_can_run(executable: str) -> bool:
    """True if a user with no special rights can execute ``executable``:
    every directory on its real path and the file itself are o+x."""
    path = Path(os.path.realpath(executable))
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def run_child(code: str, env=None, unprivileged=False, timeout=60):
    """Runs code in a fresh interpreter; as uid 65534 if unprivileged and root."""
    preexec = None
    if unprivileged and os.geteuid() == 0:
        if not _others_can_run(sys.executable):
            pytest.skip(f"uid 65534 cannot run {os.path.realpath(sys.executable)} "
                        "(an interpreter under a private home, e.g. pyenv in /root)")

        def preexec():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=environ, cwd="/", preexec_fn=preexec)


@pytest.fixture
def shared_dir():
    """A directory uid 65534 can reach (pytest's tmp_path is 0700 root)."""
    d = Path(tempfile.mkdtemp(prefix="bt_bad_input_"))
    d.chmod(0o755)
    yield d
    for p in sorted(d.rglob("*"), reverse=True):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    import shutil
    shutil.rmtree(d, ignore_errors=True)


# --- mounts: missing, a file, unreadable (API and BRIDGEIMPORT_PATH) -------

def bad_mount_dir(kind: str, base: Path) -> Path:
    if kind == "missing":
        return base / "does_not_exist"
    if kind == "file":
        f = base / "a_file.py"
        f.write_text(PLANT)
        return f
    d = base / "unreadable"
    d.mkdir()
    (d / "m.py").write_text(PLANT)
    d.chmod(0)
    return d


MOUNT_ERRORS = {
    "missing": ("FileNotFoundError", "does not exist"),
    "file": ("NotADirectoryError", "not a directory"),
    "unreadable": ("PermissionError", "cannot be read"),
}


@pytest.mark.parametrize("kind", sorted(MOUNT_ERRORS))
def test_bad_mount_directory_through_the_api(kind, shared_dir, request):
    if kind == "unreadable":
        known_bug(request, "unreadable-mount")
    bad = bad_mount_dir(kind, shared_dir)
    good = shared_dir / "good"
    good.mkdir()
    (good / "ok.py").write_text("OK = 1\n")
    good.chmod(0o755)
    code = f"""
        import sys, bridgeimport as bi
        bi.mount("bt_first", {str(good)!r})
        before = set(sys.modules)
        try:
            bi.mount("bt_bad", {str(bad)!r})
        except Exception as e:
            print(type(e).__name__)
            print(e)
        print(set(sys.modules) == before, [m.package for m in bi.mounts()])
        import bt_first.ok
        try:
            import bt_bad.m
        except ModuleNotFoundError:
            print("not served")
        """
    r = run_child(code, unprivileged=True)
    assert r.returncode == 0, r.stderr
    exc, text = MOUNT_ERRORS[kind]
    lines = r.stdout.splitlines()
    assert lines[0] == exc, r.stdout
    assert str(bad) in lines[1] and text in lines[1] and "bt_bad" in lines[1]
    assert lines[2:] == ["True ['bt_first']", "not served"]
    assert r.stderr == ""


@pytest.mark.parametrize("kind", sorted(MOUNT_ERRORS))
def test_bad_mount_directory_through_the_environment(kind, shared_dir, request):
    if kind == "unreadable":
        known_bug(request, "unreadable-mount")
    bad = bad_mount_dir(kind, shared_dir)
    good = shared_dir / "good"
    good.mkdir()
    (good / "ok.py").write_text("OK = 1\n")
    code = """
        import sys
        if "bridgeimport" not in sys.modules:
            print("no .pth")
            raise SystemExit(0)
        import bridgeimport as bi, bt_env_good.ok
        print([m.package for m in bi.mounts()], bt_env_good.ok.OK)
        """
    r = run_child(code, unprivileged=True,
                  env={"BRIDGEIMPORT_PATH": f"bt_env_bad={bad};bt_env_good={good}"})
    assert r.returncode == 0, r.stderr
    if r.stdout.strip() == "no .pth":
        pytest.skip("this interpreter has no bridgeimport.pth (tests run against a source tree)")
    assert r.stdout.strip() == "['bt_env_good'] 1"
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr  # one warning, start-up goes on
    assert lines[0].startswith("bridgeimport: cannot mount 'bt_env_bad'")
    assert str(bad) in lines[0] and MOUNT_ERRORS[kind][1] in lines[0]


def test_unreadable_bridge_file_names_file_module_and_remedy(shared_dir):
    d = shared_dir / "mnt"
    d.mkdir()
    (d / "secret.py").write_text(PLANT)
    (d / "secret.py").chmod(0)
    code = f"""
        import sys, importlib, bridgeimport as bi
        bi.mount("bt_perm", {str(d)!r})
        bi.load("bt_perm")
        before = set(sys.modules)
        for how in (importlib.import_module, bi.load):
            try:
                how("bt_perm.secret")
            except Exception as e:
                print(type(e).__name__, "|", e)
        print(set(sys.modules) == before)
        """
    r = run_child(code, unprivileged=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout
    for line in lines[:2]:
        kind, _, text = line.partition(" | ")
        assert kind == "BridgeImportError"
        assert str(d / "secret.py") in text and "bt_perm.secret" in text
        assert "Permission denied" in text and "readable" in text
    assert lines[2] == "True"


# --- names ----------------------------------------------------------------

@pytest.fixture
def planted(tmp_path, pkgname):
    """A mount whose surroundings hold the files bad names would reach if
    they were mapped to paths naively."""
    mnt = tmp_path / "mnt"
    (mnt / "x").mkdir(parents=True)
    (mnt / "x" / "__init__.py").write_text("")
    (mnt / "ok.py").write_text("OK = 1\n")
    for name in ("evil.py", "a\\b.py", "not-ident.py", "1abc.py", "with space.py",
                 "snow\u2603.py"):
        (mnt / name).write_text(PLANT)
    (tmp_path / "evil.py").write_text(PLANT)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "__init__.py").write_text(PLANT)
    (tmp_path / "outside" / "evil.py").write_text(PLANT)
    bi.mount(pkgname, mnt)
    bi.load(pkgname)
    bi.load(f"{pkgname}.x")
    return mnt


BAD_RELATIVE = [
    "..evil",              # doubled dot: parent '<pkg>.'
    "x..evil",
    ".evil",               # empty component after the package
    "x/../../evil",        # slash, naive path: <tmp>/evil.py
    "x/../../outside",
    "..",
    "a\\b",                # backslash: a literal file name on POSIX
    "evil\0junk",          # NUL: C-string truncation would give evil.py
    "not-ident",
    "1abc",
    "with space",
    "snow\u2603",          # valid UTF-8, not an identifier
    "x." + "a" * 2000,     # longer than the 1024-byte name limit
]


def import_statement(name: str):
    """What `import <name>` runs (the statement itself cannot spell most of these)."""
    return __import__(name)


@pytest.mark.parametrize("rel", BAD_RELATIVE, ids=lambda s: repr(s[:20]))
@pytest.mark.parametrize("how", ["import", "import_module", "load"])
def test_bad_names_are_refused_by_every_import_style(planted, pkgname, rel, how):
    name = f"{pkgname}.{rel}"
    before = keys()
    call = {"import": import_statement, "import_module": importlib.import_module,
            "load": bi.load}[how]
    with pytest.raises(ImportError) as info:
        call(name)
    if how == "load":
        assert type(info.value) is bi.InvalidModuleNameError
        assert isinstance(info.value, ValueError)
        assert "invalid module name" in str(info.value)
        assert name[:40] in str(info.value)
    else:
        # The finder declines (None) and CPython reports the first name it
        # could not find: the bad name or its bad parent.
        assert type(info.value) is ModuleNotFoundError
        assert info.value.name is not None and name.startswith(info.value.name)
    assert keys() == before


def test_bad_names_through_a_registry(planted, pkgname, request):
    known_bug(request, "unlistable-identifiers")
    reg = bi.Registry(pkgname, pattern="*.py")
    before = keys()
    for rel in BAD_RELATIVE:
        with pytest.raises(KeyError, match="has no"):
            reg.get(rel)
    # planted non-identifiers are never listed (evil.py is a legitimate name)
    assert sorted(reg.names()) == ["evil", "ok", "x"]
    assert keys() == before


def test_valid_name_longer_than_a_file_name_is_just_not_found(planted, pkgname):
    name = f"{pkgname}.{'a' * 300}"  # an identifier; no file can have that name
    before = keys()
    with pytest.raises(bi.BridgeNotFoundError, match="a" * 300):
        bi.load(name)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name)
    assert keys() == before


@pytest.mark.parametrize("name", ["", ".", ".a", "a.", "a/b", "a\0b", "..", "x" * 2000],
                         ids=lambda s: repr(s[:8]))
def test_load_refuses_malformed_names_even_outside_every_mount(name, request):
    known_bug(request, "load-validates-late")
    # The name is judged before the mount table: a malformed name is never
    # reported as merely "not mounted".
    before = keys()
    with pytest.raises(bi.InvalidModuleNameError, match="invalid module name"):
        bi.load(name)
    assert keys() == before


def test_name_length_limit_is_exact(tmp_path, pkgname):
    # 1024 bytes is the limit; a name at the limit loads if the file exists.
    depth = tmp_path / "mnt"
    parts = []
    while len(".".join([pkgname] + parts)) < 1024 - 201:
        parts.append("p" * 200)
        depth = depth / parts[-1]
        depth.mkdir(parents=True)
        (depth / "__init__.py").write_text("")
    last = "m" * (1024 - len(".".join([pkgname] + parts)) - 1)
    (depth / f"{last}.py").write_text("OK = 1\n")
    bi.mount(pkgname, tmp_path / "mnt")
    name = ".".join([pkgname] + parts + [last])
    assert len(name) == 1024
    assert importlib.import_module(name).OK == 1
    (depth / f"{last}x.py").write_text(PLANT)
    before = keys()
    with pytest.raises(bi.InvalidModuleNameError, match="1024"):
        bi.load(name + "x")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name + "x")
    assert keys() == before


def test_very_deep_names_fail_as_cpython_does(tree, pkgname):
    # 600 components: CPython recurses once per parent before asking any
    # finder, so the import system itself stops with RecursionError, with our
    # finder or without. bi.load refuses the name up front.
    bi.mount(pkgname, tree({"a.py": ""}))
    tail = ".".join(["a"] * 600)
    before = keys()
    with pytest.raises(bi.InvalidModuleNameError):
        bi.load(f"{pkgname}.{tail}")
    with pytest.raises(BaseException) as ours:
        importlib.import_module(f"{pkgname}.{tail}")
    with pytest.raises(BaseException) as stock:
        importlib.import_module(f"json.{tail}")
    assert type(ours.value) is type(stock.value)
    assert keys() - before <= {"json", "json.decoder", "json.scanner", "json.encoder"}


# --- globs ----------------------------------------------------------------

ESCAPING_GLOBS = ["../*.py", "*/../*.py", "sub/*.py", "/etc/*.py", "..\\*.py", "*\\*.py",
                  "x\0.py", "..", ".", ""]


@pytest.mark.parametrize("glob", ESCAPING_GLOBS, ids=repr)
def test_escaping_globs_are_refused(tree, pkgname, glob):
    d = tree({"a.py": "", "sub/__init__.py": "", "sub/b.py": PLANT})
    before_mounts, before = bi.mounts(), keys()
    with pytest.raises(ValueError, match="glob") as info:
        bi.mount(pkgname, d, pattern=glob)
    assert pkgname in str(info.value)
    assert bi.mounts() == before_mounts and keys() == before


def test_escaping_glob_in_the_environment_warns_and_mounts_nothing(tmp_path):
    (tmp_path / "a.py").write_text(PLANT)
    r = run_child("import sys; print([m.package for m in sys.modules['bridgeimport'].mounts()]"
                  " if 'bridgeimport' in sys.modules else 'no .pth')",
                  env={"BRIDGEIMPORT_PATH": f"bt_glob={tmp_path}#../*.py"})
    assert r.returncode == 0, r.stderr
    if r.stdout.strip() == "no .pth":
        pytest.skip("this interpreter has no bridgeimport.pth")
    assert r.stdout.strip() == "[]"
    assert "bt_glob" in r.stderr and "../*.py" in r.stderr and len(r.stderr.splitlines()) == 1


@pytest.mark.parametrize("glob", ["*", "__init__*", "*.*", ".*", "[_]*"])
def test_wide_globs_never_serve_init_or_non_sources(tree, pkgname, glob):
    d = tree({"__init__.py": PLANT, "data.txt": "", "m.py": "OK = 1\n", ".hidden.py": PLANT,
              "sub/__init__.py": "", "sub/__init__.py.py": PLANT})
    bi.mount(pkgname, d, pattern=glob)
    before = keys()
    for rel in ("__init__", "data", "_hidden", "sub.__init__"):
        with pytest.raises(ImportError):
            bi.load(f"{pkgname}.{rel}")
    assert keys() - before <= {pkgname, f"{pkgname}.sub"}


# --- symlinks --------------------------------------------------------------

@pytest.fixture
def linked(tmp_path):
    """mnt/ with symlinks to inside and outside targets, of every kind."""
    mnt, out = tmp_path / "mnt", tmp_path / "outside"
    mnt.mkdir()
    (out / "pkg").mkdir(parents=True)
    (out / "ext.py").write_text(PLANT)
    (out / "pkg" / "__init__.py").write_text(PLANT)
    (out / "pkg" / "m.py").write_text(PLANT)
    (mnt / "real.py").write_text("WHO = 'inside'\n")
    (mnt / "realpkg").mkdir()
    (mnt / "realpkg" / "__init__.py").write_text("")
    os.symlink(mnt / "real.py", mnt / "inner.py")          # inside: followed
    os.symlink("inner.py", mnt / "chain_in.py")            # link to a link, inside
    os.symlink(mnt / "realpkg", mnt / "innerpkg")          # directory, inside
    os.symlink(out / "ext.py", mnt / "ext.py")             # file, outside
    os.symlink(out / "pkg", mnt / "extpkg")                # directory, outside
    os.symlink("../outside/ext.py", mnt / "rel_ext.py")    # relative, outside
    (mnt / "ext_chain.py").symlink_to(mnt / "ext.py")      # inside link -> outside link
    (mnt / "initpkg").mkdir()
    os.symlink(out / "pkg" / "__init__.py", mnt / "initpkg" / "__init__.py")
    os.symlink(tmp_path / "nowhere.py", mnt / "dangling.py")
    return mnt


OUTSIDE_LINKS = ["ext", "extpkg", "extpkg.m", "rel_ext", "ext_chain", "initpkg"]


@pytest.mark.parametrize("rel", OUTSIDE_LINKS)
def test_symlinks_leaving_the_mount_are_refused(linked, pkgname, rel):
    bi.mount(pkgname, linked)
    bi.load(pkgname)
    before = keys()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{pkgname}.{rel}")
    with pytest.raises(ImportError) as info:
        bi.load(f"{pkgname}.{rel}")
    if "." not in rel:  # the refused entry itself: the message says why and what to do
        assert "symlink that leads outside" in str(info.value)
        assert "allow_external_symlinks=True" in str(info.value)
        assert str(linked) in str(info.value)
    assert keys() == before


@pytest.mark.parametrize("rel", ["inner", "chain_in", "innerpkg"])
def test_symlinks_inside_the_mount_are_followed(linked, pkgname, rel):
    bi.mount(pkgname, linked)
    mod = importlib.import_module(f"{pkgname}.{rel}")
    assert mod is bi.load(f"{pkgname}.{rel}")
    assert mod.__file__.startswith(str(linked))


@pytest.mark.parametrize("rel", OUTSIDE_LINKS)
def test_allow_external_symlinks_follows_them(linked, pkgname, rel):
    bi.mount(pkgname, linked, allow_external_symlinks=True)
    mod = importlib.import_module(f"{pkgname}.{rel}")
    assert bi.load(f"{pkgname}.{rel}") is mod
    ran = builtins.__dict__.pop(MARK)  # expected here: the user allowed it
    assert mod.__file__ in ran


def test_dangling_symlink_is_not_found(linked, pkgname):
    bi.mount(pkgname, linked, allow_external_symlinks=True)
    before = keys() | {pkgname}
    with pytest.raises(bi.BridgeNotFoundError, match="dangling"):
        bi.load(f"{pkgname}.dangling")
    assert keys() <= before


# --- the file changes between find_spec and exec ---------------------------

def mutate(kind: str, path: Path, outside: Path) -> None:
    if kind == "deleted":
        path.unlink()
    elif kind == "truncated":
        path.write_bytes(b"")
    elif kind == "replaced":
        tmp = path.with_name("new.tmp")
        tmp.write_text("WHO = 'replacement'\n")
        os.replace(tmp, path)
    elif kind == "directory":
        path.unlink()
        path.mkdir()
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind in ("symlink_outside", "link_retargeted_outside"):
        path.unlink()
        os.symlink(outside, path)
    elif kind == "dir_swapped_for_outside_link":
        # mnt/sub/m.py found; then mnt/sub becomes a link to outside/.
        sub = path.parent
        sub.rename(sub.with_name("sub_old"))
        os.symlink(outside.parent, sub)


# kind -> None (loads, with the stated WHO) or the error text expected.
MUTATIONS = {
    "deleted": "No such file or directory",
    "truncated": None,
    "replaced": "replacement",
    "directory": "not a regular file",
    "fifo": "not a regular file",
    "symlink_outside": "replaced by a symlink",
    "link_retargeted_outside": "outside the mount",
    "dir_swapped_for_outside_link": "outside the mount",
}


@pytest.fixture
def cache_on(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.mark.parametrize("with_pyc", [False, True], ids=["source", "pyc"])
@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_file_changed_between_find_and_exec(tmp_path, pkgname, kind, with_pyc, monkeypatch,
                                            request):
    if MUTATIONS[kind] == "outside the mount":
        known_bug(request, "read-outside-mount")
    monkeypatch.setattr(sys, "dont_write_bytecode", not with_pyc)
    mnt = tmp_path / "mnt"
    (mnt / "sub").mkdir(parents=True)
    (mnt / "sub" / "__init__.py").write_text("")
    src = mnt / "sub" / "m.py"
    real = src.with_name("real_m.py") if kind == "link_retargeted_outside" else src
    real.write_text("WHO = 'original'\n")
    past = 1_600_000_000 * 10**9
    os.utime(real, ns=(past, past))  # old enough for a timestamp pyc
    if real != src:
        os.symlink(real.name, src)  # a link inside the mount: followed at find time
    outside = tmp_path / "outside" / "m.py"
    outside.parent.mkdir()
    (outside.parent / "__init__.py").write_text(PLANT)
    outside.write_text(PLANT + "WHO = 'outside'\n")
    bi.mount(pkgname, mnt)
    name = f"{pkgname}.sub.m"
    if with_pyc:
        bi.load(name)
        assert Path(importlib.util.cache_from_source(str(src))).exists()
        del sys.modules[name]
        delattr(sys.modules[f"{pkgname}.sub"], "m")
    else:
        bi.load(f"{pkgname}.sub")
    spec = importlib.util.find_spec(name)
    mutate(kind, src, outside)
    before = keys()
    expected = MUTATIONS[kind]
    if expected is None or expected == "replacement":
        mod = _bootstrap._load(spec)  # CPython's own _load_unlocked
        want = {"truncated": None, "replaced": "replacement"}[kind]
        assert getattr(mod, "WHO", None) == want
        # What ran is what get_source shows, never the old bytes.
        assert mod.__loader__.get_source(name) == src.read_text()
        return
    with pytest.raises(bi.BridgeImportError) as info:
        _bootstrap._load(spec)
    text = str(info.value)
    assert expected in text, text
    assert str(src) in text and name in text
    assert keys() == before
    assert not hasattr(sys.modules[f"{pkgname}.sub"], "m")


# --- source that cannot be decoded or compiled ----------------------------

BAD_SOURCES = {
    "invalid_utf8": b"X = '\xff\xfe'\n",
    "latin1_without_cookie": "X = 'caf\xe9'\n".encode("latin-1"),
    "unknown_codec": b"# coding: no-such-codec\nX = 1\n",
    "bom_with_other_cookie": b"\xef\xbb\xbf# coding: latin-1\nX = 1\n",
    "nul_byte": b"X = 1\x00\n",
    "lone_surrogate": b"X = '\xed\xa0\x80'\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_SOURCES))
def test_undecodable_source_fails_exactly_as_cpython(tmp_path, pkgname, kind):
    data = BAD_SOURCES[kind]
    stock = tmp_path / "stock" / f"{pkgname}_s"
    stock.mkdir(parents=True)
    (stock / "__init__.py").write_text("")
    (stock / "m.py").write_bytes(data)
    sys.path.insert(0, str(stock.parent))
    with pytest.raises(BaseException) as theirs:
        importlib.import_module(f"{pkgname}_s.m")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (mnt / "m.py").write_bytes(data)
    bi.mount(pkgname, mnt)
    bi.load(pkgname)
    for how in (importlib.import_module, bi.load):
        before = keys()
        with pytest.raises(BaseException) as ours:
            how(f"{pkgname}.m")
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value).replace(str(stock / "m.py"), str(mnt / "m.py"))
        if isinstance(ours.value, SyntaxError):
            # as CPython's own (3.13 gives no filename for a NUL byte)
            expected = theirs.value.filename
            if expected is not None:
                expected = expected.replace(str(stock / "m.py"), str(mnt / "m.py"))
            assert ours.value.filename == expected
        notes = getattr(ours.value, "__notes__", [])
        assert any(str(mnt / "m.py") in n and f"{pkgname}.m" in n for n in notes), notes
        assert keys() == before


# --- modules that remove or replace their own sys.modules entry -----------

SELF_EDITS = {
    "deletes_itself": "import sys\ndel sys.modules[__name__]\n",
    "deletes_itself_then_raises":
        "import sys\ndel sys.modules[__name__]\nraise RuntimeError('x')\n",
    "replaces_itself":
        "import sys, types\nsys.modules[__name__] = types.SimpleNamespace(TAG='swap')\n",
    "replaces_itself_then_raises":
        "import sys, types\nsys.modules[__name__] = types.SimpleNamespace(TAG='swap')\n"
        "raise RuntimeError('x')\n",
    "puts_none": "import sys\nsys.modules[__name__] = None\n",
    "replaces_then_restores": "import sys, types\nme = sys.modules[__name__]\n"
                              "sys.modules[__name__] = types.SimpleNamespace()\n"
                              "sys.modules[__name__] = me\nTAG = 'self'\n",
}


def outcome(call, name: str, prefix: str):
    """What an import style returned or raised, and what sys.modules holds
    after, with the package name normalised."""
    def norm(s):
        return str(s).replace(prefix, "P")
    try:
        got = call(name)
        result = ("ok", type(got).__name__, getattr(got, "TAG", None))
    except BaseException as e:  # noqa: B902 - compared, whatever it is
        result = ("raised", type(e).__name__, norm(e))
    entry = sys.modules.get(name, "<absent>")
    return result, name in sys.modules, type(entry).__name__, getattr(entry, "TAG", None)


@pytest.mark.parametrize("kind", sorted(SELF_EDITS))
@pytest.mark.parametrize("pkg_init", [False, True], ids=["module", "package"])
def test_self_removal_and_replacement_match_cpython(tmp_path, pkgname, kind, pkg_init, request):
    if kind == "puts_none":
        known_bug(request, "load-none-entry")
    body = SELF_EDITS[kind]
    rel = "m/__init__.py" if pkg_init else "m.py"
    stock_pkg = tmp_path / "stock" / f"{pkgname}_s"
    (stock_pkg / "m").mkdir(parents=True)
    (stock_pkg / "__init__.py").write_text("")
    (stock_pkg / rel).write_text(body)
    sys.path.insert(0, str(tmp_path / "stock"))
    mnt = tmp_path / "mnt"
    (mnt / "m").mkdir(parents=True)
    (mnt / rel).write_text(body)
    bi.mount(pkgname, mnt)
    importlib.import_module(f"{pkgname}_s")
    bi.load(pkgname)
    styles = {"import": import_statement_leaf, "import_module": importlib.import_module}
    expected = {}
    for style, call in styles.items():
        expected[style] = outcome(call, f"{pkgname}_s.m", f"{pkgname}_s")
        sys.modules.pop(f"{pkgname}_s.m", None)
    for style, call in list(styles.items()) + [("load", bi.load)]:
        before = keys() - {f"{pkgname}.m"}
        got = outcome(call, f"{pkgname}.m", pkgname)
        want = expected.get(style, expected["import_module"])
        assert got == want, style
        assert keys() - {f"{pkgname}.m"} == before
        sys.modules.pop(f"{pkgname}.m", None)


def import_statement_leaf(name: str):
    """`import a.b.c as x` binds sys.modules['a.b.c'] (IMPORT_NAME then the
    attribute walk CPython 3.7+ falls back on)."""
    ns = {}
    exec(f"import {name} as leaf", ns)
    return ns["leaf"]


# --- odd files -------------------------------------------------------------

def test_init_py_that_is_a_directory_is_not_a_package(tree, pkgname):
    d = tree({"weird/y.py": PLANT, "dirmod.py/z.py": PLANT})
    (d / "weird" / "__init__.py").mkdir()
    bi.mount(pkgname, d)
    bi.load(pkgname)
    before = keys()
    for rel in ("weird", "weird.y", "dirmod"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"{pkgname}.{rel}")
    with pytest.raises(bi.BridgeNotFoundError, match="weird") as info:
        bi.load(f"{pkgname}.weird")
    assert "__init__.py" in str(info.value) and str(d) in str(info.value)
    assert keys() == before
    assert bi.find_mount(pkgname).modules() == []


def test_empty_file_is_an_empty_module(tree, pkgname, cache_on):
    d = tree({"empty.py": b""})
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.empty")
    assert not [k for k in vars(mod) if not k.startswith("__")]
    assert mod.__loader__.get_source(f"{pkgname}.empty") == ""
    assert mod.__loader__.get_code(f"{pkgname}.empty").co_filename == str(d / "empty.py")


def test_twenty_megabyte_file_loads_and_reports_its_source(tree, pkgname, cache_on):
    line = "# " + "x" * 98 + "\n"
    body = line * (20 * 1024 * 1024 // len(line)) + "BIG = len(__loader__.get_source(__name__))\n"
    d = tree({"big.py": body})
    past = 1_600_000_000 * 10**9
    os.utime(d / "big.py", ns=(past, past))
    bi.mount(pkgname, d)
    mod = bi.load(f"{pkgname}.big")
    assert mod.BIG == len(body) > 20_000_000
    pyc = Path(importlib.util.cache_from_source(str(d / "big.py")))
    assert pyc.exists()
    del sys.modules[f"{pkgname}.big"]
    assert bi.load(f"{pkgname}.big").BIG == len(body)  # from the pyc this time


SURROGATE = "\udcff"  # what os.fsdecode makes of the byte 0xff


@pytest.mark.parametrize("how", ["import_module", "find_spec", "__import__"])
def test_names_with_lone_surrogates_are_not_found_as_stock_says(tree, pkgname, how):
    """Issue 15's first case: under a mount, such a name got pybind11's
    'Unable to cast Python instance' RuntimeError; stock CPython answers
    ModuleNotFoundError (find_spec: None), and so does the hook now."""
    bi.mount(pkgname, tree({"a.py": "X = 1\n"}))
    importlib.import_module(pkgname)
    name = f"{pkgname}.{SURROGATE}"
    before = keys()
    if how == "find_spec":
        assert importlib.util.find_spec(name) is None
    else:
        with pytest.raises(ModuleNotFoundError) as info:
            if how == "import_module":
                importlib.import_module(name)
            else:
                __import__(name)
        assert not isinstance(info.value, RuntimeError)
    assert keys() == before


def test_load_of_a_name_with_lone_surrogates_is_an_invalid_name(tree, pkgname):
    bi.mount(pkgname, tree({"a.py": ""}))
    with pytest.raises(bi.InvalidModuleNameError, match="UTF-8 cannot encode"):
        bi.load(f"{pkgname}.{SURROGATE}")
    from bridgeimport import _native

    r = _native.finder.resolve(f"{pkgname}.{SURROGATE}")
    assert r.kind == "invalid" and "lone surrogates" in r.detail
    assert _native.finder.list_children(f"{pkgname}{SURROGATE}") == []


def test_mount_refuses_paths_and_globs_that_are_not_utf8(tmp_path, pkgname):
    directory = os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xff")
    os.mkdir(directory)
    before = bi.mounts()
    with pytest.raises(ValueError, match=r"directory path .*d\\udcff.* is not valid UTF-8"):
        bi.mount(pkgname, directory)
    with pytest.raises(ValueError, match=r"pattern '\*\\udcff\.py' is not valid UTF-8"):
        bi.mount(pkgname, tmp_path, pattern=f"*{SURROGATE}.py")
    assert bi.mounts() == before
