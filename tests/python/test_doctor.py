"""bridgeimport.doctor() and `python -m bridgeimport doctor`: each kind of
finding on a process that really has the problem, and silence when it does
not."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bridgeimport as bi

PAST_NS = (int(time.time()) - 3600) * 1_000_000_000


def findings(report, kind, file=None, module=None):
    return [f for f in report.of_kind(kind)
            if (file is None or os.path.realpath(f.file) == os.path.realpath(str(file)))
            and (module is None or f.module == module)]


def load_by_file(name: str, path: Path):
    """The hand-written loader docs/design.md section 1 warns about."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_spec_from_file_location_of_a_bridge_file_is_a_duplicate(tree, pkgname):
    root = tree({"mod.py": "X = object()\n", "other.py": ""})
    bi.mount(pkgname, root)
    real = importlib.import_module(f"{pkgname}.mod")
    importlib.import_module(f"{pkgname}.other")
    assert not findings(bi.doctor(), "duplicate", root / "mod.py")
    copy = load_by_file(f"{pkgname}_copy", root / "mod.py")
    assert copy.X is not real.X
    for report in (bi.doctor(), bi.doctor(bridge_only=True)):
        (found,) = findings(report, "duplicate", root / "mod.py")
        assert found.module == f"{pkgname}.mod"
        keys = sorted(k for o in found.details["objects"] for k in o["keys"])
        assert keys == sorted([f"{pkgname}.mod", f"{pkgname}_copy"])
        assert [o["bridge"] for o in found.details["objects"]].count(True) == 1
        assert not report.ok
    assert not findings(bi.doctor(), "duplicate", root / "other.py")


def test_a_hand_loaded_module_that_failed_half_way_is_half_executed(tmp_path, pkgname):
    """The README's opening bug: a hand-written loader leaves a module whose
    code raised in sys.modules, half-initialised."""
    (tmp_path / "half.py").write_text(textwrap.dedent("""\
        import os.path as osp, json
        A = 1
        def early(): pass
        raise RuntimeError("boom")
        class Late: pass
        LATE_VALUE: int = 2
        from json import dumps as late_dumps
        """))
    (tmp_path / "whole.py").write_text("A = 1\ntemp = 2\ndel temp\nif A:\n    maybe = 3\n")
    name = f"{pkgname}_half"
    with pytest.raises(RuntimeError):
        load_by_file(name, tmp_path / "half.py")
    load_by_file(f"{pkgname}_whole", tmp_path / "whole.py")
    try:
        (found,) = findings(bi.doctor(), "half_executed")
        assert (found.module, found.details["missing"]) == (name, ["Late", "LATE_VALUE",
                                                                  "late_dumps"])
        assert "left it in sys.modules" in found.message and name in found.message
        assert "[half_executed]" in str(bi.doctor())
        del sys.modules[name]
        assert not findings(bi.doctor(), "half_executed")
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(f"{pkgname}_whole", None)


def test_modules_from_the_current_directory_or_edited_after_import_are_not_half_executed(
        tmp_path):
    """Two ordinary sessions: `python -c` imports from the current directory
    (sys.path's ''), and a module loaded by hand gains a function on disk
    afterwards (its pyc then says the source changed)."""
    (tmp_path / "here.py").write_text("A = 1\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "edited.py").write_text("A = 1\n")
    code = textwrap.dedent("""\
        import importlib.util, sys, bridgeimport
        import here
        with open("here.py", "a") as f: f.write("def g(): pass\\n")
        spec = importlib.util.spec_from_file_location("edited", "elsewhere/edited.py")
        m = importlib.util.module_from_spec(spec); sys.modules["edited"] = m
        spec.loader.exec_module(m)
        with open("elsewhere/edited.py", "a") as f: f.write("def g(): pass\\n")
        print([f.module for f in bridgeimport.doctor(check_pyc=False).of_kind("half_executed")])
        """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, "[]"), r.stderr


def test_names_missing_only_in_the_middle_are_not_half_executed(tmp_path, pkgname):
    """A module that deleted one of its own names later (not the shape a
    failed execution leaves) is left alone."""
    (tmp_path / "tidy.py").write_text("A = 1\nB = 2\nC = 3\n")
    module = load_by_file(f"{pkgname}_tidy", tmp_path / "tidy.py")
    del module.B
    try:
        assert not findings(bi.doctor(check_pyc=False), "half_executed")
        del module.C
        (found,) = findings(bi.doctor(check_pyc=False), "half_executed")
        assert found.details["missing"] == ["B", "C"]
    finally:
        sys.modules.pop(f"{pkgname}_tidy", None)


def test_a_module_still_executing_is_not_half_executed(tmp_path, pkgname):
    """doctor() called from a module body, as in a script or a plugin."""
    (tmp_path / "busy.py").write_text(
        "import bridgeimport\nREPORT = bridgeimport.doctor()\nAFTER = 1\n")
    module = load_by_file(f"{pkgname}_busy", tmp_path / "busy.py")
    try:
        assert not findings(module.REPORT, "half_executed")
    finally:
        sys.modules.pop(f"{pkgname}_busy", None)


def test_a_symlinked_path_to_the_same_file_is_still_a_duplicate(tree, pkgname, tmp_path):
    root = tree({"mod.py": ""})
    bi.mount(pkgname, root)
    importlib.import_module(f"{pkgname}.mod")
    link = tmp_path / "link.py"
    link.symlink_to(root / "mod.py")
    load_by_file(f"{pkgname}_linked", link)
    assert findings(bi.doctor(bridge_only=True), "duplicate", root / "mod.py")


def test_sys_modules_key_differing_from_spec_name(tree, pkgname):
    root = tree({"mod.py": ""})
    bi.mount(pkgname, root)
    module = importlib.import_module(f"{pkgname}.mod")
    sys.modules[f"{pkgname}_alias"] = module  # an alias: the object is also under its name
    assert not findings(bi.doctor(), "name_mismatch", module=f"{pkgname}_alias")
    del sys.modules[f"{pkgname}.mod"]  # now only the wrong key holds it
    (found,) = findings(bi.doctor(bridge_only=True), "name_mismatch", module=f"{pkgname}_alias")
    assert found.details == {"key": f"{pkgname}_alias", "spec_name": f"{pkgname}.mod"}
    # os.path is posixpath, registered under both names: not a finding.
    assert not findings(bi.doctor(), "name_mismatch", module="os.path")


def test_changed_on_disk_since_load(tree, pkgname):
    root = tree({"grow.py": "A = 1\n", "same.py": "B = 1\n", "touch.py": "C = 1\n",
                 "gone.py": ""})
    bi.mount(pkgname, root)
    for name in ("grow", "same", "touch", "gone"):
        importlib.import_module(f"{pkgname}.{name}")
    assert not bi.doctor(bridge_only=True).of_kind("changed_on_disk")
    future = time.time_ns() + 5_000_000_000
    (root / "grow.py").write_text("A = 12345\n")
    (root / "same.py").write_text("B = 2\n")  # same size, other contents
    os.utime(root / "same.py", ns=(future, future))
    os.utime(root / "touch.py", ns=(future, future))  # mtime only
    (root / "gone.py").unlink()
    report = bi.doctor(bridge_only=True)
    changed = {f.module: f for f in report.of_kind("changed_on_disk")}
    assert set(changed) == {f"{pkgname}.grow", f"{pkgname}.same", f"{pkgname}.gone"}
    assert "size changed from 6 to 10" in changed[f"{pkgname}.grow"].message
    assert changed[f"{pkgname}.same"].details["content_compared"] is True
    assert "gone" in changed[f"{pkgname}.gone"].message
    bi.reload(sys.modules[f"{pkgname}.grow"])  # the reload compiles the new source
    assert not findings(bi.doctor(bridge_only=True), "changed_on_disk",
                        module=f"{pkgname}.grow")


def write_pyc(source: Path, mode=py_compile.PycInvalidationMode.TIMESTAMP) -> Path:
    cfile = importlib.util.cache_from_source(str(source))
    py_compile.compile(str(source), cfile=cfile, doraise=True, invalidation_mode=mode)
    return Path(cfile)


def old(path: Path, text: str) -> Path:
    path.write_text(text)
    os.utime(path, ns=(PAST_NS, PAST_NS))
    return path


def test_stale_and_corrupt_pyc_files_of_mounted_files(tree, pkgname):
    root = tree({})
    good = old(root / "good.py", "G = 1\n")
    stale = old(root / "stale.py", "S = 1\n")
    short = old(root / "short.py", "")
    body = old(root / "body.py", "")
    magic = old(root / "magic.py", "")
    unchecked = old(root / "unchecked.py", "U = 1\n")
    checked = old(root / "checked.py", "K = 1\n")
    for src in (good, stale, short, body, magic):
        write_pyc(src)
    write_pyc(unchecked, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    write_pyc(checked, py_compile.PycInvalidationMode.CHECKED_HASH)
    bi.mount(pkgname, root)
    assert not bi.doctor(bridge_only=True).findings  # all valid, nothing loaded needed

    old(stale, "S = 22\n")
    pyc = Path(importlib.util.cache_from_source(str(short)))
    pyc.write_bytes(pyc.read_bytes()[:10])
    pyc = Path(importlib.util.cache_from_source(str(body)))
    pyc.write_bytes(pyc.read_bytes()[:16] + b"\xff\x00garbage")
    pyc = Path(importlib.util.cache_from_source(str(magic)))
    pyc.write_bytes(b"\x01\x00\r\n" + pyc.read_bytes()[4:])
    old(unchecked, "U = 2\n")
    old(checked, "K = 2\n")

    report = bi.doctor(bridge_only=True)
    kinds = {f.module.rsplit(".", 1)[1]: f for f in report.findings}
    assert set(kinds) == {"stale", "short", "body", "magic", "unchecked", "checked"}
    assert kinds["stale"].kind == "stale_pyc" and "size" in kinds["stale"].message
    assert kinds["short"].kind == "corrupt_pyc" and "truncated" in kinds["short"].message
    assert kinds["body"].kind == "corrupt_pyc" and "unmarshal" in kinds["body"].message
    assert kinds["magic"].kind == "stale_pyc" and "magic" in kinds["magic"].message
    assert kinds["unchecked"].kind == "stale_pyc"
    assert kinds["unchecked"].details["check_source"] is False
    assert "runs it anyway" in kinds["unchecked"].message
    assert kinds["checked"].details["check_source"] is True
    assert report.checked["pycs"] == 7
    assert not bi.doctor(bridge_only=True, check_pyc=False).findings


def test_report_formats_and_serialises(tree, pkgname):
    root = tree({"mod.py": ""})
    bi.mount(pkgname, root)
    importlib.import_module(f"{pkgname}.mod")
    load_by_file(f"{pkgname}_copy", root / "mod.py")
    report = bi.doctor(bridge_only=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and set(data["checked"]) == {"modules", "files", "pycs"}
    assert {"kind", "module", "file", "message", "details"} <= set(data["findings"][0])
    text = str(report)
    assert text.startswith("bridgeimport doctor: 1 finding (")
    assert f"[duplicate] {pkgname}.mod" in text


# -- the command line ------------------------------------------------------------

def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "bridgeimport", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_doctor_cli_runs_a_script_with_a_real_duplicate(tmp_path):
    bridges = tmp_path / "bridges"
    bridges.mkdir()
    (bridges / "mod.py").write_text("X = 1\n")
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        import dapp.mod
        spec = importlib.util.spec_from_file_location("copy_of_mod", {str(bridges / 'mod.py')!r})
        m = importlib.util.module_from_spec(spec)
        sys.modules["copy_of_mod"] = m
        spec.loader.exec_module(m)
        print("ran", sys.argv[1:])
    """))
    r = cli("doctor", "--json", "--bridge-only", "--mount", f"dapp={bridges}", str(script), "a1")
    assert r.returncode == 1, r.stderr
    out, _, report = r.stdout.partition("\n")
    assert out == "ran ['a1']"
    data = json.loads(report)
    (found,) = data["findings"]
    assert (found["kind"], found["module"]) == ("duplicate", "dapp.mod")
    assert data["program"] == {"argv": [str(script), "a1"], "exit_status": 0, "error": None}
    # Without the second load: nothing found, exit 0.
    script.write_text("import dapp.mod\n")
    r = cli("doctor", "--bridge-only", "--mount", f"dapp={bridges}", str(script))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("bridgeimport doctor: no findings")


def test_doctor_cli_m_finds_main_versus_package_name(tmp_path):
    bridges = tmp_path / "bridges"
    bridges.mkdir()
    (bridges / "tool.py").write_text(
        "import sys\nif __name__ == '__main__':\n    import mapp.tool\n")
    r = cli("doctor", "--mount", f"mapp={bridges}", "-m", "mapp.tool")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[duplicate] mapp.tool" in r.stdout
    assert "sys.modules['__main__'] (the main program)" in r.stdout


def test_doctor_cli_exit_codes_for_a_failing_program_and_usage(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("raise SystemExit(4)\n")
    r = cli("doctor", "--bridge-only", str(script))
    assert r.returncode == 3 and "exited with status 4" in r.stdout
    script.write_text("1 / 0\n")
    out = tmp_path / "report.json"
    r = cli("doctor", "--json", "--bridge-only", "-o", str(out), str(script))
    assert r.returncode == 3 and "ZeroDivisionError" in r.stderr
    assert json.loads(out.read_text())["program"]["error"].startswith("ZeroDivisionError")
    assert cli("doctor", str(tmp_path / "missing.py")).returncode == 2
    assert cli("doctor", "--no-such-option").returncode == 2


def test_doctor_cli_reports_a_stale_pyc_of_a_mounted_file(tmp_path):
    bridges = tmp_path / "bridges"
    bridges.mkdir()
    src = old(bridges / "mod.py", "A = 1\n")
    write_pyc(src)
    old(src, "A = 100\n")
    r = cli("doctor", "--json", "--bridge-only", "--mount", f"sapp={bridges}")
    assert r.returncode == 1, r.stderr
    (found,) = json.loads(r.stdout)["findings"]
    assert found["kind"] == "stale_pyc" and found["details"]["pyc"].endswith(".pyc")


def test_doctor_checks_modules_under_paths_that_are_not_utf8(tmp_path, monkeypatch):
    """A file name with bytes that are not UTF-8 (a surrogate escape in
    Python) reaches the same file in the native pyc check."""
    directory = os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xff")
    os.mkdir(directory)
    with open(os.path.join(directory, "surmod_doctor.py"), "w") as fh:
        fh.write("X = 1\n")
    monkeypatch.syspath_prepend(directory)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    import surmod_doctor  # noqa: F401
    try:
        assert not [f for f in bi.doctor() if f.module == "surmod_doctor"]
        pyc = importlib.util.cache_from_source(os.path.join(directory, "surmod_doctor.py"))
        with open(pyc, "r+b") as fh:
            fh.write(b"\0\0\0\0")  # not a pyc any more
        (found,) = [f for f in bi.doctor() if f.module == "surmod_doctor"]
        assert found.kind == "corrupt_pyc" and "bad magic number" in found.message
    finally:
        sys.modules.pop("surmod_doctor", None)
