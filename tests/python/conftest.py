"""Shared fixtures: isolated bridge trees and a clean import state per test."""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

import bridgeimport as bi

_counter = itertools.count()


def write_tree(root: Path, files: Dict[str, str]) -> Path:
    """Writes {relative path: source} under root (dedented); returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def pkgname() -> str:
    """A package name no other test uses, so module state never leaks."""
    return f"bt{os.getpid()}_{next(_counter)}"


@pytest.fixture(autouse=True)
def import_state():
    """Restores sys.modules, sys.path, meta_path, path hooks and mounts."""
    modules = dict(sys.modules)
    path = list(sys.path)
    meta_path = list(sys.meta_path)
    path_hooks = list(sys.path_hooks)
    mounted = {m.package for m in bi.mounts()}
    yield
    for m in bi.mounts():
        if m.package not in mounted:
            bi.unmount(m.package)
    for name in list(sys.modules):
        if name not in modules:
            del sys.modules[name]
    sys.modules.update(modules)
    sys.path[:] = path
    sys.meta_path[:] = meta_path
    sys.path_hooks[:] = path_hooks
    sys.path_importer_cache.clear()


@pytest.fixture
def tree(tmp_path: Path):
    """write_tree bound to a fresh directory: tree({'a.py': '...'}) -> Path."""

    def make(files: Dict[str, str], sub: str = "bridges") -> Path:
        return write_tree(tmp_path / sub, files)

    return make
