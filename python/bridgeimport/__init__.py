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

# Start-up cost (DESIGN.md section 8): bridgeimport.pth imports this package on
# every interpreter start, so importing it loads nothing: the extension, the
# mount API and the registry are imported on first use of a name (PEP 562).
# Nothing here may import typing, threading, re, importlib.abc, or even
# __future__ (a real import at run time): annotations are strings.
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # type checkers treat the name as true; no typing import at run time
    from types import ModuleType

__all__ = [
    "BridgeCollisionWarning",
    "BridgeImportError",
    "BridgeImportWarning",
    "BridgeNotFoundError",
    "InvalidModuleNameError",
    "Mount",
    "Finder",
    "Registry",
    "Transaction",
    "dependencies",
    "dependents",
    "doctor",
    "Loader",
    "find_mount",
    "install",
    "installed",
    "load",
    "mount",
    "mounts",
    "reload",
    "transaction",
    "unmount",
    "uninstall",
]

__version__ = "0.1.0"

# Public name -> submodule defining it, imported on first access.
_LAZY = {
    "BridgeImportError": "_native",
    "BridgeImportWarning": "_native",
    "BridgeNotFoundError": "_native",
    "InvalidModuleNameError": "_native",
    "Finder": "_native",
    "Loader": "_native",
    "Mount": "_mounts",
    "find_mount": "_mounts",
    "install": "_mounts",
    "installed": "_mounts",
    "mount": "_mounts",
    "mounts": "_mounts",
    "unmount": "_mounts",
    "uninstall": "_mounts",
    "BridgeCollisionWarning": "_registry",
    "Registry": "_registry",
    "Transaction": "_transaction",
    "transaction": "_transaction",
}


def __getattr__(name: str):
    submodule = _LAZY.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # The package attribute, not sys.modules: one instance of each submodule
    # even if someone evicts it from sys.modules after its first import.
    module = globals().get(submodule)
    if module is None:
        __import__(f"{__name__}.{submodule}")
        module = globals()[submodule]
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


_finder = None  # set once; threads racing to set it store the same object


def _native_finder():
    """The native finder, loading the extension and mounting what start-up
    declared on first use."""
    global _finder
    if _finder is None:
        from . import _mounts

        _finder = _mounts._native.finder
    return _finder


def load(name: str, *, atomic: bool = False) -> "ModuleType":
    """Returns the bridge module ``name``, importing it if needed.

    The result is the very object a plain ``import name`` gives (same
    ``sys.modules`` entry, same per-module import locks). The module is in
    ``sys.modules`` before its code runs; if the code raises, ``sys.modules`` is
    left as it was (the module and anything its package ``__init__`` imported
    below it are removed) and the original exception propagates with a note
    naming the file.

    With ``atomic=True`` a failure also removes every other bridge module
    first loaded during this load (siblings it imported before failing, and
    their parent-package attributes). That is not the default because another
    thread may already hold such a sibling: removing it would give that thread
    and later importers two different module objects.

    Raises InvalidModuleNameError for a malformed name and BridgeNotFoundError
    when no mount serves it.
    """
    return (_finder or _native_finder()).load(name, atomic)


def reload(module: "ModuleType | str") -> "ModuleType":
    """Re-executes the newest source of a loaded bridge module in the same
    module object (``importlib.reload`` semantics, identity kept).

    If the new code raises or does not compile, the module's namespace is
    restored to exactly its pre-reload contents (same keys, same objects) and
    the error propagates with a note. Reloading a package re-executes its
    ``__init__`` only, as CPython does. Accepts a module or its name.
    """
    import importlib

    from ._native import BridgeNotFoundError, Loader

    if isinstance(module, str):
        name = module
        module = sys.modules.get(name)
        if module is None:
            raise BridgeNotFoundError(f"bridgeimport: {name!r} is not loaded; load() it first",
                                      name=name)
    spec = getattr(module, "__spec__", None)
    if not isinstance(getattr(spec, "loader", None), Loader):
        raise TypeError(f"bridgeimport.reload() takes a bridge module, not {module!r}")
    return importlib.reload(module)


def dependencies(name: str) -> list:
    """The bridge modules whose import the last successful execution of
    ``name`` performed directly (import statements, ``from x import y``,
    imports in functions called during execution, ``load()``), sorted."""
    _native_finder()  # imports bridgeimport._native, an attribute of this package from then on
    return globals()["_native"].dependencies(name)


def dependents(name: str) -> list:
    """The bridge modules whose recorded :func:`dependencies` include
    ``name``, sorted."""
    _native_finder()  # imports bridgeimport._native, an attribute of this package from then on
    return globals()["_native"].dependents(name)


def doctor(*, bridge_only: bool = False, check_pyc: bool = True):
    """Inspects this process's modules: duplicate module objects for one file
    (``__main__`` versus its package name included), ``sys.modules`` keys
    that differ from ``__spec__.name``, bridge modules changed on disk since
    load, stale or corrupt pyc files. Returns a report (``.ok``,
    ``.findings``, ``.to_dict()``, ``str()``); changes nothing. See
    ``python -m bridgeimport doctor``."""
    from ._doctor import doctor as run_doctor  # not imported at start-up

    return run_doctor(bridge_only=bridge_only, check_pyc=check_pyc)
