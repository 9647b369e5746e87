"""Interpreter start-up: what ``bridgeimport.pth`` (and ``bridgeimport.start``
on Python 3.15+) run, once per interpreter.

Every interpreter start unmarshals this module, so it is kept small and imports
nothing that site.py has not (os, sys, marshal). :func:`run` gathers what is
declared, in this order, without loading the extension or running plugin code:

1. ``BRIDGEIMPORT_MOUNTS``, the mount table a parent process exported; used
   instead of 2 and 3 when it was written against this BRIDGEIMPORT_PATH;
2. ``BRIDGEIMPORT_PATH``: ``;``-separated ``package=dir[:dir...][#glob]``;
3. the entry points of group ``bridgeimport.mounts`` of installed
   distributions, read through a cache file (see _entrypoints).

If anything is declared, a pure-Python :class:`StandInFinder` goes to
``sys.meta_path[0]``; the first import under a declared package, or the first
use of the mount API, mounts everything and puts the native finder in its
place. Bad configuration warns once on stderr; nothing here stops the
interpreter.
"""

import marshal
import os
import sys

ENV_PATH = "BRIDGEIMPORT_PATH"
ENV_DISABLE = "BRIDGEIMPORT_DISABLE"
ENV_EXPORT = "BRIDGEIMPORT_MOUNTS"
GROUP = "bridgeimport.mounts"

# site.py may process one site-packages directory twice (Debian venvs with
# system site packages do): act once.
_ran = False
_pending = None   # ([Entry], [(dist, name, value)]) declared, not mounted yet
_stand_in = None


class Entry:
    """One declared mount."""

    __slots__ = ("package", "directories", "pattern", "allow_external_symlinks", "atomic",
                 "origin")

    def __init__(self, package, directories, pattern="*.py", allow_external_symlinks=False,
                 atomic=False, origin=ENV_PATH):
        self.package = package
        self.directories = tuple(directories)
        self.pattern = pattern
        self.allow_external_symlinks = allow_external_symlinks
        self.atomic = atomic
        self.origin = origin

    def config(self):
        return (self.package, self.directories, self.pattern, self.allow_external_symlinks,
                self.atomic)

    def __eq__(self, other):
        return isinstance(other, Entry) and self.config() == other.config()

    __hash__ = None  # mutable (entry points merge directories into one)

    def __repr__(self):
        return f"Entry{self.config()!r}"


def _valid_package(package):
    return bool(package) and all(p.isidentifier() for p in package.split("."))


def parse(value):
    """Splits a BRIDGEIMPORT_PATH value into ([Entry], [error message])."""
    entries = []
    errors = []
    for raw in value.split(";"):
        text = raw.strip()
        if not text:
            continue
        package, sep, rest = text.partition("=")
        package = package.strip()
        if not sep or not package or not rest.strip():
            errors.append(f"entry {text!r} is not of the form package=dir[:dir...][#glob]")
            continue
        dirs_text, _, pattern = rest.partition("#")
        directories = tuple(d.strip() for d in dirs_text.split(os.pathsep) if d.strip())
        if not directories:
            errors.append(f"entry {text!r} names no directory")
            continue
        entries.append(Entry(package, directories, pattern.strip() or "*.py"))
    return entries, errors


_warned = {}


def _warn(message, origin=ENV_PATH):
    """One line on stderr per distinct message; never raises. The first
    thread to store the line writes it (dict.setdefault is one atomic step,
    also without the GIL)."""
    line = f"bridgeimport: {message} (from {origin}; ignored)\n"
    token = object()
    if _warned.setdefault(line, token) is token:
        try:
            sys.stderr.write(line)
        except Exception:  # no usable stderr: stay silent rather than fail start-up
            pass


def _check_entry(entry):
    """The checks that need no extension: package name, directories."""
    if not _valid_package(entry.package):
        return (f"cannot mount {entry.package!r}: a package name is a dotted sequence "
                "of identifiers")
    for d in entry.directories:
        if not os.path.isdir(d):
            what = "is not a directory" if os.path.exists(d) else "does not exist"
            return f"cannot mount {entry.package!r}: directory {d!r} {what}"
    return None


# The export to child processes, written by _mounts on every change, read by
# the children's start-up:
#   BRIDGEIMPORT_MOUNTS = "1;" PATH *(";" package "," flags "," pattern *("," dir))
# PATH being the BRIDGEIMPORT_PATH value the table was written against; every
# field is %-escaped for "%", ";" and ",", so any path round-trips; flags "a"
# atomic, "s" allow_external_symlinks.

def _q(text):
    return text.replace("%", "%25").replace(";", "%3B").replace(",", "%2C")


def encode_export(path_value, configs):
    """The BRIDGEIMPORT_MOUNTS value for mount configs ``(package, dirs,
    pattern, allow_external_symlinks, atomic)`` written against
    ``path_value``."""
    parts = ["1", _q(path_value)]
    for package, dirs, pattern, symlinks, atomic in configs:
        flags = ("a" if atomic else "") + ("s" if symlinks else "")
        parts.append(",".join([_q(package), flags, _q(pattern)] + [_q(d) for d in dirs]))
    return ";".join(parts)


def _unq(text):
    if "%" not in text:
        return text
    head, *rest = text.split("%")
    return head + "".join(chr(int(part[:2], 16)) + part[2:] for part in rest)


def decode_export(value):
    """(BRIDGEIMPORT_PATH written against, [Entry]) from a BRIDGEIMPORT_MOUNTS
    value (see encode_export); ValueError if malformed."""
    fields = value.split(";")
    if len(fields) < 2 or fields[0] != "1":
        raise ValueError("unknown format")
    entries = []
    for field in fields[2:]:
        items = [_unq(x) for x in field.split(",")]
        if len(items) < 4 or not set(items[1]) <= {"a", "s"}:
            raise ValueError(f"bad entry {field!r}")
        entries.append(Entry(items[0], items[3:], items[2], "s" in items[1], "a" in items[1],
                             origin=ENV_EXPORT))
    return _unq(fields[1]), entries


def _site_dirs():
    """Absolute directories distributions may be installed in: sys.path, plus
    the site directories site.py has yet to add (a venv's .pth runs before the
    system and user site directories are on sys.path)."""
    dirs = list(sys.path)
    site = sys.modules.get("site")
    if site is not None:
        try:
            if getattr(site, "ENABLE_USER_SITE", False):
                dirs.append(site.getusersitepackages())
            dirs.extend(site.getsitepackages())
        except Exception:
            pass
    out = []
    for d in dirs:
        if isinstance(d, str) and os.path.isabs(d) and d not in out:
            out.append(d)
    return out


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def cache_path():
    """This environment's entry-point cache file, or None without a home."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    h = 0xCBF29CE484222325  # FNV-1a of sys.prefix: stable across processes, unlike hash()
    for byte in sys.prefix.encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    v = sys.version_info
    return os.path.join(base, "bridgeimport", f"entry-points-{v[0]}.{v[1]}-{h:016x}.marshal")


CACHE_FORMAT = 2


def entry_points():
    """[(dist, name, value)] of group bridgeimport.mounts. The cache file holds
    the answer for up to 8 site-directory lists, each valid while those
    directories' mtimes (a distribution installed or removed changes them) and
    the mtimes of the entry_points.txt files that declared mounts are
    unchanged; otherwise _entrypoints scans and rewrites it."""
    dirs = _site_dirs()
    key = tuple((d, _mtime(d)) for d in dirs)
    path = cache_path()
    slots = ()
    if path is not None:
        try:
            with open(path, "rb") as f:
                fmt, slots = marshal.loads(f.read())
            if fmt != CACHE_FORMAT:
                slots = ()
            for cached_key, stamps, records in slots:
                if cached_key == key and all(_mtime(p) == m for p, m in stamps):
                    return list(records)
        except Exception:  # missing, unreadable, another format: rescan
            slots = ()
    from . import _entrypoints

    return _entrypoints.scan_and_cache(dirs, key, path, slots)


class StandInFinder:
    """Holds the native finder's place on sys.meta_path until an import needs
    it. A miss costs a string split and a set lookup. The first import whose
    top-level name is a declared package's mounts everything declared: that
    installs the native finder at sys.meta_path[0] and drops the stand-in, so
    entries after it keep their index and the import system's iteration over
    sys.meta_path goes on undisturbed; this call answers with the native
    finder's spec.

    Other threads may reach the stand-in meanwhile (they iterate over
    sys.meta_path as it was, or have fetched this finder already): they wait
    for the import of _mounts (the import system's module lock) and answer
    with the native finder too, never with None for a declared package."""

    def __init__(self, tops):
        self.tops = frozenset(tops)

    def __repr__(self):
        return f"<bridgeimport.StandInFinder for {sorted(self.tops)}>"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in self.tops:
            return None
        try:
            from . import _mounts  # its import mounts what is declared (activate)
        except Exception as exc:
            self.tops = frozenset()  # inert from now on
            _warn(f"cannot load the native finder: {type(exc).__name__}: {exc}", "start-up")
            return None
        finder = _mounts._native.finder
        if any(f is finder for f in sys.meta_path):
            return finder.find_spec(name, path, target)
        return None  # _mounts still initialising on this very thread

    def invalidate_caches(self):
        pass


def is_stand_in(obj):
    return type(obj) is StandInFinder


def _declared():
    """([Entry], [(dist, name, value)]) that start-up configuration declares,
    checked as far as possible without the extension; warnings issued."""
    path_value = os.environ.get(ENV_PATH, "")
    exported = os.environ.get(ENV_EXPORT)
    if exported:
        try:
            written_for, entries = decode_export(exported)
        except ValueError as exc:
            _warn(f"malformed value: {exc}", ENV_EXPORT)
        else:
            if written_for == path_value:
                return entries, []
    entries, errors = parse(path_value)
    for message in errors:
        _warn(message)
    good = []
    for entry in entries:
        message = _check_entry(entry)
        if message:
            _warn(message)
        else:
            good.append(entry)
    eps = []
    for dist, name, value in entry_points():
        package = name.partition("#")[0].strip()
        if _valid_package(package):
            eps.append((dist, name, value))
        else:
            _warn(f"{package!r} is not a package name",
                  f"entry point {name} = {value} of {dist}")
    return good, eps


def run():
    """Start-up entry point. Once per process; never raises. A call while
    BRIDGEIMPORT_DISABLE is set does nothing and does not count: the .pth line
    never calls it then, but 3.15's site.py calls the .start entry point
    regardless (PEP 829)."""
    global _ran, _pending, _stand_in
    if _ran or os.environ.get(ENV_DISABLE, "") not in ("", "0"):
        return
    _ran = True
    try:
        entries, eps = _declared()
        if not entries and not eps:
            return
        _pending = (entries, eps)
        tops = [e.package.partition(".")[0] for e in entries]
        tops += [name.partition("#")[0].strip().partition(".")[0] for _, name, _ in eps]
        _stand_in = StandInFinder(tops)
        sys.meta_path.insert(0, _stand_in)
    except Exception as exc:  # pragma: no cover - last line of defence
        _warn(f"start-up registration failed: {exc!r}", "start-up")


def activate(mount):
    """Mounts what start-up declared with ``mount``; called at the end of
    bridgeimport._mounts' first import. Entry points need _entrypoints to
    resolve them; BRIDGEIMPORT_PATH entries alone do not."""
    global _pending
    pending, _pending = _pending, None
    if not pending:
        return
    entries, eps = pending
    if eps:
        from . import _entrypoints

        entries = _entrypoints.resolve(entries, eps)
    for entry in entries:
        try:
            mount(entry.package, *entry.directories, pattern=entry.pattern,
                  allow_external_symlinks=entry.allow_external_symlinks, atomic=entry.atomic)
        except Exception as exc:  # warn and skip that one
            _warn(f"cannot mount {entry.package!r}: {_reason(exc)}", entry.origin)


def _reason(exc):
    """An exception's text without bridgeimport's own "bridgeimport: " prefix
    (the warning adds one)."""
    text = str(exc)
    while text.startswith("bridgeimport: "):
        text = text[len("bridgeimport: "):]
    return text
