"""Start-up registration: BRIDGEIMPORT_PATH parsing and the installed .pth.

The .pth tests install the built wheel into a fresh virtual environment and
start new interpreters with only environment variables set, as a user would.
The wheel comes from $BRIDGEIMPORT_WHEEL (the Makefile builds it) or is built
here from the source tree.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from bridgeimport import _startup

ROOT = Path(__file__).resolve().parents[2]


def test_parse_entries_and_errors():
    entries, errors = _startup.parse(
        " plugins=/a:/b ; mlpy.stdlib=/s#*_bridge.py;; bad ; =x ; p= ; q=#*.py")
    assert entries == [
        _startup.Entry("plugins", ("/a", "/b"), "*.py"),
        _startup.Entry("mlpy.stdlib", ("/s",), "*_bridge.py"),
    ]
    assert len(errors) == 4 and all("entry" in e for e in errors)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("BRIDGEIMPORT_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    return Path(glob.glob(str(out / "bridgeimport-*.whl"))[0])


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    """A new venv (with Debian's system site packages, as the project's own)
    with only the wheel installed into it."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(root)
    python = root / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)],
                   check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert (Path(site) / "bridgeimport.pth").is_file()
    return python


def run_python(python: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("BRIDGEIMPORT_") and k not in ("PYTHONPATH",)}
    environ.update(env)
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          env=environ, cwd="/", timeout=120)


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
    code = "import sys; print('bridgeimport' in sys.modules, 'bridgeimport._native' in sys.modules)"
    r = run_python(fresh_venv, code)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "False False", "")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"px={tmp_path}", BRIDGEIMPORT_DISABLE="1")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "False False", "")


def test_pth_then_explicit_install_gives_one_finder(fresh_venv, tmp_path):
    code = ("import sys, bridgeimport as bi; bi.install(); bi.mount('py2', '/tmp');"
            "print(sum(type(f).__name__ == 'Finder' for f in sys.meta_path))")
    r = run_python(fresh_venv, code, BRIDGEIMPORT_PATH=f"py1={tmp_path}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"
