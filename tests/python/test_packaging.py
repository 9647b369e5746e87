"""The wheel and the sdist as a user gets them (issue 11).

* The wheel's extension needs no shared library beyond what every manylinux
  policy allows, and the Makefile's wheel carries the manylinux tag auditwheel
  gave it.
* The wheel works in a fresh venv without system site-packages: the demo runs.
* The sdist builds and installs with a user's pip (build isolation: the pinned
  build requirements from the package index; abseil from the pinned tarball).

The wheel comes from $BRIDGEIMPORT_WHEEL (see test_startup), the sdist from
$BRIDGEIMPORT_SDIST (the Makefile builds both) or is built here.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from test_startup import ROOT, clean_env, wheel  # noqa: F401 (fixture)

# What a manylinux policy lets an extension link (PEP 600, auditwheel's
# policies): the C library, the C++ runtime and the unwinder.
ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                  "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2", "librt.so.1"}


def needed(shared_object: Path) -> list:
    """The DT_NEEDED entries of an ELF file, as readelf (binutils) lists them."""
    out = subprocess.run(["readelf", "-d", str(shared_object)], capture_output=True,
                         text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def extension_of(wheel_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel_path) as z:
        names = [n for n in z.namelist() if re.match(r"bridgeimport/_native\..*\.so$", n)]
        assert len(names) == 1, names
        return Path(z.extract(names[0], into))


def test_wheel_extension_links_only_what_manylinux_allows(wheel, tmp_path):
    libraries = needed(extension_of(wheel, tmp_path))
    assert "libc.so.6" in libraries  # the parse found the list
    assert set(libraries) <= ALLOWED_NEEDED, libraries
    assert not any("absl" in lib or "python" in lib for lib in libraries), libraries


def test_makefile_wheel_has_a_manylinux_tag(wheel):
    if "BRIDGEIMPORT_WHEEL" not in os.environ:
        pytest.skip("tags are checked on the Makefile's wheel (auditwheel repair's output)")
    platform = wheel.name[:-len(".whl")].split("-")[-1]
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", platform), wheel.name


def bare_venv(root: Path, with_pip: bool = False) -> Path:
    """A venv that sees nothing of this machine's packages."""
    venv.EnvBuilder(with_pip=with_pip, system_site_packages=False).create(root)
    python = root / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import sys; print(sys.path)"],
                         capture_output=True, text=True, check=True, env=clean_env()).stdout
    assert "dist-packages" not in out, out
    return python


def test_wheel_runs_the_demo_in_a_venv_without_system_packages(wheel, tmp_path):
    python = bare_venv(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-index", "--no-deps", "-q", str(wheel)], check=True, env=clean_env())
    r = subprocess.run([str(python), "-m", "bridgeimport", "demo"], capture_output=True,
                       text=True, env=clean_env(), cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("All claims held."), r.stdout


def sdist_path(out: Path) -> Path:
    given = os.environ.get("BRIDGEIMPORT_SDIST")
    if given:
        return Path(given)
    try:
        import build  # noqa: F401
    except ImportError:
        pytest.skip("no $BRIDGEIMPORT_SDIST and no 'build' module to make one")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o",
                    str(out), str(ROOT)], check=True, capture_output=True)
    return Path(glob.glob(str(out / "bridgeimport-*.tar.gz"))[0])


def abseil_archive() -> str:
    """The pinned abseil tarball the build reads instead of downloading it."""
    path = os.environ.get("BRIDGEIMPORT_ABSEIL_ARCHIVE") or subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fetch_sources.py"), "--path", "abseil"],
        capture_output=True, text=True, check=True).stdout.strip()
    if not os.path.isfile(path):
        pytest.skip(f"the pinned abseil tarball is not fetched ({path}): make sources")
    return path


def test_sdist_installs_with_pip_as_a_user_would(tmp_path):
    sdist = sdist_path(tmp_path / "dist")
    with tarfile.open(sdist) as t:
        members = {m.split("/", 1)[1] for m in t.getnames() if "/" in m}
    for required in ("CMakeLists.txt", "cmake/abseil.cmake", "deps/sources.lock",
                     "pyproject.toml", "loader/module.cc", "finders/mount_table.cc",
                     "python/bridgeimport.pth", "python/bridgeimport/_native.pyi"):
        assert required in members, required
    python = bare_venv(tmp_path / "venv", with_pip=True)
    env = clean_env(BRIDGEIMPORT_ABSEIL_ARCHIVE=abseil_archive())
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", str(sdist)],
                       capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    bridges = tmp_path / "bridges"
    bridges.mkdir()
    (bridges / "one.py").write_text("X = 'from the sdist'\n")
    code = ("import sys, bridgeimport._native as n, sd_env.one as one; "
            "print(one.X, n.__file__)")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                       env=clean_env(BRIDGEIMPORT_PATH=f"sd_env={bridges}"), cwd="/")
    assert r.returncode == 0, r.stderr
    text, so = r.stdout.strip().rsplit(" ", 1)
    assert text == "from the sdist"
    assert so.startswith(str(tmp_path / "venv")), so
    assert set(needed(Path(so))) <= ALLOWED_NEEDED
