"""The native Finder and Loader registered with importlib's ABCs, when (and
only when) the program imports the modules that define them.

``isinstance(loader, importlib.abc.Loader)`` must hold for bridgeimport's
loader as for any PEP 451 loader, yet importing importlib.abc costs
milliseconds (on 3.11 it pulls in importlib.resources, pathlib, tempfile...)
and importlib._abc, where Loader lives since 3.10, costs importlib and
warnings: too much for a process that imports one bridge module (issue 11).
So nothing is imported for the registration:

* ABC modules already imported are registered with when the native finder is
  installed (:func:`register_imported`, from ``_mounts``);
* a later import of ``importlib.abc`` or ``importlib._abc`` reaches the native
  finder first, which hands the name to :func:`find_spec` here (and imports
  this module only then). It returns the spec the finders after bridgeimport's
  would have returned, with a stand-in loader that runs the real one and then
  registers the new classes. The module's ``__loader__`` and
  ``__spec__.loader`` are the real loader again before its code runs.

This module imports nothing beyond ``sys`` and the extension.
"""

import sys

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:  # nothing imported at run time
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Optional, Sequence

# The ABC modules, and the ABCs of each that the native classes implement
# (importlib.abc also re-exports Loader on 3.10+: registering twice is harmless).
_ABCS = {
    "importlib._abc": {"Loader": "Loader"},
    "importlib.abc": {
        "MetaPathFinder": "Finder",
        "Loader": "Loader",
        "InspectLoader": "Loader",
        "ExecutionLoader": "Loader",
        "ResourceLoader": "Loader",
    },
}


def register(module: "ModuleType") -> None:
    """Registers the native classes with the ABCs `module` defines (one of
    the modules of _ABCS, run to the end)."""
    for abc_name, native_name in _ABCS[module.__name__].items():
        base = module.__dict__.get(abc_name)
        if base is not None:
            base.register(getattr(_native, native_name))


def register_imported() -> None:
    """Registers with the ABC modules the program has imported already."""
    for name in _ABCS:
        module = sys.modules.get(name)
        if module is not None:
            register(module)


def find_spec(name: str, path: "Optional[Sequence[str]]",
              target: "Optional[ModuleType]" = None) -> "Optional[ModuleSpec]":
    """The native finder's answer for importlib.abc and importlib._abc: the
    spec of the first finder after it on sys.meta_path that has one, its
    loader wrapped so that the ABCs are registered with once the module ran."""
    spec = _spec_after_native_finder(name, path, target)
    loader = getattr(spec, "loader", None)
    if spec is not None and loader is not None and hasattr(loader, "exec_module"):
        # The ignore: not an importlib.abc.Loader subclass (which would
        # import importlib.abc, the module being imported), only its protocol.
        spec.loader = _RegisteringLoader(loader)  # type: ignore[assignment]
    return spec


def _spec_after_native_finder(name: str, path: "Optional[Sequence[str]]",
                              target: "Optional[ModuleType]") -> "Optional[ModuleSpec]":
    """What importlib's _find_spec would get from the finders after the first
    native Finder on sys.meta_path (the ones before it have said no)."""
    finders = list(sys.meta_path)
    for index, finder in enumerate(finders):
        if isinstance(finder, _native.Finder):
            del finders[:index + 1]
            break
    for finder in finders:
        find = getattr(finder, "find_spec", None)
        if find is not None:
            spec: Optional[ModuleSpec] = find(name, path, target)
            if spec is not None:
                return spec
    return None


class _RegisteringLoader:
    """The real loader's stand-in between find_spec and exec_module."""

    def __init__(self, loader: "Loader") -> None:
        self._loader = loader

    def create_module(self, spec: "ModuleSpec") -> "Optional[ModuleType]":
        create = getattr(self._loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: "ModuleType") -> None:
        # _init_module_attrs set these to this stand-in: put the real one back
        # before the module's code runs, then run it.
        module.__spec__.loader = self._loader  # type: ignore[union-attr]  # it has a spec
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        register(module)
