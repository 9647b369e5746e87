"""Builds bridgeimport's wheel: the Python package, the CMake-built extension
bridgeimport._native, bridgeimport.pth (and bridgeimport.start where site.py
needs it: see START_FILE_FROM) at the top of site-packages, and the examples
used by ``python -m bridgeimport demo``.

Follows pybind11's cmake_example: a CMakeExtension whose build_ext runs CMake.
Environment knobs: CMAKE_BUILD_PARALLEL_LEVEL (jobs), BRIDGEIMPORT_CMAKE_ARGS
(extra -D options, space separated), BRIDGEIMPORT_ABSEIL_ARCHIVE (a local copy
of the pinned abseil tarball; see cmake/abseil.cmake), BRIDGEIMPORT_START_FILE=1
(ship bridgeimport.start on 3.15-3.17 too).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _cmake_program() -> str:
    """The cmake of the pinned build requirement (PyPI's cmake package) when
    it is installed, whether or not its bin directory is on PATH; else the
    one on PATH."""
    try:
        import cmake
    except ImportError:
        return "cmake"
    return os.path.join(cmake.CMAKE_BIN_DIR, "cmake")


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: CMakeExtension) -> None:
        ext_path = Path(self.get_ext_fullpath(ext.name)).resolve()
        extdir = ext_path.parent
        build_temp = Path(self.build_temp) / "cmake"
        build_temp.mkdir(parents=True, exist_ok=True)
        cmake_args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={extdir}{os.sep}",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBRIDGEIMPORT_BUILD_TESTS=OFF",
        ]
        try:
            import pybind11

            cmake_args.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass  # CMake finds a system pybind11 itself
        cmake_args += os.environ.get("BRIDGEIMPORT_CMAKE_ARGS", "").split()
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        cmake = _cmake_program()
        subprocess.run([cmake, "-S", str(ROOT), "-B", str(build_temp), *cmake_args], check=True)
        subprocess.run([cmake, "--build", str(build_temp), "--target", "_native",
                        "--parallel", jobs], check=True)


# PEP 829: site.py runs a .pth file's import lines through 3.17 (unless a
# matching .start file exists) and ignores them from 3.18 on, where only
# <name>.start entry points run start-up code. Any entry point makes site.py
# import pkgutil to resolve it (with collections, functools, importlib.util,
# re): on 3.15.2 a process importing one bridge module took 1.96x a stock
# one with the start file, 1.21x with the .pth line (README, "Start files";
# benchmarks/bench_cold_start.py --start-file).
# So the wheel ships the start file only where the .pth line no longer runs,
# or where BRIDGEIMPORT_START_FILE=1 asks for it; either file calls the same
# _startup.run, once.
START_FILE_FROM = (3, 18)


def ships_start_file() -> bool:
    return (sys.version_info >= START_FILE_FROM
            or os.environ.get("BRIDGEIMPORT_START_FILE", "") not in ("", "0"))


class BuildPyWithPth(build_py):
    """Also places the start-up files at the root of the install
    (site-packages): bridgeimport.pth for every Python, bridgeimport.start
    where ships_start_file(); and the examples inside the package. Drops
    modules an earlier build left in the same build_lib that the sources no
    longer have (a moved or deleted module would otherwise ship too)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib)
        package = target / "bridgeimport"
        for built in package.rglob("*.py"):
            relative = built.relative_to(target)
            if relative.parts[1] != "_examples" and not (ROOT / "python" / relative).exists():
                built.unlink()
        shutil.copy(ROOT / "python" / "bridgeimport.pth", target / "bridgeimport.pth")
        start = target / "bridgeimport.start"
        if ships_start_file():
            shutil.copy(ROOT / "python" / "bridgeimport.start", start)
        elif start.exists():  # left by an earlier build into the same build_lib
            start.unlink()
        examples = target / "bridgeimport" / "_examples"
        if examples.exists():
            shutil.rmtree(examples)
        shutil.copytree(ROOT / "examples", examples,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(
    packages=["bridgeimport", "bridgeimport.cli"],
    package_dir={"": "python"},
    package_data={"bridgeimport": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("bridgeimport._native")],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithPth},
    zip_safe=False,
)
