"""The module API: load and reload bridge modules, and ask what they import.

Thin functions over the native finder (``_native.finder``), which holds the
import protocol (module locks, rollback, dependency records: loader/). Like
_mounts, importing this module does nothing but define it.
"""

import sys
import weakref

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time
    from types import ModuleType
    from typing import List, Optional, Union

    from ._patch import PatchReport

_finder = _native.finder


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
    return _finder.load(name, atomic)


def reload(module: "Union[ModuleType, str]", *, patch: bool = False) -> "ModuleType":
    """Re-executes the newest source of a loaded bridge module in the same
    module object (``importlib.reload`` semantics, identity kept).

    If the new code raises or does not compile, the module's namespace is
    restored to exactly its pre-reload contents (same keys, same objects) and
    the error propagates with a note; if the file is gone, the
    ModuleNotFoundError leaves the namespace (``__spec__`` included) as it
    was. Reloading a package re-executes its ``__init__`` only, as CPython
    does. Accepts a module or its name.

    Before the new code runs, the module's ``__bridge_unload__("reloaded")``
    and the :func:`on_retire` callbacks are called (see ``_retire``), once
    the new source is known to compile: a missing file or a SyntaxError
    leaves the registrations in place. A new body that raises has already
    had the old code unloaded; transactions do not have that limit.

    ``patch=True`` also keeps the identity of the module's classes and
    functions: old instances, ``from mod import f`` bindings, callbacks and
    bound methods run the new code (see ``_patch`` for what is patched, and
    never). All or nothing: if the new code fails, every old object is put
    back as it was. :func:`patch_report` then tells what was patched and
    what was skipped, and why.
    """
    if isinstance(module, str):
        name = module
        found = sys.modules.get(name)
        if found is None:
            raise _native.BridgeNotFoundError(
                f"bridgeimport: {name!r} is not loaded; load() it first", name=name)
        module = found
    spec = getattr(module, "__spec__", None)
    if not isinstance(getattr(spec, "loader", None), _native.Loader):
        raise TypeError(f"bridgeimport.reload() takes a bridge module, not {module!r}")
    patcher = None
    if patch:
        from . import _patch

        patcher = _patch.Patcher({module.__name__: dict(vars(module))})
    from . import _retire

    # Compiled first, and only when there is a hook to call: a reload that
    # fails before running any new code keeps the module's registrations.
    if _retire.has_hooks(module) and _compiles(module, spec):
        _retire.notify([(module, "reloaded")])
    if patcher is None:
        return _reexecute(module, spec)
    before = dict(vars(module))
    patcher.install()
    try:
        try:
            result = _reexecute(module, spec)  # restores the namespace if the code fails
        finally:
            patcher.uninstall()
        patcher.patch_functions(module)
    except BaseException:
        patcher.undo()
        vars(module).clear()
        vars(module).update(before)
        raise
    _patch_reports[module] = patcher.report
    return result


def _compiles(module: "ModuleType", spec: object) -> bool:
    """Whether the module's file is there and compiles: only then is the
    old code unloaded (a reload that cannot start keeps its registrations)."""
    try:
        spec.loader.get_code(module.__name__)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _reexecute(module: "ModuleType", spec: object) -> "ModuleType":
    import importlib

    try:
        return importlib.reload(module)
    except ModuleNotFoundError:
        # importlib.reload stores its finder's answer in __spec__ before it
        # raises: None once the file is gone. Keep the module as it was.
        if module.__spec__ is None:
            module.__spec__ = spec  # type: ignore[assignment]
        raise


_patch_reports: "weakref.WeakKeyDictionary[ModuleType, PatchReport]" = \
    weakref.WeakKeyDictionary()


def patch_report(module: "ModuleType") -> "Optional[PatchReport]":
    """The report of the last ``reload(module, patch=True)``: ``patched``
    and ``skipped`` (with reasons), or None if there was none."""
    return _patch_reports.get(module)


def dependencies(name: str) -> "List[str]":
    """The bridge modules whose import the last successful execution of
    ``name`` performed directly (import statements, ``from x import y``,
    imports in functions called during execution, ``load()``), sorted."""
    return _native.dependencies(name)


def dependents(name: str) -> "List[str]":
    """The bridge modules whose recorded :func:`dependencies` include
    ``name``, sorted."""
    return _native.dependents(name)
