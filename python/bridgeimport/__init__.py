"""bridgeimport: one file, one module object.

Mount directories of Python "bridge" files under a package name and import
them with plain ``import`` statements, ``importlib.import_module`` or
:func:`load`; each file becomes exactly one module object, loaded by a native
finder and loader that roll ``sys.modules`` back when a load fails.

    >>> import bridgeimport as bi
    >>> bi.mount("plugins", "/srv/app/plugins")           # doctest: +SKIP
    >>> import plugins.csv_reader                         # doctest: +SKIP
    >>> bi.load("plugins.csv_reader") is plugins.csv_reader   # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib.abc as _abc
from types import ModuleType

from . import _native
from ._mounts import Mount, find_mount, install, installed, mount, mounts, unmount, uninstall
from ._native import BridgeImportError, BridgeNotFoundError, InvalidModuleNameError

__all__ = [
    "BridgeImportError",
    "BridgeNotFoundError",
    "InvalidModuleNameError",
    "Mount",
    "Finder",
    "Loader",
    "find_mount",
    "install",
    "installed",
    "load",
    "mount",
    "mounts",
    "unmount",
    "uninstall",
]

__version__ = "0.1.0"

Finder = _native.Finder
Loader = _native.Loader

# The native classes follow the importlib.abc protocols; say so to isinstance().
_abc.MetaPathFinder.register(Finder)
for _base in (_abc.Loader, _abc.InspectLoader, _abc.ExecutionLoader, _abc.ResourceLoader):
    _base.register(Loader)
del _base


def load(name: str) -> ModuleType:
    """Returns the bridge module ``name``, importing it if needed.

    The result is the very object a plain ``import name`` gives (same
    ``sys.modules`` entry, same per-module import locks). The module is in
    ``sys.modules`` before its code runs; if the code raises, ``sys.modules`` is
    left as it was (the module and anything its package ``__init__`` imported
    below it are removed) and the original exception propagates with a note
    naming the file.

    Raises InvalidModuleNameError for a malformed name and BridgeNotFoundError
    when no mount serves it.
    """
    return _native.finder.load(name)
