"""python -m bridgeimport: demo, list, run, doctor, bench; exit codes scripts
rely on (0 ok, 1 findings, 2 usage, 3 doctor's program failed; run passes the
program's own status through). Doctor's checks are in test_doctor.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridgeimport", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_demo_checks_every_claim():
    r = cli("demo")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[FAILED]" not in r.stdout
    assert r.stdout.rstrip().endswith("All claims held.")


def test_list_shows_modules_and_shadowed_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "sub").mkdir(parents=True)
    b.mkdir()
    (a / "x.py").write_text("")
    (a / "sub" / "__init__.py").write_text("")
    (b / "x.py").write_text("")
    r = cli("list", "--mount", f"lp={a}:{b}")
    assert r.returncode == 0, r.stderr
    assert "lp  pattern=*.py" in r.stdout
    assert "  lp.x  (not loaded)" in r.stdout and "  lp.sub  (not loaded)" in r.stdout
    assert f"    shadowed: {b / 'x.py'}" in r.stdout


def test_list_refuses_bad_mounts_with_exit_2(tmp_path):
    r = cli("list", "--mount", "no-equals-sign")
    assert r.returncode == 2 and "package=dir" in r.stderr
    r = cli("list", "--mount", f"lp={tmp_path / 'missing'}")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_usage_and_bench_help():
    assert cli().returncode == 2
    r = cli("bench", "--help")
    assert r.returncode == 0 and "--scales" in r.stdout


@pytest.mark.parametrize("command", ["demo", "list", "doctor", "run", "bench"])
def test_every_command_has_help(command):
    r = cli(command, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage:"), r.stderr
    r = cli("--help")
    assert r.returncode == 0 and command in r.stdout and "exit codes" in r.stdout


def test_list_json_covers_subpackages_and_shadowed_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "sub").mkdir(parents=True)
    b.mkdir()
    (a / "x.py").write_text("")
    (b / "x.py").write_text("")
    (a / "sub" / "__init__.py").write_text("")
    (a / "sub" / "leaf.py").write_text("")
    r = cli("list", "--json", "--mount", f"lj={a}:{b}#*.py")
    assert r.returncode == 0, r.stderr
    (m,) = json.loads(r.stdout)["mounts"]
    assert (m["package"], m["directories"], m["pattern"]) == ("lj", [str(a), str(b)], "*.py")
    by_name = {e["name"]: e for e in m["modules"]}
    assert list(by_name) == ["lj.sub", "lj.sub.leaf", "lj.x"]
    assert by_name["lj.x"] == {"name": "lj.x", "file": str(a / "x.py"), "package": False,
                               "state": "not loaded", "loaded_from": None,
                               "shadowed": [str(b / "x.py")]}
    assert by_name["lj.sub"]["package"] is True
    assert by_name["lj.sub.leaf"]["file"] == str(a / "sub" / "leaf.py")
    r = cli("list", "--mount", f"lj={a}:{b}")
    assert "  lj.sub.leaf  (not loaded)" in r.stdout


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


SHOW = """
    import sys
    print(repr((__name__, __spec__.name if __spec__ else None, __package__, sys.argv,
                __file__, sys.modules["__main__"].__dict__ is globals())))
"""


def test_run_m_executes_main_with_the_right_argv(tmp_path):
    write(tmp_path / "app" / "tool.py", SHOW)
    r = cli("run", "--mount", f"rapp={tmp_path / 'app'}", "-m", "rapp.tool", "x", "--help", "-m")
    assert r.returncode == 0, r.stderr
    tool = str(tmp_path / "app" / "tool.py")
    assert r.stdout.strip() == repr(("__main__", "rapp.tool", "rapp",
                                     [tool, "x", "--help", "-m"], tool, True))


def test_run_m_package_runs_its_main_submodule_through_the_bridge_loader(tmp_path):
    write(tmp_path / "app" / "pkg" / "__init__.py", "")
    write(tmp_path / "app" / "pkg" / "__main__.py", """
        import sys, bridgeimport
        print(__spec__.name, isinstance(__loader__, bridgeimport.Loader), sys.argv[1:])
    """)
    r = cli("run", "--mount", f"rpk={tmp_path / 'app'}", "-mrpk.pkg", "arg")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["rpk.pkg.__main__", "True", "['arg']"]


def test_run_script_gets_argv_path0_and_a_lasting_main(tmp_path):
    script = write(tmp_path / "dir" / "prog.py", SHOW + """
    print(sys.path[0])
    import atexit
    atexit.register(lambda: print("atexit sees", sys.modules["__main__"].__file__))
    """)
    r = cli("run", "dir/prog.py", "a", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first, path0, at_exit = r.stdout.strip().splitlines()
    assert first == repr(("__main__", None, None, ["dir/prog.py", "a"], str(script), True))
    assert path0 == str(tmp_path / "dir")
    assert at_exit == f"atexit sees {script}"


def test_run_passes_the_program_status_through(tmp_path):
    prog = write(tmp_path / "p.py", "import sys; sys.exit(int(sys.argv[1]))")
    assert cli("run", str(prog), "0").returncode == 0
    assert cli("run", str(prog), "7").returncode == 7
    write(prog, """
        def inner():
            raise KeyError("boom")
        inner()
    """)
    r = cli("run", str(prog))
    assert r.returncode == 1
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert "KeyError: 'boom'" in r.stderr and "_run.py" not in r.stderr


def test_run_of_a_script_that_does_not_compile_prints_what_python_prints(tmp_path):
    prog = write(tmp_path / "bad.py", "x = (\n")
    ours = cli("run", str(prog))
    stock = subprocess.run([sys.executable, str(prog)], capture_output=True, text=True,
                           timeout=60)
    assert (ours.returncode, ours.stderr) == (stock.returncode, stock.stderr) == (
        1, stock.stderr)
    assert "SyntaxError" in ours.stderr and "Traceback" not in ours.stderr


def test_version_and_one_error_prefix(tmp_path):
    import bridgeimport

    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"bridgeimport {bridgeimport.__version__} (")
    r = cli("list", "--mount", f"ep={tmp_path / 'missing'}")
    assert r.returncode == 2
    assert r.stderr.startswith("bridgeimport list: ") and r.stderr.count("bridgeimport") == 1, \
        r.stderr


def test_run_usage_errors_exit_2(tmp_path):
    assert cli("run").returncode == 2
    r = cli("run", str(tmp_path / "missing.py"))
    assert r.returncode == 2 and "can't open file" in r.stderr
    r = cli("run", "-m", "no_such_module_anywhere")
    assert r.returncode == 2 and "no module named no_such_module_anywhere" in r.stderr
    r = cli("run", "--mount", "bad", "-m", "json.tool")
    assert r.returncode == 2 and "package=dir" in r.stderr
    assert cli("run", "--no-such-flag", "x.py").returncode == 2


def test_run_debug_logs_finds_and_loads_to_stderr(tmp_path):
    write(tmp_path / "app" / "helper.py", "")
    write(tmp_path / "app" / "main.py", "import rdb.helper\n")
    r = cli("run", "--debug", "--mount", f"rdb={tmp_path / 'app'}", "-m", "rdb.main")
    assert r.returncode == 0, r.stderr
    assert f"bridgeimport: find rdb.helper: {tmp_path / 'app' / 'helper.py'}" in r.stderr
    assert "bridgeimport: load rdb.helper from " in r.stderr
