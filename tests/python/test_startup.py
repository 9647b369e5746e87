"""Start-up registration: BRIDGEIMPORT_PATH parsing and the installed .pth.

The .pth tests install the built wheel into a fresh virtual environment and
start new interpreters with only environment variables set, as a user would.
The wheel comes from $BRIDGEIMPORT_WHEEL (the Makefile builds it) or is built
here from the source tree.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

import pytest

from bridgeimport import _config

ROOT = Path(__file__).resolve().parents[2]


def test_parse_entries_and_errors():
    entries, errors = _config.parse_path(
        " plugins=/a:/b ; mlpy.stdlib=/s#*_bridge.py;; bad ; =x ; p= ; q=#*.py")
    assert [e.config() for e in entries] == [
        ("plugins", ("/a", "/b"), "*.py", False, False),
        ("mlpy.stdlib", ("/s",), "*_bridge.py", False, False),
    ]
    assert len(errors) == 4 and all("entry" in e for e in errors)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("BRIDGEIMPORT_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    return Path(glob.glob(str(out / "bridgeimport-*.whl"))[0])


def make_venv(root: Path, wheel: Path) -> Path:
    """A new venv (with Debian's system site packages, as the project's own)
    with only the wheel installed into it; returns its python."""
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(root)
    python = root / "bin" / "python"
    pip_install(python, str(wheel))
    assert (site_packages(python) / "bridgeimport.pth").is_file()
    return python


def pip_install(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps",
                    "--no-build-isolation", "-q", *args], check=True, env=clean_env())


def site_packages(python: Path) -> Path:
    return Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, env=clean_env()).stdout.strip())


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    return make_venv(tmp_path_factory.mktemp("venv"), wheel)


def clean_env(**env: str) -> dict:
    """This process's environment without bridgeimport's variables (the test
    process exports its own mounts) and with a private entry-point cache."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("BRIDGEIMPORT_") and k not in ("PYTHONPATH",)}
    environ.setdefault("XDG_CACHE_HOME", str(_CACHE_HOME))
    environ.update(env)
    return environ


_CACHE_HOME = Path(tempfile.mkdtemp(prefix="bridgeimport-test-cache-"))
atexit.register(shutil.rmtree, _CACHE_HOME, True)


def run_python(python: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = clean_env(**env)
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          env=environ, cwd="/", timeout=120)


def baseline_modules(python: Path, lines: list) -> str:
    """What `lines` (code printing which of some modules are imported) print
    in that venv with bridgeimport disabled: the machine's own start-up."""
    r = run_python(python, "\n".join(lines), BRIDGEIMPORT_DISABLE="1")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_plain_import_in_new_interpreter_with_only_env(fresh_venv, tmp_path):
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "greet.py").write_text("def hello():\n    return 'hello from a bridge'\n")
    # Other .pth files (setuptools' distutils-precedence.pth sorts after ours)
    # may insert finders at sys.meta_path[0] later; ours must precede PathFinder,
    # be there once, and bi.install() puts it first again.
    code = ("import sys, importlib.machinery as m, plugins_env.greet as g; print(g.hello()); "
            "names = [type(f).__name__ for f in sys.meta_path]; "
            "print(type(g.__loader__).__name__, names.count('Finder'), "
            "names.index('Finder') < sys.meta_path.index(m.PathFinder)); "
            "import bridgeimport; bridgeimport.install(); print(type(sys.meta_path[0]).__name__)")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"plugins_env={d}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["hello from a bridge", "Loader 1 True", "Finder"]
    assert r.stderr == ""


def test_env_glob_and_several_entries(fresh_venv, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x_bridge.py").write_text("X = 1\n")
    (a / "helper.py").write_text("")
    (b / "y.py").write_text("Y = 2\n")
    code = ("import pa.x_bridge, pb.y; print(pa.x_bridge.X + pb.y.Y)\n"
            "try:\n    import pa.helper\nexcept ModuleNotFoundError:\n    print('excluded')")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"pa={a}#*_bridge.py;pb={b}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3", "excluded"]


def test_bad_configuration_warns_once_and_never_breaks_startup(fresh_venv, tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "ok.py").write_text("OK = True\n")
    env = f"broken entry;pg={good};missing={tmp_path / 'nope'};bad-name={good}"
    r = run_python(fresh_venv, "import pg.ok; print(pg.ok.OK)", BRIDGEIMPORT_PATH=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3, r.stderr
    assert all(line.startswith("bridgeimport: ") for line in lines)
    assert any("broken entry" in line for line in lines)
    assert any("missing" in line and "does not exist" in line for line in lines)
    assert any("bad-name" in line for line in lines)


def test_disable_and_unset_leave_interpreter_untouched(fresh_venv, tmp_path):
    # Nothing configured: the .pth imports the small start-up module and finds
    # nothing to do: no extension, no finder. Disabled: not even that.
    code = ("import sys; print('bridgeimport._startup' in sys.modules, "
            "'bridgeimport._native' in sys.modules, 'bridgeimport._mounts' in sys.modules, "
            "[type(f).__name__ for f in sys.meta_path if 'bridge' in type(f).__module__])")
    r = run_python(fresh_venv, code)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "True False False []", "")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"px={tmp_path}", BRIDGEIMPORT_DISABLE="1")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "False False False []", "")


def test_startup_imports_nothing_heavy_until_the_first_bridge_import(fresh_venv, tmp_path):
    d = tmp_path / "lazy"
    d.mkdir()
    (d / "m.py").write_text("X = 1\n")
    code = ("import sys\n"
            "heavy = ['bridgeimport._native', 'bridgeimport._mounts', 'typing', 're', "
            "'threading', 'importlib.abc', 'importlib.metadata']\n"
            "print([m for m in heavy if m in sys.modules])\n"
            "print([type(f).__name__ for f in sys.meta_path][:2])\n"
            "import json, lz_env.m\n"
            "names = [type(f).__name__ for f in sys.meta_path]\n"
            "print(lz_env.m.X, names[0], names.count('Finder'), names.count('StandInFinder'))\n")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"lz_env={d}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # Whatever the machine's other .pth files import (the venv sees the base
    # interpreter's site-packages) is not ours: compare with bridgeimport off.
    assert lines[0] == baseline_modules(fresh_venv, code.split("\n")[:3])
    assert "StandInFinder" in lines[1]
    assert lines[2] == "1 Finder 1 0"


def test_mount_api_sees_declared_mounts_before_any_import(fresh_venv, tmp_path):
    code = ("import sys, bridgeimport as bi; print([m.package for m in bi.mounts()], "
            "type(sys.meta_path[0]).__name__, 'px_api' in sys.modules)")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"px_api={tmp_path}")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "['px_api'] Finder False", "")


def start_file_lines() -> list:
    text = (ROOT / "python" / "bridgeimport.start").read_text()
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_start_file_names_the_same_callable(fresh_venv, tmp_path):
    """bridgeimport.start names the function the .pth line calls; resolved by
    hand (as site.py does, with pkgutil) it registers, and a second call is a
    no-op, whatever the interpreter's own site.py reads."""
    lines = start_file_lines()
    assert lines == ["bridgeimport:_start"]
    d = tmp_path / "st"
    d.mkdir()
    (d / "m.py").write_text("X = 'started'\n")
    code = ("import os, sys, pkgutil; del os.environ['BRIDGEIMPORT_DISABLE']\n"
            f"f = pkgutil.resolve_name({lines[0]!r}); f(); f()\n"
            "import st_env.m; "
            "print(st_env.m.X, sum(type(x).__name__ == 'Finder' for x in sys.meta_path))")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"st_env={d}", BRIDGEIMPORT_DISABLE="1")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "started 1", "")


def test_wheel_ships_the_start_file_only_where_site_needs_it(wheel):
    """PEP 829: through 3.17 a start file would only add site.py's pkgutil
    import to every start; from 3.18 the .pth line no longer runs (setup.py:
    START_FILE_FROM)."""
    if os.environ.get("BRIDGEIMPORT_START_FILE", "") not in ("", "0"):
        pytest.skip("this wheel was asked to ship the start file")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    assert "bridgeimport.pth" in names
    assert ("bridgeimport.start" in names) == (sys.version_info >= (3, 18))


def reads_start_files(python: Path) -> bool:
    r = run_python(python, "import site; print(hasattr(site, 'StartupState'))")
    return r.stdout.strip() == "True"


def test_start_file_not_the_pth_line_activates_where_site_reads_it(fresh_venv, tmp_path, wheel):
    """On a site.py that reads start files (3.15+), bridgeimport.start beside
    bridgeimport.pth suppresses the .pth import line; site.py calls the entry
    point once, which registers once; disabled, it registers nothing."""
    if not reads_start_files(fresh_venv):
        pytest.skip("this interpreter's site.py does not read PEP 829 start files")
    python = make_venv(tmp_path / "venv", wheel)
    site_dir = site_packages(python)
    shutil.copy(ROOT / "python" / "bridgeimport.start", site_dir)
    d = tmp_path / "sf"
    d.mkdir()
    (d / "m.py").write_text("X = 'from the start file'\n")
    code = ("import sys, sf_env.m; "
            "print(sf_env.m.X, sum(type(f).__name__ == 'Finder' for f in sys.meta_path))")
    r = subprocess.run([str(python), "-v", "-c", code], capture_output=True, text=True,
                       env=clean_env(BRIDGEIMPORT_PATH=f"sf_env={d}"), cwd="/", timeout=120)
    assert (r.returncode, r.stdout.strip()) == (0, "from the start file 1"), r.stderr
    pth, start = site_dir / "bridgeimport.pth", site_dir / "bridgeimport.start"
    assert f"import lines in {pth} are suppressed due to matching {start} file" in r.stderr
    assert f"Exec'ing from {pth}" not in r.stderr
    assert r.stderr.count(f"Executing entry point: bridgeimport:_start from {start}") == 1
    disabled = ("import sys; print('bridgeimport._native' in sys.modules, "
                "[type(f).__name__ for f in sys.meta_path if 'bridge' in type(f).__module__])")
    r = run_python(python, disabled, BRIDGEIMPORT_PATH=f"sf_env={d}", BRIDGEIMPORT_DISABLE="1")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "False []", "")


def test_abc_registration_without_importing_importlib_abc(fresh_venv, tmp_path):
    d = tmp_path / "abcs"
    d.mkdir()
    (d / "m.py").write_text("")
    # importlib.abc imported first (pytest, most frameworks): every protocol.
    first = ("import importlib.abc as abc, sys, ab_env.m as m\n"
             "print(isinstance(sys.meta_path[0], abc.MetaPathFinder), "
             "all(isinstance(m.__loader__, c) for c in (abc.Loader, abc.InspectLoader, "
             "abc.ExecutionLoader, abc.ResourceLoader)))")
    r = run_python(fresh_venv, first, BRIDGEIMPORT_PATH=f"ab_env={d}")
    assert (r.returncode, r.stdout.strip()) == (0, "True True"), r.stderr
    # importlib.abc imported only after the first bridge import, which
    # imported neither it nor importlib._abc (issue 11): the native finder
    # sees the import and registers as soon as the module has run; the
    # module keeps its real loader; a reload (new ABC classes) registers again.
    later = ("import sys, ab_env.m as m\n"
             "print(sorted(n for n in ('importlib.abc', 'importlib._abc', 'importlib.util') "
             "if n in sys.modules))\n"
             "import importlib.abc as abc\n"
             "print(isinstance(m.__loader__, abc.Loader), isinstance(sys.meta_path[0], "
             "abc.MetaPathFinder), all(isinstance(m.__loader__, c) for c in "
             "(abc.InspectLoader, abc.ExecutionLoader, abc.ResourceLoader)))\n"
             "print(type(abc.__loader__).__name__, abc.__spec__.loader is abc.__loader__)\n"
             "import importlib; abc = importlib.reload(abc)\n"
             "print(isinstance(sys.meta_path[0], abc.MetaPathFinder), "
             "isinstance(m.__loader__, abc.InspectLoader), type(abc.__loader__).__name__)")
    r = run_python(fresh_venv, later, BRIDGEIMPORT_PATH=f"ab_env={d}")
    assert r.returncode == 0, r.stderr
    before = baseline_modules(fresh_venv, ["import sys", later.split("\n")[1]])
    assert r.stdout.splitlines() == [
        before, "True True True", "SourceFileLoader True", "True True SourceFileLoader"], r.stdout
    # importlib._abc alone (3.10+; importlib.util imports it): its Loader.
    if sys.version_info >= (3, 10):
        alone = ("import sys, ab_env.m as m, importlib.util\n"
                 "print('importlib.abc' in sys.modules, "
                 "isinstance(m.__loader__, sys.modules['importlib._abc'].Loader))")
        r = run_python(fresh_venv, alone, BRIDGEIMPORT_PATH=f"ab_env={d}")
        assert (r.returncode, r.stdout.strip()) == (0, "False True"), r.stderr


def test_malformed_export_warns_and_falls_back(fresh_venv, tmp_path):
    d = tmp_path / "fb"
    d.mkdir()
    (d / "m.py").write_text("X = 'fallback'\n")
    r = run_python(fresh_venv, "import fb_env.m; print(fb_env.m.X)",
                   BRIDGEIMPORT_PATH=f"fb_env={d}", BRIDGEIMPORT_MOUNTS="9;garbage")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fallback"
    assert r.stderr.count("\n") == 1 and "BRIDGEIMPORT_MOUNTS" in r.stderr


def test_pth_then_explicit_install_gives_one_finder(fresh_venv, tmp_path):
    code = ("import sys, bridgeimport as bi; bi.install(); bi.mount('py2', '/tmp');"
            "print(sum(type(f).__name__ == 'Finder' for f in sys.meta_path))")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"py1={tmp_path}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def plugin_site(tmp_path: Path, dist: str, package: str, init: str) -> Path:
    """A directory holding distribution `dist` whose entry point mounts
    `package` from `dist:DIRS`, with `init` as the distribution's __init__."""
    site, bridges = tmp_path / f"{dist}-site", tmp_path / f"{dist}-bridges"
    (site / f"{dist}-1.0.dist-info").mkdir(parents=True)
    (site / f"{dist}-1.0.dist-info" / "METADATA").write_text(f"Name: {dist}\nVersion: 1.0\n")
    (site / f"{dist}-1.0.dist-info" / "entry_points.txt").write_text(
        f"[bridgeimport.mounts]\n{package} = {dist}:DIRS\n")
    (site / dist).mkdir()
    (site / dist / "__init__.py").write_text(f"DIRS = [{str(bridges)!r}]\n" + init)
    bridges.mkdir()
    (bridges / "b.py").write_text("Y = 'served'\n")
    return site


def test_activation_resolving_an_entry_point_imported_by_another_thread_never_hangs(
        fresh_venv, tmp_path):
    """Thread T imports a plugin distribution whose __init__ uses the API;
    the main thread activates, which imports that same distribution to
    resolve its entry point. The activation lock is a module lock of the
    import system, whose deadlock detection breaks the cycle."""
    site = plugin_site(tmp_path, "dlplug", "dl_ep", "import time, bridgeimport\n"
                       "time.sleep(0.5)\nSEEN = [m.package for m in bridgeimport.mounts()]\n")
    code = ("import threading, time, bridgeimport as bi\n"
            "out = []\n"
            "def imp():\n"
            "    try: __import__('dlplug'); out.append('ok')\n"
            "    except Exception as e: out.append(type(e).__name__)\n"
            "t = threading.Thread(target=imp); t.start(); time.sleep(0.1)\n"
            "try: bi.mounts(); out.append('ok')\n"
            "except Exception as e: out.append(type(e).__name__)\n"
            "t.join(); print(sorted(out))\n")
    r = subprocess.run([str(fresh_venv), "-c", code], capture_output=True, text=True,
                       env=clean_env(PYTHONPATH=str(site)), cwd="/", timeout=60)
    assert r.returncode == 0, r.stderr
    # One of the two gets importlib's _DeadlockError (a RuntimeError), as a
    # cycle of two imports would; the other goes on.
    assert r.stdout.strip() in ("['ok', 'ok']", "['_DeadlockError', 'ok']"), (r.stdout,
                                                                              r.stderr)


def test_plugin_code_using_the_api_during_activation_does_not_end_it_early(
        fresh_venv, tmp_path):
    """The distribution's __init__, run to resolve its entry point, touches a
    public name (re-entering activation); another thread must still find the
    declared package mounted, never 'not mounted'."""
    site = plugin_site(tmp_path, "nsplug", "ns_ep", "import time, bridgeimport\n"
                       "Error = bridgeimport.BridgeImportError\ntime.sleep(0.5)\n")
    code = ("import threading, time, bridgeimport as bi\n"
            "seen = {}\n"
            "def other():\n"
            "    time.sleep(0.2)\n"
            "    try: seen['other'] = bi.load('ns_ep.b').Y\n"
            "    except Exception as e: seen['other'] = f'{type(e).__name__}: {e}'\n"
            "t = threading.Thread(target=other); t.start()\n"
            "seen['main'] = [m.package for m in bi.mounts()]; t.join(); print(seen)\n")
    r = subprocess.run([str(fresh_venv), "-c", code], capture_output=True, text=True,
                       env=clean_env(PYTHONPATH=str(site)), cwd="/", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("{'other': 'served', 'main': ['ns_ep']}",
                                "{'main': ['ns_ep'], 'other': 'served'}"), r.stdout


def test_list_and_doctor_see_declared_mounts_without_any_mount_option(fresh_venv, tmp_path):
    (tmp_path / "m.py").write_text("X = 1\n")
    r = subprocess.run([str(fresh_venv), "-m", "bridgeimport", "list", "--json"],
                       capture_output=True, text=True, timeout=60, cwd="/",
                       env=clean_env(BRIDGEIMPORT_PATH=f"cli_env={tmp_path}"))
    assert r.returncode == 0, r.stderr
    assert [m["package"] for m in json.loads(r.stdout)["mounts"]] == ["cli_env"]
    r = subprocess.run([str(fresh_venv), "-m", "bridgeimport", "doctor", "--json",
                        "--bridge-only"], capture_output=True, text=True, timeout=60, cwd="/",
                       env=clean_env(BRIDGEIMPORT_PATH=f"cli_env={tmp_path}"))
    assert json.loads(r.stdout)["checked"]["files"] == 1, r.stdout  # m.py, served


def test_relative_path_directories_are_resolved_at_startup(fresh_venv, tmp_path):
    """A relative BRIDGEIMPORT_PATH directory means the directory relative to
    where the interpreter started, even after a chdir before the first bridge
    import, as Ray's working_dir and Spark's --archives do (issue 16)."""
    d = tmp_path / "rel" / "plugins"
    d.mkdir(parents=True)
    (d / "m.py").write_text("X = 'found'\n")
    relative = os.path.relpath(d, "/")  # run_python starts in /
    code = f"import os; os.chdir({str(tmp_path)!r}); import prel.m; print(prel.m.X)"
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"prel={relative}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "found"


def test_an_unreachable_startup_directory_is_reported_as_a_permission_error(monkeypatch):
    """os.stat's EACCES (a parent directory that cannot be entered) is not
    "does not exist" (issue 16). Root passes every permission check, so the
    error is made by a stand-in os.stat."""
    from bridgeimport import _config

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(_config.os, "stat", denied)
    problem = _config.check_spec(_config.MountSpec("locked", ["/srv/locked/plugins"]))
    assert problem is not None
    assert "cannot be reached (permission denied)" in problem
    assert "/srv/locked/plugins" in problem and "does not exist" not in problem
