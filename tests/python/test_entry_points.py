"""Plugin distributions declare mounts in their metadata (entry-point group
``bridgeimport.mounts``) and a new interpreter imports their bridges with
nothing else configured.

Plugins are real distributions built from a setup.py here and installed with
pip (--no-build-isolation --no-index) into a fresh venv next to the wheel.
"""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from test_startup import (clean_env, make_venv, pip_install, run_python,  # noqa: F401
                          site_packages, wheel)

PAST = 1_000_000_000


def age(site: Path) -> None:
    """Directories and entry_points.txt files changed in the last two seconds
    are never cached (an install may still be writing within the same mtime
    tick): make this site directory's look old."""
    for f in site.glob("*.dist-info/entry_points.txt"):
        os.utime(f, (PAST, PAST))
    os.utime(site, (PAST, PAST))


def write_plugin(root: Path, name: str, entry_points: dict, files: dict) -> Path:
    """A wheel of distribution ``name`` declaring ``entry_points`` (group
    bridgeimport.mounts) and shipping ``files``. Written directly (a wheel is
    a zip with a dist-info directory), so installing it needs no build
    backend: the pyenv interpreters of the test matrix have no setuptools."""
    import base64
    import hashlib
    import zipfile

    root.mkdir(parents=True)
    dist = name.replace("-", "_")
    info = f"{dist}-1.0.dist-info"
    contents = {rel: textwrap.dedent(text).encode() for rel, text in files.items()}
    contents[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\n"
                                    "Version: 1.0\n").encode()
    contents[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: bridgeimport-tests\n"
                                 b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    contents[f"{info}/entry_points.txt"] = ("[bridgeimport.mounts]\n" + "".join(
        f"{k} = {v}\n" for k, v in entry_points.items())).encode()
    record = []
    for rel, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{rel},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel_path = root / f"{dist}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w") as zf:
        for rel, data in contents.items():
            zf.writestr(rel, data)
    return wheel_path


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory, wheel):
    """A venv with the wheel and plugin 'bi-test-plug' installed."""
    root = tmp_path_factory.mktemp("plugins")
    python = make_venv(root / "venv", wheel)
    src = write_plugin(root / "src_a", "bi-test-plug", {
        # package form: the package's directory is the mount; never executed
        "tplug": "tplug_bridges",
        # module:attr form with a glob: a list of directories, relative ones
        # from the module's directory
        "tplug2.sub#*_bridge.py": "tplug_pkg:BRIDGE_DIRS",
    }, {
        "tplug_bridges/__init__.py":
            "raise AssertionError('a package-form mount is not executed')\n",
        "tplug_bridges/hello.py": "def greet():\n    return 'hello from a plugin'\n",
        "tplug_pkg/__init__.py": "BRIDGE_DIRS = ['more']\n",
        "tplug_pkg/more/clock_bridge.py": "TICK = 'tock'\n",
        "tplug_pkg/more/helper.py": "raise AssertionError('excluded by the glob')\n",
    })
    pip_install(python, str(src))
    return python, root


def test_plugin_bridges_import_in_a_new_interpreter(plugin_venv):
    python, _ = plugin_venv
    site = site_packages(python)
    code = ("import sys\n"
            "print('bridgeimport._native' in sys.modules)\n"
            "import tplug.hello, tplug2.sub.clock_bridge as c\n"
            "print(tplug.hello.greet(), c.TICK)\n"
            "print(tplug.hello.__file__)\n"
            "print(c.__file__)\n"
            "print('tplug_bridges' in sys.modules)\n"
            "try:\n    import tplug2.sub.helper\n"
            "except ModuleNotFoundError:\n    print('excluded')\n")
    r = run_python(python, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "False",
        "hello from a plugin tock",
        str(site / "tplug_bridges" / "hello.py"),
        str(site / "tplug_pkg" / "more" / "clock_bridge.py"),
        "False",
        "excluded",
    ]
    assert r.stderr == ""


def test_mounts_api_lists_entry_point_mounts(plugin_venv):
    python, _ = plugin_venv
    code = ("import bridgeimport as bi\n"
            "for m in bi.mounts(): print(m.package, m.pattern, len(m.directories))")
    r = run_python(python, code)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == ["tplug *.py 1", "tplug2.sub *_bridge.py 1"]


def test_bridgeimport_path_overrides_and_disable_turns_off(plugin_venv, tmp_path):
    python, _ = plugin_venv
    (tmp_path / "hello.py").write_text("def greet():\n    return 'overridden'\n")
    r = run_python(python, "import tplug.hello; print(tplug.hello.greet())",
                   BRIDGEIMPORT_PATH=f"tplug={tmp_path}")
    assert (r.returncode, r.stdout.strip()) == (0, "overridden"), r.stderr
    r = run_python(python, "import tplug.hello", BRIDGEIMPORT_DISABLE="1")
    assert r.returncode == 1 and "No module named 'tplug'" in r.stderr


def test_cache_is_used_and_installing_a_plugin_invalidates_it(plugin_venv, tmp_path):
    python, root = plugin_venv
    site = site_packages(python)
    cache_home = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache_home)}
    age(site)
    r = run_python(python, "import tplug.hello", **env)
    assert r.returncode == 0, r.stderr
    (cache,) = (cache_home / "bridgeimport").iterdir()
    fmt, slots = marshal.loads(cache.read_bytes())
    assert [sorted(rec[1] for rec in records) for _key, _stamps, records in slots] == [
        ["tplug", "tplug2.sub#*_bridge.py"]]

    # The cache is what start-up reads: a distribution slipped in without
    # changing the directory's mtime is not seen...
    fake = site / "zz_fake-1.0.dist-info"
    fake.mkdir()
    (fake / "entry_points.txt").write_text("[bridgeimport.mounts]\nzzfake = tplug_bridges\n")
    age(site)
    probe = "import bridgeimport as bi; print(sorted(m.package for m in bi.mounts()))"
    r = run_python(python, probe, **env)
    assert r.stdout.strip() == "['tplug', 'tplug2.sub']", r.stderr
    # ...while a real install changes the mtime: the next start rescans.
    shutil.rmtree(fake)
    src = write_plugin(root / "src_b", "bi-test-plug-b", {
        "tplugb": "tplugb_bridges",
        "tplug_broken": "no_such_module_anywhere",
    }, {"tplugb_bridges/__init__.py": "", "tplugb_bridges/b.py": "B = 'b'\n"})
    pip_install(python, str(src))
    r = run_python(python, "import tplugb.b; print(tplugb.b.B)\n" + probe, **env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["b", "['tplug', 'tplug2.sub', 'tplugb']"]
    # A broken entry point warns once, naming itself, and breaks nothing.
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "tplug_broken" in lines[0] and "bi_test_plug_b" in lines[0], r.stderr
    pip_uninstall = [str(python), "-m", "pip", "uninstall", "-y", "-q", "bi-test-plug-b"]
    subprocess.run(pip_uninstall, check=True, env=clean_env())
    r = run_python(python, probe, **env)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "['tplug', 'tplug2.sub']", "")
