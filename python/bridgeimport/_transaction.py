"""Reload transactions: run the newest code as in a fresh interpreter, paying
only for what changed (docs/design.md section 6).

    with bi.transaction("app", mode="changed") as tx:
        import app.pipeline          # fresh code where something changed
    print(tx)                        # retired, reloaded, failed, timings

On entry the transaction *retires* modules under its packages (``app`` and
``app.*``, never ``apple``): they leave ``sys.modules`` and their parent
package's attribute, but the transaction keeps the objects alive, so
functions, classes and instances made from them keep working. The body's
imports then load retired modules again from fresh source, lazily, each at
most once (the import system's module locks see to that, across threads).
If the body raises, everything loaded under the packages since entry is
removed and the retired modules are put back: the program goes on with the
old code, and the error propagates.

``mode="all"`` retires every loaded module under the packages.
``mode="changed"`` retires the modules whose source changed since they ran
(see ``_changes``), then, until nothing is added: every module that recorded
one of them as a dependency (the native loader's graph of bridge modules),
every ordinary module whose namespace holds one of them or an object defined
in one (ordinary modules have no recorded graph), and every loaded submodule
of a retired package (a fresh package object would not know its old
children).

Works for bridge modules and for ordinary source modules of the user's own
packages. Extension modules, namespace packages and mount packages have no
code to re-run: they stay, listed in ``kept``.
"""

from __future__ import annotations

import importlib
import linecache
import os
import sys
import threading
import time
import traceback
from importlib import _bootstrap  # type: ignore[attr-defined]  # private: not in typeshed
from types import ModuleType, TracebackType
from typing import (Callable, Dict, FrozenSet, Iterable, List, Literal, Optional, Set,
                    Tuple, Type)

from . import _changes, _native, _patch, _retire
from ._config import is_package_name

__all__ = ["Transaction", "transaction"]

_MODES = ("all", "changed")

# One transaction at a time, process-wide. A Condition rather than a lock: a
# framework may begin() in one thread and commit() in another.
_state = threading.Condition()
_active: Optional["Transaction"] = None
# Committed transactions whose retired modules are still kept alive.
_history: List["Transaction"] = []
# The packages' import-on-access hooks: installed by a transaction's begin(),
# taken off by its end or by any thread's first read of a retired child.
_hooks_lock = threading.RLock()


def transaction(*packages: str, mode: str = "changed", keep_retired: int = 1,
                patch: bool = False, files: Optional[Iterable[str]] = None) -> "Transaction":
    """A reload transaction over ``packages`` (see the module docstring).

    Use it as a context manager, or call ``begin()`` and then ``commit()`` or
    ``rollback()``. ``keep_retired``: how many committed transactions (this
    one included) keep their retired modules alive after they end.

    ``patch=True`` keeps the identity of the retired modules' classes: a
    class statement run again during the transaction puts its new body into
    the old class object (see ``_patch``), so old instances, ``isinstance``,
    ``super()`` and pickle keep working; ``patch_report`` says what was
    patched and what was skipped and why. A rollback, or a module whose
    fresh import fails, puts those classes back exactly as they were.
    Functions are not patched: the fresh module has new globals.

    ``files`` (with ``mode="changed"``): the paths that may have changed, as
    a file watcher reports them. Only the loaded modules of those files are
    checked (the same metadata-and-bytes check); the others count as
    unchanged, so the transaction costs what changed, not a ``stat`` per
    loaded module (``kept`` then lists only the modules it looked at).
    """
    return Transaction(packages, mode=mode, keep_retired=keep_retired, patch=patch,
                       files=files)


class _ImportOnAccess:
    """A package's module ``__getattr__`` (PEP 562) while submodules of it
    are retired: reading ``package.child`` when the attribute is gone imports
    the child (afresh, or the old one if it is not retired yet) instead of
    raising AttributeError.

    Retiring removes the attribute so that ``from package import child``
    imports afresh; but another thread's ``from package import child`` may
    have seen the attribute (in ``_handle_fromlist``) an instant before and
    read it an instant after: without this it fails with "cannot import name".
    It also keeps ``package.child.f()`` working in code that holds the package
    when the transaction's body never imported the child."""

    def __init__(self, parent: ModuleType, previous: Optional[Callable[[str], object]]) -> None:
        self.parent = parent
        self.package = parent.__name__
        self.previous = previous  # the package's own __getattr__, if any
        self.children: Set[str] = set()

    def __call__(self, attr: str) -> object:
        if attr in self.children:
            child = importlib.import_module(f"{self.package}.{attr}")  # no lock held
            self.release(only_when_done=True)
            return child
        if self.previous is not None:
            return self.previous(attr)
        raise AttributeError(f"module {self.package!r} has no attribute {attr!r}")

    def release(self, only_when_done: bool) -> None:
        """Puts the package's own __getattr__ back: always, or once every
        retired child is imported again. Under _hooks_lock: threads reading
        retired children and a transaction adding some may race here."""
        with _hooks_lock:
            if only_when_done and not all(
                    f"{self.package}.{c}" in sys.modules for c in self.children):
                return
            if vars(self.parent).get("__getattr__") is self:
                if self.previous is None:
                    del self.parent.__getattr__
                else:
                    # The ignore (and below): typeshed declares ModuleType.__getattr__
                    # a method; a module's own (PEP 562) is a namespace entry.
                    self.parent.__getattr__ = self.previous  # type: ignore[assignment]


class Transaction:
    """One reload transaction; also its report.

    After ``begin()``: ``retired`` (names taken out of ``sys.modules``),
    ``changed`` (with ``mode="changed"``: the retired modules whose own
    source changed; the rest are their dependents), ``kept`` (selected but
    without code to re-run). After the end: ``reloaded`` (retired modules
    imported again from fresh source), ``loaded`` (modules under the packages
    imported for the first time), ``failed`` (modules whose fresh import
    failed), ``timings`` ({name: seconds} of each re-execution; None for an
    ordinary module, whose execution bridgeimport does not see),
    ``state``, ``error`` and ``seconds`` (begin, end, total).
    """

    def __init__(self, packages: Tuple[str, ...], *, mode: str = "changed",
                 keep_retired: int = 1, patch: bool = False,
                 files: Optional[Iterable[str]] = None) -> None:
        if not packages:
            raise TypeError("bridgeimport.transaction() needs at least one package name")
        for p in packages:
            if not is_package_name(p):
                raise ValueError(f"bridgeimport.transaction(): {p!r} is not a package name "
                                 "(dotted identifiers, e.g. 'app' or 'app.plugins')")
        if mode not in _MODES:
            raise ValueError(f"bridgeimport.transaction(): mode must be 'all' or 'changed', "
                             f"not {mode!r}")
        if not isinstance(keep_retired, int) or keep_retired < 0:
            raise ValueError("bridgeimport.transaction(): keep_retired must be an int >= 0")
        if patch:
            _patch.check_supported()
        self.patch = bool(patch)
        self.files: Optional[FrozenSet[str]] = None if files is None else frozenset(
            os.path.abspath(os.fspath(f)) for f in files)
        self.packages = tuple(dict.fromkeys(packages))
        self._package_set = frozenset(self.packages)
        self._prefixes = tuple(p + "." for p in self.packages)
        self.mode = mode
        self.keep_retired = keep_retired
        self.state = "new"
        self.retired: List[str] = []
        self.changed: List[str] = []
        self.kept: List[str] = []
        self.reloaded: List[str] = []
        self.loaded: List[str] = []
        self.failed: List[str] = []
        self.timings: Dict[str, Optional[float]] = {}
        self.error: Optional[BaseException] = None
        self.seconds: Dict[str, float] = {}
        self.patch_report: Optional[_patch.PatchReport] = None
        self.unload_errors: List[Tuple[str, BaseException]] = []
        self._patcher: Optional[_patch.Patcher] = None
        self._retired_modules: Dict[str, ModuleType] = {}
        self._before: Dict[str, ModuleType] = {}
        self._seen: Set[str] = set()  # the selected modules classified so far
        self._candidates: Set[str] = set()  # those with code to re-run
        self._ordinary: Set[str] = set()  # candidates CPython's loaders loaded
        self._parent_attrs: List[Tuple[ModuleType, str, ModuleType]] = []
        # id(package) -> (its hook, the children this transaction added)
        self._hooks: Dict[int, Tuple["_ImportOnAccess", Set[str]]] = {}
        self._serial = 0
        self._begin_ns = 0
        self._started = 0.0
        self._owner: Optional[int] = None

    # -- selection ---------------------------------------------------------

    def _selects(self, name: str) -> bool:
        return name in self._package_set or name.startswith(self._prefixes)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._selects(name)

    # -- begin -------------------------------------------------------------

    def begin(self) -> "Transaction":
        """Retires the selected modules (see the class docstring)."""
        global _active
        if self.state != "new":
            raise RuntimeError(f"bridgeimport: this transaction is already {self.state}")
        me = threading.get_ident()
        with _state:
            if self.state != "new":  # again, under the lock: begin() raced on two threads
                raise RuntimeError(f"bridgeimport: this transaction is already {self.state}")
            while _active is not None:
                if _active._owner == me:
                    raise RuntimeError(
                        "bridgeimport: a transaction is already active in this thread "
                        f"(over {', '.join(_active.packages)}); transactions do not nest: "
                        "commit or roll it back first")
                _state.wait()
            _active = self
            self._owner = me
            self.state = "active"
        try:
            self._begin()
        except BaseException:
            self._end_patching(commit=False)
            self._restore()
            self._finish("rolled back")
            raise
        return self

    def _begin(self) -> None:
        self._started = time.perf_counter()
        self._begin_ns = time.time_ns()
        self._serial = _native.execution_serial()
        _native.start_record_journal()  # what a rollback puts back (_restore, 3.)
        self.state = "active"
        # Native passes (module_scan.cc): with a thousand modules loaded,
        # Python loops here would cost more than the one that changed.
        self._before = _native.select_modules(self.packages)
        if self.mode == "all":
            self._classify(self._before, check=False)
            chosen = set(self._candidates)
        else:
            hinted = (self._before if self.files is None
                      else _native.modules_of_files(self._before, self.files))
            changed = self._classify(hinted, check=True)
            self.changed = sorted(changed)
            chosen = self._close(set(changed))
        # Children first: a concurrent `import pkg.mod` then never finds the
        # old child under a fresh parent.
        for name in sorted(chosen, key=lambda n: (-n.count("."), n)):
            self._retire(name, self._before[name], chosen)
        self.retired = sorted(self._retired_modules)
        self.kept.sort()
        if self.patch:
            self._patcher = _patch.Patcher({n: dict(vars(m))
                                            for n, m in self._retired_modules.items()})
            self.patch_report = self._patcher.report
            self._patcher.install()
        if self._retired_modules:
            if self.mode == "changed" and self.files is not None:
                _native.finder.revalidate(self.files)  # the hints stand for the rest
            else:
                _native.finder.invalidate_caches()
            if self._ordinary.intersection(self._retired_modules):
                importlib.invalidate_caches()  # FileFinder listings of ordinary packages
        self.seconds["begin"] = time.perf_counter() - self._started

    def _classify(self, names: Iterable[str], check: bool) -> List[str]:
        """Sorts the selected modules ``names`` not seen yet into candidates
        (code to re-run: ``_candidates``, ordinary ones also ``_ordinary``)
        and ``kept``; with ``check``, returns those whose source changed.
        With ``files``, only the hinted modules are classified (and checked)
        at first, and the rest as the closure reaches them."""
        fresh = {n: self._before[n] for n in names if n not in self._seen}
        self._seen.update(fresh)
        code, packages, changed, others = _native.classify_modules(fresh, check)
        self.kept.extend(packages)  # mount packages: no code to re-run
        self._candidates.update(code)
        for name in others:  # not bridge modules: ordinary source modules?
            module = fresh[name]
            if module is None or _changes.source_path(module) is None:
                self.kept.append(name)
                continue
            self._ordinary.add(name)
            self._candidates.add(name)
            if check and _changes.changed(module):
                changed.append(name)
        return changed

    def _close(self, chosen: Set[str]) -> Set[str]:
        """``chosen`` plus dependents and retired packages' subtrees, to a
        fixed point; only candidates are ever added."""
        expanded: Set[str] = set()  # chosen names whose subtree is in
        while True:
            grown = set(chosen)
            users = [n for n in _native.dependents_closure(sorted(chosen)) if n in self._before]
            self._classify(users, check=False)
            grown.update(n for n in users if n in self._candidates)
            if self._ordinary.intersection(grown):
                self._classify(self._before, check=False)  # their namespaces: all of them
                grown.update(self._namespace_dependents(grown))
            for p in sorted(grown - expanded):
                expanded.add(p)
                # vars(), not hasattr(): a missing module attribute costs an exception.
                if "__path__" in vars(self._before[p]):
                    prefix = p + "."
                    subtree = [n for n in self._before if n.startswith(prefix)]
                    self._classify(subtree, check=False)
                    grown.update(n for n in subtree if n in self._candidates)
            if grown == chosen:
                return chosen
            chosen = grown

    def _namespace_dependents(self, chosen: Set[str]) -> Set[str]:
        """Candidates whose namespace holds a chosen module, or an object whose
        ``__module__`` (or a base class's) is a chosen module. A package's
        attributes naming its own submodules are the import system's, not
        a dependency."""
        found = set()
        for name in self._candidates:
            if name in chosen:
                continue
            for key, value in list(vars(self._before[name]).items()):
                if isinstance(value, ModuleType):
                    target = getattr(value, "__name__", None)
                    if target in chosen and target != f"{name}.{key}":
                        found.add(name)
                        break
                    continue
                owners = [getattr(value, "__module__", None)]
                if isinstance(value, type):
                    owners.extend(getattr(b, "__module__", None) for b in value.__mro__[1:])
                if any(o in chosen for o in owners if isinstance(o, str)):
                    found.add(name)
                    break
        return found

    def _import_on_access(self, parent: ModuleType) -> "_ImportOnAccess":
        """The package's hook; the caller holds _hooks_lock."""
        hook = vars(parent).get("__getattr__")
        if not isinstance(hook, _ImportOnAccess):
            hook = _ImportOnAccess(parent, hook)
            parent.__getattr__ = hook  # type: ignore[assignment]
        self._hooks.setdefault(id(parent), (hook, set()))
        return hook

    def _remove_hooks(self, only_when_done: bool) -> None:
        """Ends this transaction's part in the packages' __getattr__ hooks. A
        rollback withdraws the children it retired; a hook comes off once no
        retired child of its package is missing from sys.modules (the others
        keep importing on first access and take themselves off when done)."""
        with _hooks_lock:
            for hook, added in self._hooks.values():
                if not only_when_done:  # children an earlier transaction retired stay
                    hook.children -= added
                hook.release(only_when_done=bool(hook.children))
            self._hooks.clear()

    def _retire(self, name: str, module: ModuleType, chosen: Set[str]) -> None:
        # The module's import lock: an import of it in flight on another
        # thread finishes first (CPython's _load_unlocked would fail if the
        # entry vanished under it). One lock at a time: no lock-order cycle.
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent_name in chosen:
            parent = None  # retired too: the old package object stays as it was
        with _bootstrap._ModuleLockManager(name):
            if sys.modules.get(name) is not module:
                return  # replaced or removed meanwhile: not ours to retire
            if getattr(getattr(module, "__spec__", None), "_initializing", False):
                self.kept.append(name)  # being imported by this very thread
                return
            if parent is not None:
                # Before the entry goes: from now on a read of parent.child
                # that finds no attribute imports the child (see _ImportOnAccess).
                with _hooks_lock:
                    hook = self._import_on_access(parent)
                    if child not in hook.children:
                        hook.children.add(child)
                        self._hooks[id(parent)][1].add(child)
            del sys.modules[name]
            self._retired_modules[name] = module
        # Else `from parent import child` would hand back the old module.
        if parent is not None and vars(parent).get(child) is module:
            try:
                delattr(parent, child)
                self._parent_attrs.append((parent, child, module))
            except (AttributeError, TypeError):
                pass
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            linecache.cache.pop(path, None)
            if name in self._ordinary:
                _changes.drop_racy_pyc(path)

    # -- end ---------------------------------------------------------------

    def commit(self) -> "Transaction":
        """Ends the transaction keeping the fresh modules; the retired ones
        stay alive while this transaction is among the last
        ``keep_retired`` committed ones (or while you hold it)."""
        self._require_active("commit")
        try:
            _native.drop_record_journal()  # the new records stand
            self._remove_hooks(only_when_done=True)
            self._report()
            self._end_patching(commit=True)
            for name in self.reloaded + self.loaded:
                module = sys.modules.get(name)
                if module is not None and _changes.bridge_loader(module) is None:
                    _changes.observe(module, self._begin_ns)
        finally:
            self._finish("committed")
        with _state:
            if self.keep_retired > 0:
                _history.append(self)
            del _history[:max(0, len(_history) - self.keep_retired)]
        fresh = set(self.reloaded)
        self.unload_errors = _retire.notify(
            [(m, "reloaded" if n in fresh else "retired")
             for n, m in self._retired_modules.items()])
        return self

    def rollback(self, error: Optional[BaseException] = None) -> "Transaction":
        """Ends the transaction restoring the old modules: everything loaded
        under the packages since begin() is removed, the retired modules and
        their parent attributes and dependency records are put back."""
        self._require_active("rollback")
        self.error = error
        removed: List[Tuple[str, ModuleType]] = []
        try:
            self._report()
            self._end_patching(commit=False)
            removed = self._restore()
        finally:
            self._finish("rolled back")
        self.unload_errors = _retire.notify([(m, "rolled back") for _, m in removed], error)
        return self

    def _end_patching(self, commit: bool) -> None:
        """Ends the class-statement hook; a rollback puts every patched class
        back, a commit those whose module's fresh import failed."""
        patcher, self._patcher = self._patcher, None
        if patcher is None:
            return
        patcher.uninstall()
        if not commit:
            patcher.undo()
            return
        for name in self.failed:
            patcher.undo(name)

    def _require_active(self, what: str) -> None:
        """Claims the end of the transaction (one thread wins if commit() and
        rollback() race)."""
        with _state:
            if self.state != "active":
                raise RuntimeError(
                    f"bridgeimport: cannot {what} a transaction that is {self.state}")
            self.state = "ending"

    def _report(self) -> None:
        runs = _native.executions_since(self._serial)
        fresh = list(_native.new_entries(self.packages, self._before))
        self.reloaded = sorted(n for n in fresh if n in self._retired_modules)
        self.loaded = sorted(n for n in fresh if n not in self._retired_modules)
        failed = {n for n, r in runs.items() if self._selects(n) and not r["last_ok"]
                  and n not in sys.modules}
        failed.update(self._failed_ordinary())
        self.failed = sorted(failed)
        self.timings = {}
        for name in (*fresh, *self.failed):
            run = runs.get(name)
            self.timings[name] = run["last_seconds"] if run else None

    def _failed_ordinary(self) -> Set[str]:
        """Ordinary modules under the packages whose module code appears in
        the error's traceback (or whose file a SyntaxError names) and which
        are not loaded now: their fresh import failed."""
        error = self.error
        if error is None:
            return set()
        by_file = {}
        for name, module in self._retired_modules.items():
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                by_file[path] = name
        files = set()
        seen = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            if isinstance(error, SyntaxError) and error.filename:
                files.add(error.filename)
            for frame, _ in traceback.walk_tb(error.__traceback__):
                if frame.f_code.co_name == "<module>":
                    files.add(frame.f_code.co_filename)
            error = error.__cause__ or error.__context__
        return {by_file[f] for f in files if f in by_file and by_file[f] not in sys.modules}

    def _restore(self) -> List[Tuple[str, ModuleType]]:
        """Puts the old generation back; returns the modules it removed,
        newest first."""
        # 1. Remove what was loaded under the packages since begin(), newest
        #    first, with its parent attribute.
        new_names = []
        removed = []
        for name, module in reversed(_native.new_entries(self.packages, self._before).items()):
            with _bootstrap._ModuleLockManager(name):
                if sys.modules.get(name) is not module:
                    continue
                del sys.modules[name]
            new_names.append(name)
            removed.append((name, module))
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            if parent is not None and getattr(parent, child, None) is module:
                try:
                    delattr(parent, child)
                except (AttributeError, TypeError):
                    pass
        # 2. Put the retired modules back, parents first, then the parent
        #    attributes that retiring removed, and the packages' own
        #    __getattr__.
        for name in sorted(self._retired_modules, key=lambda n: (n.count("."), n)):
            with _bootstrap._ModuleLockManager(name):
                sys.modules[name] = self._retired_modules[name]
        for parent, child, module in self._parent_attrs:
            try:
                setattr(parent, child, module)
            except (AttributeError, TypeError):
                pass
        self._remove_hooks(only_when_done=False)
        # 3. The dependency records as they were at begin(): those the
        #    journal saw change under the packages (other threads' loads
        #    elsewhere keep theirs).
        journal = _native.take_record_journal()
        _native.restore_dependency_records(
            {n: r for n, r in journal.items() if self._selects(n)})
        if new_names:
            _native.finder.invalidate_caches()
        return removed

    def _finish(self, state: str) -> None:
        global _active
        self.state = state
        self.seconds["total"] = time.perf_counter() - self._started
        self.seconds["end"] = self.seconds["total"] - self.seconds.get("begin", 0.0)
        with _state:
            if _active is self:
                _active = None
                _state.notify_all()

    # -- context manager -----------------------------------------------------

    def __enter__(self) -> "Transaction":
        return self.begin()

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]:
        if self.state != "active":
            return False  # ended explicitly inside the block
        if exc is None:
            self.commit()
        else:
            self.rollback(exc)
        return False

    # -- report ------------------------------------------------------------

    @property
    def retired_modules(self) -> Dict[str, ModuleType]:
        """The retired module objects by name (kept alive by this object)."""
        return dict(self._retired_modules)

    def report(self) -> Dict[str, object]:
        """The report as plain data (for logs and JSON)."""
        return {"packages": list(self.packages), "mode": self.mode, "state": self.state,
                "retired": self.retired, "changed": self.changed, "kept": self.kept,
                "reloaded": self.reloaded, "loaded": self.loaded, "failed": self.failed,
                "timings": dict(self.timings), "seconds": dict(self.seconds),
                "error": repr(self.error) if self.error is not None else None,
                "patch": self.patch_report.as_dict() if self.patch_report else None,
                "unload_errors": [f"{n}: {type(e).__name__}: {e}"
                                  for n, e in self.unload_errors]}

    def __repr__(self) -> str:
        if not hasattr(self, "state"):  # __init__ refused its arguments
            return "<bridgeimport.Transaction (not constructed)>"
        head = (f"<bridgeimport.Transaction {', '.join(self.packages)} mode={self.mode!r} "
                f"{self.state}")
        if self.state == "new":
            return head + ">"
        parts = [f"retired {len(self.retired)}"]
        if self.mode == "changed":
            parts.append(f"changed {len(self.changed)}")
        if self.state != "active":
            parts += [f"reloaded {len(self.reloaded)}", f"new {len(self.loaded)}",
                      f"failed {len(self.failed)}"]
        if "total" in self.seconds:
            parts.append(f"{self.seconds['total'] * 1e3:.1f} ms")
        text = head + ": " + ", ".join(parts)
        if self.failed:
            text += f" (failed: {', '.join(self.failed)})"
        if self.error is not None:
            text += f" error={type(self.error).__name__}"
        return text + ">"
