"""python -m bridgeimport: demo, list, bench; exit codes scripts rely on."""

from __future__ import annotations

import subprocess
import sys


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridgeimport", *args], capture_output=True,
                          text=True, timeout=120)


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
