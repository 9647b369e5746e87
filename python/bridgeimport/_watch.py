"""The file watcher behind hot reload: which files under some directories may have changed.

``_watching`` (``bi.watch()``) asks it, at a safe point, which files to look
at. Its answers are *hints*: what really changed is decided by the
metadata-and-bytes check of the loader and ``_changes``. So a hint too many
costs one cheap check, and a lost one costs latency, never a wrong answer.
The watcher's job is to report every change soon, and cheaply::

    with Watcher(["/srv/plugins"], settle=0.075) as w:
        if w.wait(5.0):
            check(w.take())      # absolute paths of files that may have changed

It watches directory *trees* (never single files), and follows directories
created, moved in or removed later. Two backends:

* ``"inotify"`` (Linux, through ctypes: no compiled code): one watch per
  directory, added *before* the directory is listed, so a file created in a
  new directory right after it is reported by the event or by the listing.
  Events queued past the kernel's limit (``IN_Q_OVERFLOW``) cause a full
  rescan. Files that are symbolic links, whose targets inotify cannot see,
  and roots that do not exist (yet) are checked every ``poll_interval``.
* ``"poll"``: every ``poll_interval`` seconds, one ``stat`` per file, compared
  with the last pass by (mtime_ns, size, ino, ctime_ns).

Fallback to polling (``backend="auto"`` or ``"inotify"``; logged on the
``bridgeimport`` logger and kept in ``status()["fallback"]``): when
``BRIDGEIMPORT_WATCH=poll`` is set (INFO); when the platform or libc has no
inotify (INFO); when a watched directory is on a filesystem where inotify
does not see other machines' changes, :data:`REMOTE_FILESYSTEMS` or any
``fuse*`` type, read from ``/proc/self/mountinfo`` for each device met (INFO);
when ``inotify_init1`` or ``inotify_add_watch`` fails with ENOSPC
(``fs.inotify.max_user_watches``), EMFILE (``fs.inotify.max_user_instances``)
or ENOMEM (WARNING); and, at run time, when the inotify descriptor fails or
handling its events raises (WARNING, the error in ``status()["last_error"]``).
A fallback keeps the last snapshot, so its first pass reports what changed
while events were missed.

Racy stats: a file changed within the timestamp resolution of a pass could
change again with the same metadata. Such a file (last change less than
100 ms after the end of its second before the pass: the rule of ``_changes``)
keeps a CRC of its bytes in the snapshot, and the next pass compares bytes,
so a same-size rewrite in the same tick is still reported.

Not reported: files in ``__pycache__`` and in hidden (``.``) directories,
which are not watched either, and editor droppings (:func:`ignored`): names
starting with ``.`` or ``#``, ending with ``~``, ``.swp``, ``.swx``,
``.swpx`` or ``.tmp``, and vim's ``4913`` probe. A rename-over save reports
the target; a deleted or moved directory reports every file it held.

Settling: a path becomes *pending* only once no new event (or poll finding)
has arrived for ``settle`` seconds, so a multi-file save is one batch (in
polling mode, a save that straddles a pass may be two). ``on_pending(batch)``,
an explicit opt-in (default None), is called on the watcher's thread with
each settled batch; by default nothing of the caller's runs there.

Threads: one daemon thread per watcher reads the events or polls; every
method may be called from any thread. The thread never raises: errors go to
``status()["last_error"]`` and the log. Constructing a watcher scans its
trees once; :meth:`Watcher.close` (idempotent; also ``with``) stops the
thread. Importing this module does nothing but define it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import select
import stat
import struct
import sys
import threading
import time
import zlib
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

__all__ = ["Watcher", "ENV_WATCH", "BACKENDS", "REMOTE_FILESYSTEMS", "ignored", "is_remote"]

_log = logging.getLogger("bridgeimport")

ENV_WATCH = "BRIDGEIMPORT_WATCH"
BACKENDS = ("auto", "inotify", "poll")

# Filesystems whose changes made elsewhere (another client, the host of a VM
# or container) inotify does not report; every "fuse*" type counts too.
REMOTE_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "virtiofs", "ceph", "afs", "lustre",
    "gpfs", "ncpfs", "coda", "vboxsf", "vmhgfs", "glusterfs", "ocfs2", "gfs2"})

_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".swpx", ".tmp")

# inotify(7)
IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_UNMOUNT = 0x2000
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_ISDIR = 0x40000000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
# IN_MODIFY as well as IN_CLOSE_WRITE: a writer that keeps its file open. No
# IN_DONT_FOLLOW: a root may be a link to its directory (below the roots,
# links to directories are not followed: they are never listed).
_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
         | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_NO_WATCHES = {errno.ENOSPC: "ENOSPC: no inotify watch left (fs.inotify.max_user_watches)",
               errno.EMFILE: "EMFILE: no inotify instance left (fs.inotify.max_user_instances)",
               errno.ENOMEM: "ENOMEM: the kernel could not allocate an inotify watch"}

Key = Tuple[int, int, int, int]
# (key, None) when the stat was conclusive; (key, CRC of the bytes, or -1 when
# unreadable or too large) when the file changed within a timestamp's tick.
Entry = Tuple[Key, Optional[int]]

_SECOND = 1_000_000_000
_RACY_SLACK_NS = 100_000_000
_DIGEST_LIMIT = 4 << 20


class _Fallback(Exception):
    """Inotify cannot serve (the message says why): poll instead. ``level``:
    how loudly to log it (a limit to raise is a warning)."""

    def __init__(self, reason: str, level: int = logging.WARNING) -> None:
        super().__init__(reason)
        self.level = level


# -- names and stats ----------------------------------------------------------

def ignored(name: str) -> bool:
    """True for a file name never reported: editor droppings and hidden files."""
    return name.startswith((".", "#")) or name.endswith(_IGNORED_SUFFIXES) or name == "4913"


def _ignored_dir(name: str) -> bool:
    return name == "__pycache__" or name.startswith(".")


def _key(st: os.stat_result) -> Key:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _settled(st: os.stat_result, now_ns: int) -> bool:
    """True if a change after ``now_ns`` would show in the file's timestamps."""
    last = max(st.st_mtime_ns, st.st_ctime_ns)
    return now_ns >= (last // _SECOND + 1) * _SECOND + _RACY_SLACK_NS


def _digest(path: str, size: int) -> int:
    if size > _DIGEST_LIMIT:
        return -1
    try:
        with open(path, "rb") as f:
            return zlib.crc32(f.read(_DIGEST_LIMIT + 1))
    except OSError:
        return -1


def _observe(path: str, st: os.stat_result, now_ns: int,
             old: Optional[Entry]) -> Tuple[Entry, bool]:
    """The snapshot entry of a file stat'ed after ``now_ns``, and whether it
    differs from ``old`` (None: not seen before)."""
    key = _key(st)
    if old is not None and old[0] == key:
        if old[1] is None:
            return old, False
        digest = _digest(path, st.st_size)
        return (key, None if _settled(st, now_ns) else digest), digest == -1 or digest != old[1]
    return (key, None if _settled(st, now_ns) else _digest(path, st.st_size)), True


def _list_tree(top: str, before_listing: Optional[Callable[[str], None]]
               ) -> Tuple[Dict[str, os.stat_result], List[str], Set[str]]:
    """Every reported file under ``top`` with its stat (links followed), the
    directories listed, and the files that are symbolic links.
    ``before_listing(directory)`` runs before each directory is listed."""
    files: Dict[str, os.stat_result] = {}
    dirs: List[str] = []
    links: Set[str] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        if before_listing is not None:
            before_listing(directory)
        try:
            it = os.scandir(directory)
        except OSError:
            continue
        dirs.append(directory)
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not _ignored_dir(entry.name):
                            stack.append(entry.path)
                        continue
                    if ignored(entry.name):
                        continue
                    st = entry.stat()
                    link = entry.is_symlink()
                except OSError:  # gone since, or a dangling link
                    continue
                if stat.S_ISDIR(st.st_mode):  # a link to a directory: not followed
                    continue
                files[entry.path] = st
                if link:
                    links.add(entry.path)
    return files, dirs, links


def _roots(directories: Iterable[str]) -> Tuple[str, ...]:
    """Absolute, without duplicates, and without those inside another."""
    roots = sorted({os.path.abspath(os.fspath(d)) for d in directories})
    kept: List[str] = []
    for root in roots:
        if not any(root.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(root)
    return tuple(kept)


# -- filesystems ---------------------------------------------------------------

def is_remote(fstype: str) -> bool:
    """True for a filesystem type inotify cannot be trusted on."""
    return fstype in REMOTE_FILESYSTEMS or fstype.startswith("fuse")


def _read_mountinfo() -> str:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return ""


def _mount_table(text: str) -> List[Tuple[str, str]]:
    """(mount point, filesystem type) of each line of a mountinfo text."""
    table = []
    for line in text.splitlines():
        fields = line.split()
        try:
            separator = fields.index("-", 6)
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            table.append((point, fields[separator + 1]))
        except (ValueError, IndexError):
            continue
    return table


def _fs_type(path: str, table: List[Tuple[str, str]]) -> Optional[str]:
    """The type of the filesystem ``path`` is on (the last, longest match)."""
    real = os.path.realpath(path)
    best, kind = "", None
    for point, fstype in table:
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


# -- inotify through libc --------------------------------------------------------

class _Inotify:
    """One inotify instance (libc's inotify_init1/add_watch/rm_watch by ctypes)."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise _Fallback(f"inotify is Linux only (this is {sys.platform})", logging.INFO)
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            self._add, self._rm = libc.inotify_add_watch, libc.inotify_rm_watch
            init1 = libc.inotify_init1
        except (OSError, AttributeError) as exc:
            raise _Fallback(f"libc has no inotify ({exc})", logging.INFO) from None
        init1.argtypes, init1.restype = [ctypes.c_int], ctypes.c_int
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._add.restype = ctypes.c_int
        self._rm.argtypes, self._rm.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        self._get_errno: Callable[[], int] = ctypes.get_errno
        fd = int(init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            code = self._get_errno()
            raise _Fallback(f"inotify_init1: {_NO_WATCHES.get(code, os.strerror(code))}")
        self.fd = fd

    def add_watch(self, directory: str) -> int:
        wd = int(self._add(self.fd, os.fsencode(directory), _MASK))
        if wd < 0:
            code = self._get_errno()
            raise OSError(code, os.strerror(code), directory)
        return wd

    def rm_watch(self, wd: int) -> None:
        self._rm(self.fd, wd)  # fails (EINVAL) when the kernel removed it: fine

    def read(self) -> bytes:
        try:
            return os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _events(data: bytes) -> List[Tuple[int, int, str]]:
    """(wd, mask, name) of each event in a buffer read from inotify."""
    out = []
    offset = 0
    while offset + _EVENT.size <= len(data):
        wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
        offset += _EVENT.size
        name = data[offset:offset + length].split(b"\0", 1)[0]
        offset += length
        out.append((wd, mask, os.fsdecode(name)))
    return out


# -- the watcher ------------------------------------------------------------------

class Watcher:
    """Watches directory trees; see the module docstring.

    ``settle``: seconds without a new event before a batch is pending.
    ``backend``: ``"auto"`` (inotify where it can serve, else polling),
    ``"inotify"`` (the same fallbacks, logged as warnings) or ``"poll"``.
    ``poll_interval``: seconds between polling passes (and, with inotify,
    between checks of linked files and missing roots). ``on_pending``:
    called on the watcher's thread with each settled batch (opt-in)."""

    def __init__(self, directories: Iterable[str], *, settle: float = 0.075,
                 backend: str = "auto", poll_interval: float = 0.5,
                 on_pending: Optional[Callable[[FrozenSet[str]], object]] = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        if not settle >= 0 or not poll_interval > 0:
            raise ValueError("settle must be >= 0 and poll_interval > 0")
        if isinstance(directories, (str, bytes, os.PathLike)):
            directories = [os.fsdecode(directories)]
        self.directories = _roots(directories)
        self.settle, self.poll_interval = float(settle), float(poll_interval)
        self.requested = backend
        self._on_pending = on_pending
        self._lock = threading.Lock()           # pending, unsettled, counters
        self._cond = threading.Condition(self._lock)
        self._scan_lock = threading.RLock()     # snapshot, watches; taken before _lock
        self._pending: Set[str] = set()
        self._raw: Set[str] = set()             # reported, not settled yet
        self._deliver: Set[str] = set()         # pending by rescan(), for on_pending
        self._last_event = 0.0
        self._snapshot: Dict[str, Entry] = {}
        self._links: Set[str] = set()
        self._missing: Set[str] = set()         # roots that do not exist (yet)
        self._ino: Optional[_Inotify] = None
        self._wd_dir: Dict[int, str] = {}
        self._dir_wd: Dict[str, int] = {}
        self._devices: Set[int] = set()         # devices known to be local
        self._table: Optional[List[Tuple[str, str]]] = None
        self._counts = {"events": 0, "passes": 0, "rescans": 0, "overflows": 0}
        self.fallback: Optional[str] = None
        self._fallback_request: Optional[str] = None
        self.last_error: Optional[str] = None
        self._closed = False
        self._in_callback = False
        self._next_pass = 0.0
        self.backend = "poll"
        self._start(backend)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="bridgeimport-watch", daemon=True)
        self._thread.start()

    # -- start and fallback ------------------------------------------------------

    def _start(self, backend: str) -> None:
        forced = os.environ.get(ENV_WATCH, "").strip().lower()
        if forced not in ("", "auto", "inotify", "poll"):
            _log.warning("bridgeimport: ignoring %s=%r (expected 'poll')", ENV_WATCH, forced)
        if backend != "poll" and forced == "poll":
            self._use_polling(f"{ENV_WATCH}=poll is set", logging.INFO, initial=True)
            return
        if backend == "poll":
            self._use_polling(None, logging.DEBUG, initial=True)
            return
        try:
            self._ino = _Inotify()
            with self._scan_lock:
                self._rescan_locked()
        except _Fallback as exc:
            level = logging.WARNING if backend == "inotify" else exc.level
            self._use_polling(str(exc), level, initial=True)
            return
        except BaseException:
            if self._ino is not None:
                self._ino.close()
            raise
        self.backend = "inotify"
        self._next_pass = time.monotonic() + self.poll_interval

    def _use_polling(self, reason: Optional[str], level: int, initial: bool = False) -> None:
        """Switches to polling: before the thread starts (``initial``: a first
        snapshot, nothing reported), or on it, keeping the snapshot so that
        the first pass, at once, reports what changed meanwhile."""
        with self._scan_lock:
            if self._ino is not None:
                self._ino.close()
                self._ino = None
            self._wd_dir.clear()
            self._dir_wd.clear()
            self.backend, self.fallback = "poll", reason
            if initial:
                self._rescan_locked()
        self._next_pass = time.monotonic() + self.poll_interval if initial else 0.0
        if reason is not None:
            _log.log(level, "bridgeimport: watching %d directories by polling every %gs: %s",
                     len(self.directories), self.poll_interval, reason)

    def _mount_type(self, directory: str) -> Optional[str]:
        if self._table is None:
            self._table = _mount_table(_read_mountinfo())
        return _fs_type(directory, self._table)

    def _watch_dir(self, directory: str) -> None:
        """Adds the inotify watch of a directory (before it is listed)."""
        assert self._ino is not None
        try:
            device = os.stat(directory).st_dev
        except OSError:
            return
        if device not in self._devices:
            kind = self._mount_type(directory)
            if kind is not None and is_remote(kind):
                raise _Fallback(f"{directory} is on a {kind} filesystem, where inotify does "
                                "not see changes made by other machines", logging.INFO)
            self._devices.add(device)
        try:
            wd = self._ino.add_watch(directory)
        except OSError as exc:
            if exc.errno in _NO_WATCHES:
                raise _Fallback(f"inotify_add_watch: {_NO_WATCHES[exc.errno]}") from None
            self._error(f"inotify_add_watch({directory}): {exc.strerror}")
            return
        old = self._wd_dir.get(wd)
        if old is not None and old != directory:
            self._dir_wd.pop(old, None)
        self._wd_dir[wd], self._dir_wd[directory] = directory, wd

    # -- scans ---------------------------------------------------------------

    def _rescan_locked(self) -> Set[str]:
        """Lists every tree again (re-adding inotify watches) and returns the
        files whose stat differs from the snapshot, which it replaces."""
        now_ns = time.time_ns()
        watching = self._ino is not None
        files: Dict[str, os.stat_result] = {}
        listed: Set[str] = set()
        links: Set[str] = set()
        for root in self.directories:
            if not os.path.isdir(root):
                self._missing.add(root)
                continue
            self._missing.discard(root)
            found, dirs, linked = _list_tree(root, self._watch_dir if watching else None)
            files.update(found)
            listed.update(dirs)
            links |= linked
        for directory in [d for d in self._dir_wd if d not in listed]:
            self._unwatch(directory)
        changed: Set[str] = set()
        snapshot: Dict[str, Entry] = {}
        for path, st in files.items():
            snapshot[path], differs = _observe(path, st, now_ns, self._snapshot.get(path))
            if differs:
                changed.add(path)
        changed.update(p for p in self._snapshot if p not in snapshot)
        self._snapshot, self._links = snapshot, links
        return changed

    def _add_tree(self, top: str, found: Set[str]) -> None:
        """A directory created or moved in: watched, listed, its files reported."""
        now_ns = time.time_ns()
        files, _dirs, links = _list_tree(top, self._watch_dir)
        for path, st in files.items():
            self._snapshot[path] = _observe(path, st, now_ns, None)[0]
        found.update(files)
        self._links |= links

    def _forget_tree(self, top: str, found: Set[str]) -> None:
        """A directory deleted or moved out: its files reported, its watches removed."""
        prefix = top + os.sep
        gone = [p for p in self._snapshot if p.startswith(prefix)]
        for path in gone:
            del self._snapshot[path]
            self._links.discard(path)
        found.update(gone)
        for directory in [d for d in self._dir_wd if d == top or d.startswith(prefix)]:
            self._unwatch(directory)

    def _unwatch(self, directory: str) -> None:
        wd = self._dir_wd.pop(directory)
        if self._wd_dir.get(wd) == directory:
            del self._wd_dir[wd]
        if self._ino is not None:
            self._ino.rm_watch(wd)

    def _refresh(self, paths: Iterable[str]) -> None:
        """Brings the snapshot of settled paths up to date (inotify)."""
        now_ns = time.time_ns()
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                self._snapshot.pop(path, None)
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            self._snapshot[path] = _observe(path, st, now_ns, self._snapshot.get(path))[0]

    def _light_pass(self) -> Set[str]:
        """Inotify's periodic check: linked files and roots now present."""
        found: Set[str] = set()
        now_ns = time.time_ns()
        for root in sorted(self._missing):
            if os.path.isdir(root):
                self._missing.discard(root)
                self._add_tree(root, found)
        for path in sorted(self._links):
            try:
                st = os.stat(path)
            except OSError:
                continue  # a deletion has its event
            self._snapshot[path], differs = _observe(path, st, now_ns, self._snapshot.get(path))
            if differs:
                found.add(path)
        return found

    # -- events ----------------------------------------------------------------

    def _dispatch(self, data: bytes) -> None:
        """Handles one buffer of inotify events."""
        events = _events(data)
        found: Set[str] = set()
        try:
            with self._scan_lock:
                for wd, mask, name in events:
                    self._handle(wd, mask, name, found)
        finally:
            self._note(found, len(events))

    def _handle(self, wd: int, mask: int, name: str, found: Set[str]) -> None:
        if mask & IN_Q_OVERFLOW:
            self._overflow(found)
            return
        directory = self._wd_dir.get(wd)
        if directory is None:
            return
        if mask & (IN_IGNORED | IN_UNMOUNT | IN_DELETE_SELF | IN_MOVE_SELF):
            if directory in self.directories:  # a root went away: look for it again
                self._forget_tree(directory, found)
                self._missing.add(directory)
            elif mask & IN_IGNORED:
                self._dir_wd.pop(directory, None)
                del self._wd_dir[wd]
            return
        if not name:
            return
        path = os.path.join(directory, name)
        if mask & IN_ISDIR:
            if _ignored_dir(name):
                return
            if mask & (IN_DELETE | IN_MOVED_FROM):
                self._forget_tree(path, found)
            if mask & (IN_CREATE | IN_MOVED_TO):
                self._add_tree(path, found)
        elif not ignored(name):
            found.add(path)

    def _overflow(self, found: Set[str]) -> None:
        """IN_Q_OVERFLOW: events were lost; a full rescan finds what they said."""
        with self._lock:
            self._counts["overflows"] += 1
        _log.info("bridgeimport: inotify queue overflowed; rescanning %d directories",
                  len(self.directories))
        found.update(self._rescan_locked())

    def _note(self, found: Set[str], events: int) -> None:
        with self._lock:
            self._counts["events"] += events
            if found:
                self._raw |= found
                self._last_event = time.monotonic()
                if threading.current_thread() is not self._thread:
                    self._wake()  # its timeout is to be computed anew

    def _error(self, message: str) -> None:
        with self._lock:
            self.last_error = message

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closed:
                try:
                    self._step()
                except _Fallback as exc:
                    self._use_polling(str(exc), logging.WARNING)
                except Exception as exc:  # never raises: recorded, then polling
                    self._failed(exc)
        finally:
            self._release()

    def _failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        self._error(message)
        if self.backend == "inotify":
            self._use_polling(f"the inotify reader failed ({message})", logging.WARNING)
        else:
            _log.warning("bridgeimport: the file watcher failed: %s", message, exc_info=True)
            self._sleep(self.poll_interval)

    def _sleep(self, seconds: float) -> None:
        select.select([self._wake_r], [], [], seconds)

    def _timeout(self, now: float) -> Optional[float]:
        deadlines = []
        with self._lock:
            if self._raw:
                deadlines.append(self._last_event + self.settle)
            if self._deliver:
                deadlines.append(now)
        if self.backend == "poll" or self._links or self._missing:
            deadlines.append(self._next_pass)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def _step(self) -> None:
        """Waits for an event, a pass or a settling, and handles what is due."""
        if self._fallback_request is not None:
            reason, self._fallback_request = self._fallback_request, None
            raise _Fallback(reason)
        timeout = self._timeout(time.monotonic())
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        ino = self._ino
        if ino is not None:
            poller.register(ino.fd, select.POLLIN)
        ready = poller.poll(None if timeout is None else int(timeout * 1000) + 1)
        for fd, flags in ready:
            if fd == self._wake_r:
                try:
                    while os.read(self._wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif ino is not None and fd == ino.fd:
                if flags & (select.POLLERR | select.POLLNVAL | select.POLLHUP):
                    raise OSError(errno.EBADF, "the inotify descriptor failed")
                self._read_events(ino)
        if self._closed:
            return
        now = time.monotonic()
        if now >= self._next_pass and (self.backend == "poll" or self._links or self._missing):
            self._next_pass = now + self.poll_interval
            with self._scan_lock:
                found = self._rescan_locked() if self.backend == "poll" else self._light_pass()
            with self._lock:
                self._counts["passes"] += 1
            self._note(found, len(found) if self.backend == "poll" else 0)
        self._settle_due(time.monotonic())

    def _read_events(self, ino: _Inotify) -> None:
        while not self._closed:
            data = ino.read()
            if not data:
                return
            self._dispatch(data)

    def _settle_due(self, now: float) -> None:
        with self._lock:
            batch: Set[str] = set()
            if self._raw and now - self._last_event >= self.settle:
                batch, self._raw = self._raw, set()
        if batch and self.backend == "inotify":
            with self._scan_lock:
                self._refresh(batch)
        with self._lock:
            self._pending |= batch
            batch |= self._deliver
            self._deliver = set()
            if batch:
                self._cond.notify_all()
        if batch and self._on_pending is not None:
            self._call_back(frozenset(batch))

    def _call_back(self, batch: FrozenSet[str]) -> None:
        assert self._on_pending is not None
        with self._lock:  # close() sees either the flag or a callback not run
            if self._closed:
                return
            self._in_callback = True
        try:
            self._on_pending(batch)
        except Exception as exc:
            self._error(f"on_pending raised {type(exc).__name__}: {exc}")
            _log.warning("bridgeimport: the watcher's on_pending raised", exc_info=True)
        finally:
            self._in_callback = False

    def _release(self) -> None:
        with self._scan_lock:
            if self._ino is not None:
                try:
                    self._ino.close()
                except OSError:
                    pass
                self._ino = None
        with self._lock:
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._wake_r = self._wake_w = -1

    def _wake(self) -> None:
        """Wakes the thread (with ``_lock`` held: the pipe outlives no caller)."""
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"!")
            except OSError:  # full: it is awake anyway
                pass

    # -- the API -----------------------------------------------------------------

    def pending(self) -> FrozenSet[str]:
        """The settled paths not taken yet."""
        with self._lock:
            return frozenset(self._pending)

    def take(self) -> FrozenSet[str]:
        """The settled paths, which are no longer pending."""
        with self._lock:
            taken = frozenset(self._pending)
            self._pending.clear()
            return taken

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until something is pending (or the watcher is closed);
        returns True if something is."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._pending) or self._closed, timeout)
            return bool(self._pending)

    def rescan(self) -> FrozenSet[str]:
        """Lists every tree now and marks as pending every file whose stat
        differs from the snapshot (created, changed, deleted); returns them."""
        with self._scan_lock:
            if self._closed:
                return frozenset()
            try:
                changed = self._rescan_locked()
            except _Fallback as exc:  # the thread switches; its first pass reports
                with self._lock:
                    self._fallback_request = str(exc)
                    self._wake()
                return frozenset()
        with self._lock:
            self._counts["rescans"] += 1
            self._raw -= changed
            self._pending |= changed
            if changed:
                self._deliver |= changed
                self._cond.notify_all()
                self._wake()
        return frozenset(changed)

    def status(self) -> Dict[str, object]:
        """What the watcher does and has seen (for ``doctor`` and ``bi.watch``)."""
        with self._scan_lock, self._lock:
            return {"backend": self.backend, "requested": self.requested,
                    "fallback": self.fallback, "directories": list(self.directories),
                    "missing": sorted(self._missing), "watches": len(self._dir_wd),
                    "files": len(self._snapshot), "pending": len(self._pending),
                    "unsettled": len(self._raw), **self._counts,
                    "last_error": self.last_error, "settle": self.settle,
                    "poll_interval": self.poll_interval, "closed": self._closed,
                    "running": self._thread.is_alive()}

    def close(self) -> None:
        """Stops the thread (waiting for it, unless called from ``on_pending``,
        where it stops on return). Idempotent; pending paths stay readable."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            self._wake()
            in_callback = self._in_callback
        if threading.current_thread() is not self._thread and not in_callback:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.backend
        return f"<bridgeimport watcher of {len(self.directories)} directories ({state})>"
