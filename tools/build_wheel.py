"""Builds bridgeimport's wheel for the running interpreter through the
project's PEP 517 backend (setuptools.build_meta), in-process, as
`pip wheel --no-build-isolation` would in a subprocess.

    PYTHONPATH=/usr/lib/python3/dist-packages python tools/build_wheel.py SRC OUTDIR

Why not pip: with no package index here, setuptools and wheel come from
Debian (/usr/lib/python3/dist-packages) for every interpreter, and Debian's
setuptools is patched for Debian's own distutils: its install_lib and
install_egg_info copy the ``install_layout`` and ``prefix_option`` options
that only Debian's ``install`` command defines. On any other interpreter that
raises AttributeError, so both are given their Debian default (None: the
upstream layout) before the build. Nothing else differs from a pip build.
"""

from __future__ import annotations

import os
import sys


def main(src: str, out: str) -> None:
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    os.chdir(src)
    sys.path.insert(0, os.getcwd())  # what pip's in-process hook runner does

    import setuptools.command.install as install

    for option in ("install_layout", "prefix_option"):
        if not hasattr(install.install, option):
            setattr(install.install, option, None)
    from setuptools import build_meta

    print(os.path.join(out, build_meta.build_wheel(out)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
