"""``%load_ext bridgeimport``: what changed is applied before each cell.

    In [1]: %load_ext bridgeimport
    In [2]: import bridgeimport as bi; bi.mount("plugins", "plugins/")
    In [3]: from plugins.shapes import Square; s = Square(2)
            ... plugins/shapes.py is edited and saved ...
    In [4]: s.area()
    bridgeimport: reloaded plugins.shapes (patched 1 class) in 1.4 ms

Before each cell (IPython's ``pre_run_cell`` event) a :func:`bridgeimport.watch`
over every mount applies the changed files as one transaction, with class
patching on, so the notebook's instances keep their classes. One line says
what it did (with the GIL off on a free-threaded build, patching is off).
If a file has an error, the line says so, and the cell runs
against the previous code: the transaction rolled back, so nothing is half
updated. The notebook's own names are then brought up to date: a module
bound by ``import plugins.shapes as shapes``, and a function or unpatched
class bound by ``from plugins.shapes import f``, now name the fresh objects.

``%bridgeimport`` prints the watch's status; ``%bridgeimport patch off`` (or
``on``) changes patching; ``%unload_ext bridgeimport`` stops it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Dict, Optional

from . import _patch
from ._transaction import Transaction
from ._watching import Watch, describe, watch

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_ATTR = "_bridgeimport_extension"


class _Extension:
    """The extension's state on one shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        try:
            _patch.check_supported()
            patch = True
        except RuntimeError:  # a free-threaded build with the GIL off: no patching
            patch = False
        self.watch: Watch = watch(patch=patch)

    def pre_run_cell(self, info: object = None) -> None:
        tx = self.watch.apply()
        if tx is None:
            return
        if tx.state == "committed":
            rebind(self.shell.user_ns, tx)
        print(describe(tx))

    def magic(self, line: str) -> None:
        words = line.split()
        if words[:1] == ["patch"] and words[1:] in (["on"], ["off"]):
            self.watch.patch = words[1] == "on"
        elif words:
            print("usage: %bridgeimport [patch on|off]")
            return
        for key, value in self.watch.status().items():
            print(f"{key}: {value}")


def rebind(namespace: Dict[str, Any], tx: Transaction) -> int:
    """Points the names of ``namespace`` at the fresh generation: retired
    module objects, and functions and classes defined in a reloaded module
    (by ``__qualname__``, when the fresh module has one of that name).
    Returns how many names changed."""
    retired = tx.retired_modules
    changed = 0
    for key, value in list(namespace.items()):
        fresh: Optional[object] = None
        if isinstance(value, ModuleType):
            name = getattr(value, "__name__", None)
            if isinstance(name, str) and retired.get(name) is value:
                fresh = sys.modules.get(name)
        elif callable(value):
            owner = getattr(value, "__module__", None)
            if isinstance(owner, str) and owner in retired and owner in sys.modules:
                qualname = getattr(value, "__qualname__", "")
                fresh = getattr(sys.modules[owner], qualname, None) if "." not in qualname \
                    else None
        if fresh is not None and fresh is not value:
            namespace[key] = fresh
            changed += 1
    return changed


def load_ipython_extension(shell: Any) -> None:
    """IPython's entry point (``%load_ext bridgeimport``)."""
    if getattr(shell, _ATTR, None) is not None:
        return
    extension = _Extension(shell)
    setattr(shell, _ATTR, extension)
    shell.events.register("pre_run_cell", extension.pre_run_cell)
    shell.register_magic_function(extension.magic, "line", "bridgeimport")


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext bridgeimport``."""
    extension = getattr(shell, _ATTR, None)
    if extension is None:
        return
    shell.events.unregister("pre_run_cell", extension.pre_run_cell)
    extension.watch.close()
    setattr(shell, _ATTR, None)
