"""``bi.watch()``: file changes become one transaction at a safe point.

    watch = bi.watch("plugins", patch=True)   # the mounts' directories
    ...
    tx = watch.apply()       # at a safe point the host chooses; or bi.poll()

The file watcher (``_watch``) only marks files as pending; nothing runs on its
thread unless ``apply_on_thread=True`` asks for it. :meth:`Watch.apply` takes
what is pending and runs one changed-only :func:`bridgeimport.transaction`
over the watched packages. Its ``files`` are the reported paths, so only their
modules are checked (by the metadata-and-bytes rule) and the cost is what
changed. Inside it, it imports every retired module again, parents first. So
either every changed module and its dependents run their new code, or, if one
fails, none does and the old generation stays (the transaction's rollback).
Events are hints: a lost one costs latency (the next event, or the watcher's
rescan, reports the file), never a wrong answer. A file that fails stays as
it is until it changes again: it is not retried on every call.

IPython's extension (:mod:`bridgeimport.ipython`) and the WSGI/ASGI
middleware (:mod:`bridgeimport.web`) call :meth:`Watch.apply` before each cell
and at request boundaries.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
import weakref
from typing import Dict, FrozenSet, List, Optional, Tuple

from . import _mounts, _patch, _watch
from ._transaction import Transaction, transaction

__all__ = ["Watch", "watch", "poll", "describe", "active"]

_active: "weakref.WeakSet[Watch]" = weakref.WeakSet()


def watch(*packages: str, patch: bool = False, backend: str = "auto", settle: float = 0.075,
          apply_on_thread: bool = False) -> "Watch":
    """Watches the directories of the mounts of ``packages`` (default: every
    mount, including those made later) for changes; see :class:`Watch`."""
    return Watch(packages, patch=patch, backend=backend, settle=settle,
                 apply_on_thread=apply_on_thread)


def poll() -> List[Transaction]:
    """:meth:`Watch.apply` of every open watch; the transactions that ran."""
    return [tx for w in list(_active) for tx in [w.apply()] if tx is not None]


def active() -> List["Watch"]:
    """The open watches (for ``doctor``)."""
    return list(_active)


class Watch:
    """A watch over mounted packages. ``apply()`` runs what changed as one
    transaction; ``pending()`` is what it would look at; ``status()`` the
    watcher's backend, pending count and last failure; ``close()`` stops.

    ``patch=True`` makes the transactions patch classes (see
    :func:`bridgeimport.transaction`). ``backend``: ``"auto"`` (inotify, or
    polling where inotify cannot serve: see ``_watch``), ``"inotify"`` or
    ``"poll"``. ``apply_on_thread=True`` applies on the watcher's thread as
    soon as a burst of events settles (``settle`` seconds without a new one);
    by default nothing runs there."""

    def __init__(self, packages: Tuple[str, ...], *, patch: bool = False, backend: str = "auto",
                 settle: float = 0.075, apply_on_thread: bool = False) -> None:
        for p in packages:
            if _mounts.find_mount(p) is None:
                raise ValueError(f"bridgeimport.watch(): {p!r} is not mounted")
        if patch:
            _patch.check_supported()
        self.packages = tuple(packages)
        self.patch = bool(patch)
        self._backend, self._settle = backend, settle
        self._on_thread = bool(apply_on_thread)
        self._lock = threading.RLock()
        self._directories: Tuple[str, ...] = ()
        self._watcher: Optional[_watch.Watcher] = None
        self._carry: FrozenSet[str] = frozenset()  # pending, from a watcher replaced
        # The files of the last change that rolled back: checked again with the
        # next change (a fix elsewhere may make them work), not on every call.
        self._failed: FrozenSet[str] = frozenset()
        self.last: Optional[Transaction] = None
        self.last_failure: Optional[str] = None
        self.closed = False
        self._sync()
        _active.add(self)

    # -- what is watched ---------------------------------------------------

    def _mounts(self) -> List[_mounts.Mount]:
        chosen = _mounts.mounts()
        return [m for m in chosen if not self.packages or m.package in self.packages]

    def _sync(self) -> None:
        """Watches the directories of the mounts as they are now (a mount made
        or changed since is followed; its modules were not loaded before)."""
        directories = tuple(sorted({d for m in self._mounts() for d in m.directories}))
        if directories == self._directories and self._watcher is not None:
            return
        old, self._watcher = self._watcher, _watch.Watcher(
            directories, settle=self._settle, backend=self._backend,
            on_pending=self._apply_from_thread if self._on_thread else None)
        self._directories = directories
        if old is not None:  # what it reported is still to apply
            self._carry |= old.take()
            old.close()

    @property
    def applies_on_thread(self) -> bool:
        return self._on_thread

    def pending(self) -> FrozenSet[str]:
        with self._lock:
            if self._watcher is None:
                return frozenset()
            return self._watcher.pending() | self._carry

    def status(self) -> Dict[str, object]:
        with self._lock:
            status = dict(self._watcher.status()) if self._watcher is not None else {}
        status.update(packages=list(self.packages) or ["(every mount)"], patch=self.patch,
                      last_failure=self.last_failure, closed=self.closed,
                      last=repr(self.last) if self.last is not None else None)
        return status

    # -- applying ------------------------------------------------------------

    def apply(self) -> Optional[Transaction]:
        """Runs what changed as one transaction (see the module docstring),
        or returns None when nothing is pending. Never raises for a module's
        error: a failed transaction is returned, rolled back, its error in
        ``tx.error`` and in ``last_failure``."""
        with self._lock:
            if self.closed:
                return None
            self._sync()
            assert self._watcher is not None
            packages = tuple(m.package for m in self._mounts())
            new = self._watcher.take() | self._carry
            self._carry = frozenset()
            if not new or not packages:
                return None
            files = new | self._failed
            try:
                tx = transaction(*packages, mode="changed", patch=self.patch, files=files)
            except BaseException:
                self._carry = new  # not applied: still to do
                raise
            started = time.perf_counter()
            try:
                with tx:
                    self._import_again(tx.retired)
            except Exception as exc:  # rolled back: the old generation stays
                self.last_failure = f"{type(exc).__name__}: {exc}"
                self._failed = files
            else:
                self.last_failure = None
                self._failed = frozenset()
            tx.seconds["apply"] = time.perf_counter() - started
            self.last = tx
            return tx

    @staticmethod
    def _import_again(names: List[str]) -> None:
        """Imports the retired modules, parents first; a module whose file
        is gone (deleted in the same save) stays retired."""
        for name in sorted(names, key=lambda n: (n.count("."), n)):
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)

    def _apply_from_thread(self, paths: FrozenSet[str]) -> None:
        self.apply()

    def close(self) -> None:
        with self._lock:  # an apply() in progress finishes first
            self.closed = True
            watcher, self._watcher = self._watcher, None
        if watcher is not None:  # outside the lock: its thread may be in apply()
            watcher.close()
        _active.discard(self)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        what = ", ".join(self.packages) or "every mount"
        return f"<bridgeimport.Watch {what}{' (closed)' if self.closed else ''}>"


def describe(tx: Transaction) -> str:
    """The one line a notebook or a server log shows for an applied change."""
    if tx.state == "rolled back":
        failed = ", ".join(tx.failed) or ", ".join(tx.retired) or "the change"
        error = f"{type(tx.error).__name__}: {tx.error}" if tx.error is not None else "failed"
        return f"bridgeimport: {failed} failed ({error}); kept the previous code"
    names = tx.reloaded or tx.retired
    text = f"bridgeimport: reloaded {', '.join(names) or 'nothing'}"
    if tx.patch_report is not None and tx.patch_report.patched:
        count = len(tx.patch_report.patched)
        text += f" (patched {count} class{'es' * (count != 1)})"
    return text + f" in {tx.seconds.get('total', 0.0) * 1e3:.1f} ms"
