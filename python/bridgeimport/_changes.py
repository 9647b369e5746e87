"""Has a loaded module's source changed since it was executed?

Transactions (``mode="changed"``) and ``doctor`` ask this of two kinds of
module:

* Bridge modules: the native loader remembers what its last ``exec_module``
  saw of the file (mtime_ns, size, inode, ctime_ns, and the bytes when it
  compiled them) and compares the file with that, reading it only when the
  metadata cannot decide (see ``Loader.source_changed``).
* Ordinary source modules of the user's own packages, loaded by CPython's
  ``SourceFileLoader``: nothing saw their load, so a *stamp* is kept here,
  but only when the file provably did not change since before the module
  could have been loaded (its last change, mtime or ctime, is older than a
  known lower bound of the load time by more than the timestamp resolution).
  The bound is the process start for modules first seen by a transaction,
  and the transaction's start for modules it loaded. Without a stamp, a
  module counts as changed: never a missed change, at worst one extra
  re-execution.

The resolution rule is the bytecode cache's (``TimestampPycIsRacy``): two
events can be ordered by file timestamps only if the later one happened at
least 100 ms after the end of the earlier one's second.
"""

from __future__ import annotations

import os
import weakref
from types import ModuleType
from typing import Optional, Tuple

from . import _native

_SECOND = 1_000_000_000

# module -> (path, (mtime_ns, size, ino, ctime_ns)) for ordinary modules.
# Threads (a transaction's, doctor's) may use it at once: each access is one
# dict operation, and two threads stamping one module store equivalent
# stamps (each from its own stat, each answer from its own): no lock needed.
_stamps: "weakref.WeakKeyDictionary[ModuleType, Tuple[str, Tuple[int, int, int, int]]]" = \
    weakref.WeakKeyDictionary()


def _key(st: os.stat_result) -> Tuple[int, int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _settled_before(st: os.stat_result, when_ns: int) -> bool:
    """True if the file's last change (mtime or ctime) is provably before
    ``when_ns`` by file timestamps: the loader's rule (loader/pyc_policy.cc)."""
    return _native.settled_before(st.st_mtime_ns, st.st_ctime_ns, when_ns)


def _process_start_ns() -> Optional[int]:
    """The wall-clock start of this process, from /proc (Linux), or None."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), after pid and comm
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    # btime is whole seconds and may have been stepped by NTP since boot: a
    # second of slack keeps the bound a lower bound.
    return (btime - 1) * _SECOND + start_ticks * _SECOND // ticks


_PROCESS_START_NS = _process_start_ns()


def bridge_loader(module: ModuleType) -> Optional["_native.Loader"]:
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None)
    return loader if isinstance(loader, _native.Loader) else None


def source_path(module: ModuleType) -> Optional[str]:
    """The source file an ordinary (non-bridge) module was loaded from, or
    None for extension, builtin, frozen, sourceless and namespace modules."""
    spec = getattr(module, "__spec__", None)
    if spec is None or not getattr(spec, "has_location", False):
        return None
    origin = spec.origin
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return None
    return origin


def observe(module: ModuleType, loaded_after_ns: Optional[int]) -> bool:
    """Stamps an ordinary module whose load happened after ``loaded_after_ns``
    if its file has not changed since before then. Returns True if stamped."""
    path = source_path(module)
    if path is None or loaded_after_ns is None:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not _settled_before(st, loaded_after_ns):
        return False
    _stamps[module] = (path, _key(st))
    return True


def changed(module: ModuleType) -> bool:
    """True if the module's source file differs from what it executed (or
    cannot be shown not to). Modules without a source file never change."""
    loader = bridge_loader(module)
    if loader is not None:
        return loader.source_changed()
    path = source_path(module)
    if path is None:
        return False
    stamp = _stamps.get(module)
    if stamp is None or stamp[0] != path:
        if not observe(module, _PROCESS_START_NS):
            return True
        return False
    try:
        return _key(os.stat(path)) != stamp[1]
    except OSError:
        return True


def drop_racy_pyc(path: str) -> None:
    """Removes the CPython bytecode cache of ``path`` if CPython's timestamp
    check could take it for the current source while it was compiled from an
    earlier version (written within the source's second): the next import
    then compiles the source. Bridge modules never need it: their loader does
    not trust such files."""
    try:
        import importlib.util

        cached = importlib.util.cache_from_source(path)
        pyc = os.stat(cached)
        src = os.stat(path)
    except (OSError, NotImplementedError, ValueError):
        return
    if not _settled_before(src, pyc.st_mtime_ns):
        try:
            os.unlink(cached)
        except OSError:
            pass


__all__ = ["bridge_loader", "changed", "observe", "source_path", "drop_racy_pyc"]
