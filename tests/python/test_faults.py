"""Faults of the environment: read-only trees, a full disk, concurrent pyc
writers, interpreter shutdown mid-import, fork.

Everything that could crash or hang runs in child interpreters (exit status,
stderr and a timeout are the verdict), never in the test process.

How faults are made, honestly:
  * read-only: a read-only bind mount in a private mount namespace
    (`unshare -m`, as root), else permission bits (non-root); root ignores
    permission bits, so chmod alone would test nothing;
  * full disk: a 256 KiB tmpfs in a private mount namespace, filled up
    (ENOSPC), and independently RLIMIT_FSIZE with SIGXFSZ ignored (EFBIG),
    which needs no privilege;
  * concurrency: real processes writing and reading the same pyc files.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import EXIT_CHILD_FLAGS, run_exit_child

PAST_NS = 1_600_000_000 * 10**9  # sources this old get timestamp pycs at once
TAG = sys.implementation.cache_tag


def write_sources(d: Path, files: dict) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.utime(p, ns=(PAST_NS, PAST_NS))
    return d


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # these tests are about the cache
    return env


def run(argv, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=kw.pop("env", child_env()), **kw)


def py(code: str, flags=()) -> list:
    return [sys.executable, *flags, "-c", textwrap.dedent(code)]


def pyc_problem(pyc: Path, source: Path):
    """None if `pyc` is a complete, valid timestamp pyc for `source` (or is
    absent), else what is wrong with it."""
    try:
        data = pyc.read_bytes()
    except FileNotFoundError:
        return None
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return f"bad magic {data[:4]!r} ({len(data)} bytes)"
    if int.from_bytes(data[12:16], "little") != source.stat().st_size:
        return "size field does not match the source"
    try:
        code = marshal.loads(data[16:])
    except Exception as e:  # torn or corrupt body
        return f"body does not unmarshal: {e!r} ({len(data)} bytes)"
    if type(code).__name__ != "code":
        return "body is not a code object"
    return None


def leftovers(d: Path) -> list:
    """Temporary files a writer left behind."""
    return sorted(str(p) for p in d.rglob("*") if p.name.endswith(".tmp")
                  or (p.suffix not in (".py", ".pyc") and p.parent.name == "__pycache__"))


def can_unshare_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                       capture_output=True)
    return r.returncode == 0


UNSHARE = can_unshare_mount()


# --- read-only tree ---------------------------------------------------------

def readonly_run(d: Path, code: str) -> subprocess.CompletedProcess:
    if UNSHARE:
        script = (f'mount --bind "{d}" "{d}" && mount -o remount,bind,ro "{d}" "{d}" && '
                  f'exec "$0" -c "$1"')
        return run(["unshare", "-m", "sh", "-c", script, sys.executable, textwrap.dedent(code)])
    if os.geteuid() != 0:
        for p in [d, *d.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
        try:
            return run(py(code))
        finally:
            for p in [d, *d.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o755)
    pytest.skip("root without mount namespaces: no honest way to make a read-only tree")


def test_read_only_tree_imports_without_cache_and_never_trusts_a_stale_pyc(tmp_path):
    d = write_sources(tmp_path / "ro", {**{f"m{i}.py": f"X = {i}\n" for i in range(20)},
                                        "pkg/__init__.py": "P = 1\n", "pkg/sub.py": "S = 2\n",
                                        "stale.py": "V = 'old'\n"})
    # A pyc for an older version of stale.py, then the source changes.
    r = run(py(f"""
        import sys; sys.dont_write_bytecode = False
        import bridgeimport as bi; bi.mount("bt_ro", {str(d)!r}); bi.load("bt_ro.stale")
        """))
    assert r.returncode == 0, r.stderr
    stale_pyc = d / "__pycache__" / f"stale.{TAG}.pyc"
    assert stale_pyc.exists()
    (d / "stale.py").write_text("V = 'new, longer'\n")
    os.utime(d / "stale.py", ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    before = sorted(p.name for p in d.rglob("*"))
    r = readonly_run(d, f"""
        import errno, sys; sys.dont_write_bytecode = False
        try:
            open({str(d / 'probe')!r}, "w")
        except OSError as e:
            print("read-only:", errno.errorcode[e.errno])
        import bridgeimport as bi
        bi.mount("bt_ro", {str(d)!r})
        total = sum(bi.load(f"bt_ro.m{{i}}").X for i in range(20))
        import bt_ro.pkg.sub
        print(total, bt_ro.pkg.P, bt_ro.pkg.sub.S, bi.load("bt_ro.stale").V)
        """)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.split("\n")[0] in ("read-only: EROFS", "read-only: EACCES")
    assert r.stdout.split("\n")[1] == "190 1 2 new, longer"
    assert sorted(p.name for p in d.rglob("*")) == before  # nothing written


# --- full disk --------------------------------------------------------------

BIG = "DATA = " + repr(["x" * 40 + str(i) for i in range(400)]) + "\n"  # ~20 KB pyc


def full_disk_code(d: Path) -> str:
    return f"""
        import sys; sys.dont_write_bytecode = False
        import bridgeimport as bi
        bi.mount("bt_full", {str(d)!r})
        ok = [len(bi.load(f"bt_full.big{{i}}").DATA) for i in range(5)]
        small = [bi.load(f"bt_full.s{{i}}").X for i in range(5)]
        import bt_full.pkg.inner
        print(ok, small, bt_full.pkg.inner.Y)
        """


FULL_DISK_FILES = {**{f"big{i}.py": BIG for i in range(5)},
                   **{f"s{i}.py": f"X = {i}\n" for i in range(5)},
                   "pkg/__init__.py": BIG, "pkg/inner.py": "Y = 7\n"}
FULL_DISK_OUT = "[400, 400, 400, 400, 400] [0, 1, 2, 3, 4] 7"


def check_cache_dirs(d: Path) -> None:
    assert leftovers(d) == []
    for pyc in d.rglob("*.pyc"):
        src = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        assert pyc_problem(pyc, src) is None, pyc


@pytest.mark.skipif(not UNSHARE, reason="needs mount namespaces (root) for a tiny tmpfs")
def test_full_disk_enospc_skips_the_cache(tmp_path):
    staging = write_sources(tmp_path / "staging", FULL_DISK_FILES)
    d = tmp_path / "disk"
    d.mkdir()
    # In a private namespace: a 256 KiB tmpfs on d, the sources copied in
    # (mtimes kept), the rest filled until ENOSPC, then the imports.
    check = ("import sys, pathlib; sys.path.insert(0, sys.argv[1]); import test_faults as t; "
             "d = pathlib.Path(sys.argv[2]); t.check_cache_dirs(d); "
             "print('clean', len(list(d.rglob('*.pyc'))))")
    script = (f'mount -t tmpfs -o size=256k tmpfs "{d}" && cp -a "{staging}/." "{d}/" && '
              f'(dd if=/dev/zero of="{d}/filler" bs=4k 2>/dev/null; true) && '
              f'"$0" -c "$1" && "$0" -c "$2" "{Path(__file__).parent}" "{d}"')
    r = run(["unshare", "-m", "sh", "-c", script, sys.executable,
             textwrap.dedent(full_disk_code(d)), check])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == FULL_DISK_OUT
    assert lines[1].startswith("clean")
    assert r.stderr == ""


def test_file_size_limit_efbig_skips_the_cache(tmp_path):
    d = write_sources(tmp_path / "lim", FULL_DISK_FILES)
    limit = ("import resource, signal\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n")
    r = run(py(limit + textwrap.dedent(full_disk_code(d))))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == FULL_DISK_OUT
    assert r.stderr == ""
    check_cache_dirs(d)
    assert not (d / "__pycache__" / f"big0.{TAG}.pyc").exists()  # too big to write
    assert (d / "__pycache__" / f"s0.{TAG}.pyc").exists()  # small ones were written


# --- many processes writing and reading the same pyc files -------------------

WRITER = """
import os, random, sys, time
sys.dont_write_bytecode = False
sys.path.insert(0, {tests!r})
from test_faults import pyc_problem
from pathlib import Path
d, mode, seed = Path({d!r}), sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
if mode == "bridge":
    import bridgeimport as bi
    bi.mount("bt_race", str(d))
    def load(i):
        sys.modules.pop(f"bt_race.m{{i}}", None)
        return bi.load(f"bt_race.m{{i}}")
else:  # stock CPython importing the very same files from sys.path
    import importlib
    sys.path.insert(0, str(d.parent))
    def load(i):
        sys.modules.pop(f"{pkg}.m{{i}}", None)
        return importlib.import_module(f"{pkg}.m{{i}}")
checked = 0
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    i = rng.randrange({n})
    pyc = d / "__pycache__" / f"m{{i}}.{tag}.pyc"
    if rng.random() < 0.5:
        try:
            pyc.unlink()
        except FileNotFoundError:
            pass
    assert load(i).X == "v" * (i * 37), i
    for k in rng.sample(range({n}), 3):
        problem = pyc_problem(d / "__pycache__" / f"m{{k}}.{tag}.pyc", d / f"m{{k}}.py")
        if problem:
            print("TORN", k, problem, flush=True)
        checked += 1
print("checked", checked, flush=True)
"""


def test_concurrent_pyc_writers_never_expose_a_torn_file(tmp_path):
    n = 12
    pkg = "bt_race_stock"
    d = write_sources(tmp_path / pkg, {f"m{i}.py": f"X = {'v' * (i * 37)!r}\n" for i in range(n)})
    (d / "__init__.py").write_text("")
    code = WRITER.format(tests=str(Path(__file__).parent), d=str(d), pkg=pkg, tag=TAG, n=n,
                         seconds=3)
    modes = ["bridge"] * 4 + ["stock"] * 2
    procs = [subprocess.Popen([sys.executable, "-c", code, mode, str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=child_env())
             for seed, mode in enumerate(modes)]
    outs = [p.communicate(timeout=120) for p in procs]
    checked = 0
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "TORN" not in out, out
        checked += int(out.split()[-1])
    assert checked > 100  # the readers really ran
    assert leftovers(d) == []
    for i in range(n):
        assert pyc_problem(d / "__pycache__" / f"m{i}.{TAG}.pyc", d / f"m{i}.py") is None


# --- a load waiting on another thread's failing import ---------------------

def test_load_waiting_on_a_failing_import_retries_like_import_module(tmp_path):
    # Thread A's import fails while thread B waits for it. importlib's
    # _find_and_load then imports again in B (B sees the module's own error);
    # bi.load must do the same, not report a module that "removed itself".
    body = ("import builtins, time\nbuiltins.__dict__.setdefault('_bt_runs', []).append(1)\n"
            "time.sleep(0.3)\nraise RuntimeError('fails on purpose')\n")
    stock = write_sources(tmp_path / "bt_wait_s", {"__init__.py": "", "m.py": body})
    mnt = write_sources(tmp_path / "mnt", {"m.py": body})
    code = f"""
        import builtins, importlib, sys, threading, time
        sys.path.insert(0, {str(stock.parent)!r})
        import bridgeimport as bi
        bi.mount("bt_wait", {str(mnt)!r})
        bi.load("bt_wait"); importlib.import_module("bt_wait_s")
        for name, second in (("bt_wait_s.m", importlib.import_module),
                             ("bt_wait.m", importlib.import_module),
                             ("bt_wait.m", bi.load)):
            builtins._bt_runs = []
            def first():
                try:
                    importlib.import_module(name)
                except RuntimeError:
                    pass
            t = threading.Thread(target=first)
            t.start()
            time.sleep(0.1)   # A is executing the module, holding its lock
            try:
                second(name)
            except Exception as e:
                print(type(e).__name__, str(e), len(builtins._bt_runs), name in sys.modules)
            t.join()
        """
    r = run(py(code))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["RuntimeError fails on purpose 2 False"] * 3
    assert r.stderr == ""


# --- shutdown with imports in flight in daemon threads -------------------

SHUTDOWN = """
import importlib, os, sys, threading, time
sys.dont_write_bytecode = False
import bridgeimport as bi
bi.mount("bt_exit", {d!r})
def churn(k):
    for i in range({n}):
        name = f"bt_exit.m{{(i * 7 + k) % {n}}}"
        try:
            if k % 3 == 0:
                __import__(name)
            elif k % 3 == 1:
                importlib.import_module(name)
            else:
                bi.load(name)
        except RuntimeError:
            pass   # the failing modules
for k in range(6):
    threading.Thread(target=churn, args=(k,), daemon=True).start()
time.sleep({delay})
print("exit", flush=True)
"""


def test_interpreter_exit_with_imports_in_flight_is_quiet(tmp_path):
    n = 60
    files = {}
    for i in range(n):
        body = f"import time\ntime.sleep(0.002)\nX = {i}\n"
        if i % 10 == 9:
            body += "raise RuntimeError('fails on purpose')\n"
        if i % 10 == 5:
            files[f"m{i}/__init__.py"] = body + "from . import inner\n"
            files[f"m{i}/inner.py"] = "import time\ntime.sleep(0.002)\n"
        else:
            files[f"m{i}.py"] = body
    d = write_sources(tmp_path / "exit", files)
    failures = []
    for run_no in range(12):
        code = SHUTDOWN.format(d=str(d), n=n, delay=0.01 + 0.02 * (run_no % 4))
        if run_no % 3 == 0:
            shutil.rmtree(d / "__pycache__", ignore_errors=True)  # writes in flight too
        r = run_exit_child(lambda timeout: run(py(code, EXIT_CHILD_FLAGS), timeout=timeout))
        if r.returncode != 0 or r.stderr != "" or r.stdout != "exit\n":
            failures.append((run_no, r.returncode, r.stdout, r.stderr[-2000:]))
    assert failures == []


# --- fork ---------------------------------------------------------------------

FORK = """
import os, sys, threading, time, importlib, signal
import bridgeimport as bi
bi.mount("bt_fork", {d!r})
shapes = bi.load("bt_fork.shapes")
stop = threading.Event()

def hammer(k):
    # Holds the finder's directory-cache lock as often as it can: hits,
    # misses, invalidations, loads and fresh imports of the same names.
    i = 0
    while not stop.is_set():
        name = f"bt_fork.m{{k * 10 + i % 10}}"   # each thread owns its names
        bi._native.finder.find_spec(name, None)
        bi._native.finder.find_spec("json", None)
        if i % 50 == 0:
            importlib.invalidate_caches()
        sys.modules.pop(name, None)
        bi.load(name)
        i += 1

def slow_import():
    import bt_fork.slow   # sleeps in its body: a module lock held mid-exec

threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in range(3)]
threads.append(threading.Thread(target=slow_import, daemon=True))
for t in threads:
    t.start()
statuses = []
for n in range({forks}):
    time.sleep(0.005)
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)   # a deadlock ends the child with SIGALRM
        try:
            ok = bi.load("bt_fork.shapes") is shapes and sys.modules["bt_fork.shapes"] is shapes
            fresh = bi.load(f"bt_fork.fresh{{n}}")
            ok = ok and fresh.X == n and isinstance(fresh.make(), shapes.Shape)
            import bt_fork.child_only
            ok = ok and bi.dependencies(f"bt_fork.fresh{{n}}") == ["bt_fork.shapes"]
            os._exit(0 if ok else 1)
        except BaseException as e:
            print("child error", repr(e), flush=True)
            os._exit(2)
    statuses.append(os.waitpid(pid, 0)[1])
stop.set()
for t in threads[:3]:
    t.join()   # exit with hammering threads is test_exit_while_threads_hammer_load
print("statuses", sorted(set(statuses)), len(statuses), flush=True)
"""


def test_fork_while_other_threads_hold_our_locks(tmp_path):
    files = {"shapes.py": "class Shape:\n    pass\n",
             "slow.py": "import time\ntime.sleep(30)\n",
             "child_only.py": "Y = 1\n",
             **{f"m{i}.py": f"X = {i}\n" for i in range(40)},
             **{f"fresh{n}.py": f"from bt_fork import shapes\nX = {n}\n"
                                f"def make():\n    return shapes.Shape()\n" for n in range(25)}}
    d = write_sources(tmp_path / "fork", files)
    r = run(py(FORK.format(d=str(d), forks=25)), timeout=200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "statuses [0] 25", r.stdout + r.stderr
    assert "Error" not in r.stderr, r.stderr


def test_fork_from_inside_a_bridge_being_imported(tmp_path):
    d = write_sources(tmp_path / "fk", {
        "forker.py": "import os, sys\nfrom bt_fk import a\n"
                     "pid = os.fork()\n"
                     "if pid == 0:\n"
                     "    import bridgeimport as bi\n"
                     "    from bt_fk import b\n"
                     "    ok = sys.modules[__name__].a is a and b.B == 2\n"
                     "    os._exit(0 if ok else 1)\n"
                     "STATUS = os.waitpid(pid, 0)[1]\n",
        "a.py": "A = 1\n",
        "b.py": "B = 2\n"})
    r = run(py(f"""
        import bridgeimport as bi
        bi.mount("bt_fk", {str(d)!r})
        m = bi.load("bt_fk.forker")
        print(m.STATUS, bi.dependencies("bt_fk.forker"))
        """))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0 ['bt_fk.a']"  # the child's import is not the parent's


HAMMER_AT_EXIT = """
import sys, threading, time
import bridgeimport as bi
bi.mount("bt_ham", {d!r})
def hammer(k):
    i = 0
    while True:
        name = f"bt_ham.m{{k * 10 + i % 10}}"
        sys.modules.pop(name, None)
        bi.load(name)
        i += 1
for k in range(3):
    threading.Thread(target=hammer, args=(k,), daemon=True).start()
time.sleep(0.2)
"""


@pytest.mark.xfail(sys.version_info < (3, 14), strict=False, reason=(
    "CPython < 3.14 itself crashes on this loop at times (python/cpython#87135): it ends "
    "daemon threads with pthread_exit() and, before 3.13, frees the import lock under "
    "threads waiting for it. bridgeimport parks its threads and waits for that lock "
    "outside it; side by side it is no worse than stock (benchmarks/exit_stress.py, "
    "docs/guide.md, issue 15 part 4)"))
def test_exit_while_threads_hammer_load(tmp_path):
    d = write_sources(tmp_path / "ham", {f"m{i}.py": f"X = {i}\n" for i in range(30)})
    bad = []
    for _ in range(12):
        r = run_exit_child(lambda timeout: run(py(HAMMER_AT_EXIT.format(d=str(d)),
                                                  EXIT_CHILD_FLAGS), timeout=timeout))
        if r.returncode != 0 or r.stderr:
            bad.append((r.returncode, r.stderr[-300:]))
    assert bad == []


def test_a_load_waits_for_the_import_lock_another_thread_holds(tmp_path):
    """The native path asks the finder under the global import lock, as
    _find_spec does; before 3.13 it waits for a lock another thread holds
    outside CPython's wait (issue 15, part 4). Either way: no load while the
    other thread holds it, and the load completes once it lets go."""
    d = write_sources(tmp_path / "il", {"m.py": "X = 1\n"})
    r = run(py(f"""
        import _imp, threading, time
        import bridgeimport as bi
        bi.mount("bt_il", {str(d)!r})
        bi.load("bt_il")            # the mount package: only m is left to find
        held, done = threading.Event(), []
        def holder():
            _imp.acquire_lock()
            held.set()
            time.sleep(0.3)         # far longer than the bounded wait
            done.append("released")
            _imp.release_lock()
        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        m = bi.load("bt_il.m")
        print(done, m.X)
        t.join()
        """))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['released'] 1"


def test_a_load_under_the_import_lock_this_thread_holds(tmp_path):
    """The holder may be the loading thread itself (a finder that imports
    while stock _find_spec holds the lock): the lock is re-entrant, so the
    load goes through, after the bounded wait at most."""
    d = write_sources(tmp_path / "il2", {"m.py": "X = 2\n"})
    r = run(py(f"""
        import _imp
        import bridgeimport as bi
        bi.mount("bt_il2", {str(d)!r})
        _imp.acquire_lock()
        m = bi.load("bt_il2.m")
        _imp.release_lock()
        print(m.X, _imp.lock_held())
        """), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2 False"
