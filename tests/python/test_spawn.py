"""Run-time mounts reach child processes (docs/design.md section 8).

bi.mount() exports the mount table in BRIDGEIMPORT_MOUNTS; a child started
with spawn or forkserver inherits it and its bridgeimport.pth mounts the same
table, so classes and functions of bridge modules unpickle there as the same
module's objects. The children run in a fresh venv holding only the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bridgeimport as bi
from bridgeimport import _config
from bridgeimport._config import MountSpec
from test_startup import clean_env, fresh_venv, run_python, wheel  # noqa: F401 (fixtures)

SHAPES = '''\
import sys


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def make(i):
    """Runs in the worker: a bridge class instance, and where it came from."""
    import bridgeimport as bi

    module = sys.modules[Point.__module__]
    m = bi.find_mount("spx")
    return (Point(i, i * i), module.__file__, type(module.__spec__.loader).__name__,
            (m.pattern, m.atomic, m.allow_external_symlinks, m.directories))
'''

PARENT = '''\
import multiprocessing as mp, os, sys
import bridgeimport as bi


def main(bridges, methods, export):
    # Mounted here, under __main__: spawn children re-run this file as
    # __mp_main__ without reaching this line, so only the export can mount.
    bi.mount("spx", bridges, pattern="s*.py", atomic=True, allow_external_symlinks=True,
             export=export)
    from spx import shapes
    if not export:  # a Pool would restart workers that cannot unpickle forever
        p = mp.get_context(methods[0]).Process(target=shapes.make, args=(1,))
        p.start()
        p.join()
        print("exitcode", p.exitcode)
        return
    for method in methods:
        with mp.get_context(method).Pool(2) as pool:
            results = pool.map(shapes.make, range(4))
        for i, (point, file, loader, mount) in enumerate(results):
            assert isinstance(point, shapes.Point), type(point)
            assert type(point) is shapes.Point and type(point).__module__ == "spx.shapes"
            assert sys.modules["spx.shapes"] is shapes and (point.x, point.y) == (i, i * i)
            assert file == shapes.__file__ == os.path.join(bridges, "shapes.py"), file
            assert loader == "Loader", loader
            assert mount == ("s*.py", True, True, (bridges,)), mount
        print(method, "ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), sys.argv[3] == "export")
'''


@pytest.fixture
def program(tmp_path: Path) -> Path:
    bridges = tmp_path / "bridges;with,odd%chars #1"
    bridges.mkdir()
    (bridges / "shapes.py").write_text(SHAPES)
    (bridges / "other.py").write_text("raise AssertionError('excluded by the pattern')\n")
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    return script


def run_parent(python: Path, script: Path, methods: str, export: str):
    code = (f"import runpy, sys; sys.argv = [{str(script)!r}, "
            f"{str(script.parent / 'bridges;with,odd%chars #1')!r}, {methods!r}, {export!r}]; "
            f"runpy.run_path({str(script)!r}, run_name='__main__')")
    return run_python(python, code)


def test_pool_workers_unpickle_bridge_classes_with_spawn_and_forkserver(fresh_venv, program):
    r = run_parent(fresh_venv, program, "spawn,forkserver", "export")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["spawn", "ok", "forkserver", "ok"]
    assert r.stderr == ""


def test_export_false_keeps_the_mount_to_the_parent(fresh_venv, program):
    r = run_parent(fresh_venv, program, "spawn", "no-export")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["exitcode", "1"]
    assert "No module named 'spx'" in r.stderr


def test_export_mirrors_mount_and_unmount(tree, pkgname, monkeypatch):
    monkeypatch.delenv(_config.ENV_EXPORT, raising=False)
    monkeypatch.setenv(_config.ENV_PATH, "")
    weird = tree({"a.py": ""}, sub="dir;with,%odd:chars#")
    bi.mount(pkgname, weird, pattern="[a-z]*.py", atomic=True)
    bi.mount(pkgname + "_private", tree({"b.py": ""}, sub="private"), export=False)
    path_value, entries = _config.decode_export(os.environ[_config.ENV_EXPORT])
    assert path_value == ""
    assert [e.config() for e in entries if e.package.startswith(pkgname)] == [
        (pkgname, (str(weird),), "[a-z]*.py", False, True)]
    bi.unmount(pkgname)
    _, entries = _config.decode_export(os.environ[_config.ENV_EXPORT])
    assert not [e for e in entries if e.package.startswith(pkgname)]


def test_export_round_trips_any_path():
    configs = [("p", ("/a;b", "/c,d", "/e%25f", "/ü:x#y", "/ sp "), "*_b[0-9].py", True, False),
               ("q.r", ("/x",), "*.py", False, True)]
    value = _config.encode_export("p=/a#*.py;q=/b", [MountSpec(*c) for c in configs])
    path_value, entries = _config.decode_export(value)
    assert path_value == "p=/a#*.py;q=/b"
    assert [e.config() for e in entries] == configs
    for bad in ("", "2;x", "1;;p,z,*.py,/a", "1;;p,a"):
        with pytest.raises(ValueError):
            _config.decode_export(bad)


def test_child_with_its_own_bridgeimport_path_ignores_the_export(fresh_venv, tmp_path):
    """A child whose BRIDGEIMPORT_PATH differs from the one the export was
    written under was configured on purpose: its own configuration wins."""
    exported, own = tmp_path / "exported", tmp_path / "own"
    for d, text in ((exported, "'exported'"), (own, "'own'")):
        d.mkdir()
        (d / "m.py").write_text(f"WHO = {text}\n")
    export = _config.encode_export("", [MountSpec("ex_env", (str(exported),))])
    code = "import ex_env.m; print(ex_env.m.WHO)"
    r = run_python(fresh_venv, code, BRIDGEIMPORT_MOUNTS=export)
    assert (r.returncode, r.stdout.strip()) == (0, "exported"), r.stderr
    r = run_python(fresh_venv, code, BRIDGEIMPORT_MOUNTS=export, BRIDGEIMPORT_PATH=f"ex_env={own}")
    assert (r.returncode, r.stdout.strip()) == (0, "own"), r.stderr


def test_mount_warns_about_workers_started_before_it(tmp_path):
    """Workers alive at mount() time cannot see the mount (issue 16, part 3):
    a warning names the count and the fix; none once they are gone, and none
    in a program that never imported multiprocessing (which mount() does not
    import)."""
    import multiprocessing
    import warnings

    d = tmp_path / "late"
    d.mkdir()
    pool = multiprocessing.get_context("spawn").Pool(2)
    try:
        pool.apply(os.getpid)  # both started
        with pytest.warns(bi.BridgeImportWarning,
                          match=r"2 multiprocessing child processes .* mount first") as got:
            bi.mount("late_pkg_a", d)
        assert got[0].filename == __file__  # points at the mount() call
    finally:
        pool.terminate()
        pool.join()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bi.mount("late_pkg_b", d)


def test_mount_does_not_import_multiprocessing(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        import bridgeimport as bi
        bi.mount("plain_pkg", {str(d)!r})
        print("multiprocessing" in sys.modules)
        """)], capture_output=True, text=True, timeout=60,
        # Not clean_env(): that drops PYTHONPATH, which `make sanitize` finds the package by.
        env={k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# -- bi.env(): the variables a worker started elsewhere needs (issue 16, part 2) --

def run_in(python: Path, cwd: Path, code: str, variables: dict) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter started in ``cwd`` whose environment
    holds no bridgeimport variables but ``variables``."""
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          env=clean_env(**variables), cwd=cwd, timeout=120)


def test_env_is_the_path_form_that_a_worker_resolves_at_start_up(fresh_venv, tmp_path):
    shipped = tmp_path / "job"  # what a worker's working_dir or unpacked archive holds
    (shipped / "plugins").mkdir(parents=True)
    (shipped / "plugins" / "shapes.py").write_text("WHERE = __file__\n")
    bi.mount("envp", shipped / "plugins", pattern="s*.py")
    assert bi.env("envp") == {"BRIDGEIMPORT_PATH": f"envp={shipped / 'plugins'}#s*.py"}
    variables = bi.env("envp", relative_to=shipped)
    assert variables == {"BRIDGEIMPORT_PATH": "envp=plugins#s*.py"}
    specs, errors = _config.parse_path(variables["BRIDGEIMPORT_PATH"])
    assert not errors and specs[0].pattern == "s*.py"
    # A chdir after start-up (Ray's and Spark's workers do one) moves nothing.
    code = "import os; os.chdir('/'); import envp.shapes; print(envp.shapes.WHERE)"
    r = run_in(fresh_venv, shipped, code, variables)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (
        0, str(shipped / "plugins" / "shapes.py"), "")


def test_env_falls_back_to_the_export_form_for_what_the_path_cannot_say(fresh_venv, tmp_path):
    shipped = tmp_path / "job"
    odd = shipped / "semi;colon"
    odd.mkdir(parents=True)
    (odd / "m.py").write_text("import bridgeimport as bi\nATOMIC = bi.find_mount('enva').atomic\n")
    bi.mount("enva", odd, atomic=True)
    variables = bi.env("enva", relative_to=shipped)
    assert set(variables) == {"BRIDGEIMPORT_PATH", "BRIDGEIMPORT_MOUNTS"}
    assert variables["BRIDGEIMPORT_PATH"] == ""  # the export applies to a worker's own PATH
    with pytest.raises(ValueError, match="cannot be written in BRIDGEIMPORT_PATH"):
        _config.encode_path([MountSpec("enva", ("semi;colon",))])
    code = "import os; os.chdir('/'); import enva.m; print(enva.m.ATOMIC, enva.m.__file__)"
    r = run_in(fresh_venv, shipped, code, variables)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, f"True {odd / 'm.py'}", "")


def test_env_refuses_what_a_worker_could_not_find(tmp_path):
    inside, outside = tmp_path / "job" / "plugins", tmp_path / "elsewhere"
    for d in (inside, outside):
        d.mkdir(parents=True)
    bi.mount("envr_in", inside)
    bi.mount("envr_out", outside)
    bi.mount("envr_private", inside, export=False)
    assert "envr_private" not in bi.env()["BRIDGEIMPORT_PATH"]   # only exported mounts...
    assert bi.env("envr_private") == {"BRIDGEIMPORT_PATH": f"envr_private={inside}"}  # ...or named
    with pytest.raises(ValueError, match=r"'envr_out' is not under relative_to"):
        bi.env(relative_to=tmp_path / "job")
    assert bi.env("envr_in", relative_to=tmp_path / "job") == {
        "BRIDGEIMPORT_PATH": "envr_in=plugins"}
    with pytest.raises(ValueError, match=r"env\(\): 'envr_none' is not mounted"):
        bi.env("envr_none")
    with pytest.raises(TypeError, match="package must be a str"):
        bi.env(3)  # type: ignore[arg-type]


def test_env_command_prints_the_same(tmp_path):
    # PYTHONPATH kept: make sanitize runs the package from it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    job = tmp_path / "job"
    (job / "plugins").mkdir(parents=True)
    cli = [sys.executable, "-m", "bridgeimport", "env", "--mount", f"envc={job / 'plugins'}"]
    r = subprocess.run(cli + ["--relative-to", str(job), "--format", "json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout) == {"BRIDGEIMPORT_PATH": "envc=plugins"}
    r = subprocess.run(["bash", "-c", f'eval "$({" ".join(cli)})"; echo "$BRIDGEIMPORT_PATH"'],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout.strip() == f"envc={job / 'plugins'}", r.stderr
    r = subprocess.run(cli + ["envc_missing"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == "bridgeimport env: env(): 'envc_missing' is not mounted"
