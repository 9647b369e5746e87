"""Undoing import-time side effects: ``__bridge_unload__`` and :func:`on_retire`.

A rollback or a retirement removes modules from ``sys.modules``, but not what
their code registered in the host: a handler in a registry, a signal
connection, a thread (issue 13, part 4). Two hooks let the host undo that:

* a module-level ``def __bridge_unload__(reason): ...`` in the bridge module;
* ``bi.on_retire(callback)``: ``callback(module, reason)`` for every module.

``reason`` is one of:

* ``"reloaded"``: ``bi.reload`` is about to run the module's new code in the
  same module object (the hook runs first, so the new code registers anew);
  or a transaction committed and the module's fresh version replaced it;
* ``"retired"``: a transaction committed and took the module out of
  ``sys.modules`` without importing it again;
* ``"rolled back"``: a transaction was rolled back and this module, loaded
  during it, was removed (the old generation is back when the hook runs).

Remove what you registered *by identity* (``if registry.get(k) is handler``):
after a commit the fresh version has registered its own. An exception in a
hook is logged on the ``bridgeimport`` logger with its traceback, kept in the
transaction's ``unload_errors``, and, during a rollback, added as a note to
the error that caused it. It never replaces that error, and the other hooks
still run.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Callable, List, Optional, Sequence, Tuple

__all__ = ["on_retire", "notify", "has_hooks"]

REASONS = ("reloaded", "retired", "rolled back")

_lock = threading.Lock()
_callbacks: List[Callable[[ModuleType, str], object]] = []
_log = logging.getLogger("bridgeimport")


def on_retire(callback: Callable[[ModuleType, str], object]) -> Callable[[], None]:
    """Calls ``callback(module, reason)`` whenever a bridge or transaction
    module is reloaded, retired or rolled back (see this module's docstring
    for the reasons and the moment). Returns a function that removes the
    callback again."""
    if not callable(callback):
        raise TypeError(f"bridgeimport.on_retire() takes a callable, not {callback!r}")
    with _lock:
        _callbacks.append(callback)

    def remove() -> None:
        with _lock:
            if callback in _callbacks:
                _callbacks.remove(callback)
    return remove


def has_hooks(module: ModuleType) -> bool:
    """Whether :func:`notify` would call anything for ``module``."""
    return callable(vars(module).get("__bridge_unload__")) or bool(_callbacks)


def _label(callback: object) -> str:
    """A callback's repr, which may itself raise."""
    try:
        return repr(callback)
    except Exception:
        return f"<{type(callback).__qualname__} object>"


def notify(modules: Sequence[Tuple[object, str]],
           error: Optional[BaseException] = None) -> List[Tuple[str, BaseException]]:
    """Runs each ``(module, reason)``'s ``__bridge_unload__`` and then the
    :func:`on_retire` callbacks, in order. Returns ``[(module name,
    exception)]`` of the hooks that raised (each also logged, and noted on
    ``error`` if given); raises nothing but BaseExceptions that are not
    Exceptions."""
    with _lock:
        callbacks = list(_callbacks)
    failures: List[Tuple[str, BaseException]] = []
    for module, reason in modules:
        if not isinstance(module, ModuleType):
            continue  # a blocking None, or another object put into sys.modules
        hook = vars(module).get("__bridge_unload__")
        calls: List[Tuple[str, Callable[..., object], Tuple[object, ...]]] = []
        if callable(hook):
            calls.append((f"__bridge_unload__ of {module.__name__}", hook, (reason,)))
        calls += [(f"on_retire callback {_label(cb)} for {module.__name__}", cb,
                   (module, reason)) for cb in callbacks]
        for what, function, args in calls:
            try:
                function(*args)
            except Exception as exc:  # reported, never propagated: see the docstring
                _log.error("bridgeimport: %s (%s) raised %s: %s", what, reason,
                           type(exc).__name__, exc, exc_info=exc)
                failures.append((module.__name__, exc))
                if error is not None and hasattr(error, "add_note"):
                    error.add_note(f"bridgeimport: while rolling back, {what} raised "
                                   f"{type(exc).__name__}: {exc}")
    return failures
