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

# The facade (docs/design.md section 10): the public names, each defined in a
# layer below and imported on first use (PEP 562), and the one place that
# activates (_activate: mounts what start-up declared).
#
# Start-up cost (docs/design.md section 8): bridgeimport.pth imports this package on
# every interpreter start, so importing it loads nothing: the extension, the
# mount API and the registry are imported on first use of a name. Nothing
# here may import typing, threading, re, importlib.abc, or even __future__ (a
# real import at run time): annotations are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:  # type checkers treat the name as true: they see every real signature
    from ._doctor import doctor
    from ._modules import dependencies, dependents, load, patch_report, reload
    from ._mounts import (Mount, env, find_mount, install, installed, mount, mounts, uninstall,
                          unmount)
    from ._native import (BridgeImportError, BridgeImportWarning, BridgeNotFoundError, Finder,
                          InvalidModuleNameError, Loader)
    from ._patch import PatchReport
    from ._registry import BridgeCollisionWarning, Registry
    from ._retire import on_retire
    from ._transaction import Transaction, transaction
    from ._watching import Watch, poll, watch

__all__ = [
    "BridgeCollisionWarning",
    "BridgeImportError",
    "BridgeImportWarning",
    "BridgeNotFoundError",
    "InvalidModuleNameError",
    "Mount",
    "Finder",
    "PatchReport",
    "Registry",
    "Transaction",
    "Watch",
    "dependencies",
    "dependents",
    "doctor",
    "env",
    "Loader",
    "find_mount",
    "install",
    "installed",
    "load",
    "mount",
    "mounts",
    "on_retire",
    "patch_report",
    "poll",
    "reload",
    "transaction",
    "unmount",
    "uninstall",
    "watch",
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
    "env": "_mounts",
    "find_mount": "_mounts",
    "install": "_mounts",
    "installed": "_mounts",
    "mount": "_mounts",
    "mounts": "_mounts",
    "unmount": "_mounts",
    "uninstall": "_mounts",
    "load": "_modules",
    "reload": "_modules",
    "dependencies": "_modules",
    "dependents": "_modules",
    "patch_report": "_modules",
    "PatchReport": "_patch",
    "on_retire": "_retire",
    "BridgeCollisionWarning": "_registry",
    "Registry": "_registry",
    "Transaction": "_transaction",
    "transaction": "_transaction",
    "doctor": "_doctor",
    "Watch": "_watching",
    "watch": "_watching",
    "poll": "_watching",
}


# Hidden from type checkers, which see the imports above instead (and so flag
# a misspelt name rather than typing it as object).
if not TYPE_CHECKING:
    def __getattr__(name: str) -> object:
        submodule = _LAZY.get(name)
        if submodule is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        _activated or _activate()
        # The package attribute, not sys.modules: one instance of each submodule
        # even if someone evicts it from sys.modules after its first import.
        module = globals().get(submodule)
        if module is None:
            __import__(f"{__name__}.{submodule}")
            module = globals()[submodule]
        value = getattr(module, name)
        globals()[name] = value
        return value

    def __dir__() -> "list[str]":
        return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(shell: object) -> None:
    """``%load_ext bridgeimport`` (see bridgeimport.ipython)."""
    from . import ipython

    ipython.load_ipython_extension(shell)


def unload_ipython_extension(shell: object) -> None:
    """``%unload_ext bridgeimport``."""
    from . import ipython

    ipython.unload_ipython_extension(shell)


_activated = False
_activating = 0  # depth of _activate calls on the thread holding the lock


def _activate() -> "Finder":
    """Loads the extension, registers the native types with importlib's ABCs
    and mounts what start-up declared, once; returns the native finder.

    Called on the first use of any public name, and by start-up's stand-in
    finder on the first import under a declared package. Threads arriving
    meanwhile wait on the lock, so none sees a declared package unmounted.
    The lock is importlib's own module lock (for a name no module has): the
    activating thread imports the modules entry points name, and if one of
    them is being imported by a thread that waits here, the import system's
    deadlock detection raises its _DeadlockError in one of the two instead
    of hanging both, as for any cycle of two imports. The activating thread
    may re-enter (plugin code using the API while its entry point is
    resolved): it then gets the finder as it is, and only the outermost call
    marks activation done."""
    global _activated, _activating
    import sys

    with sys.modules["_frozen_importlib"]._ModuleLockManager("bridgeimport._activation"):
        from . import _mounts, _native, _startup

        if not _activated and not _activating:
            _activating += 1
            try:
                _mounts.register_abcs()
                _mounts.mount_declared(_startup.take_pending())
            finally:
                _activating -= 1
            _activated = True
    return _native.finder


def _start() -> None:
    """Interpreter start-up (bridgeimport.pth, bridgeimport.start): see _startup."""
    from . import _startup

    _startup.run(_activate)
