"""Interpreter start-up: what ``bridgeimport.pth`` (and ``bridgeimport.start``
where site.py reads start files) run, once per interpreter, through the
package's ``_start``.

Every interpreter start unmarshals this module, so it is kept small and imports
nothing that site.py has not (os, sys, marshal) but _config. It is a leaf: it
never imports the layers above it. :func:`run` gathers what is declared, in
this order, without loading the extension or running plugin code:

1. ``BRIDGEIMPORT_MOUNTS``, the mount table a parent process exported; used
   instead of 2 and 3 when it was written against this BRIDGEIMPORT_PATH;
2. ``BRIDGEIMPORT_PATH``: ``;``-separated ``package=dir[:dir...][#glob]``;
3. the entry points of group ``bridgeimport.mounts`` of installed
   distributions, read through a cache file (see _entrypoints).

If anything is declared, a pure-Python :class:`StandInFinder` goes to
``sys.meta_path[0]``. The first import under a declared package, or the first
use of a public name of the package, calls the facade's ``_activate``, which
takes the declared mounts (:func:`take_pending`), mounts them and puts the
native finder in the stand-in's place. Bad configuration warns once on
stderr; nothing here stops the interpreter.
"""

import marshal
import os
import sys

from ._config import (ENV_DISABLE, ENV_EXPORT, ENV_PATH, check_spec,
                      decode_export, is_package_name, mtime_ns, parse_path, warn)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: every interpreter start runs this module
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Callable, Iterable, List, Optional, Sequence, Tuple

    from ._config import CacheSlot, EntryPoint, MountSpec
    from ._native import Finder

# site.py may process one site-packages directory twice (Debian venvs with
# system site packages do): act once.
_ran = False
# ([MountSpec], [(dist, name, value)]) declared, not mounted yet
_pending = None  # type: Optional[Tuple[List[MountSpec], List[EntryPoint]]]


def _site_dirs() -> "List[str]":
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


def cache_path() -> "Optional[str]":
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


def entry_points() -> "List[EntryPoint]":
    """[(dist, name, value)] of group bridgeimport.mounts. The cache file holds
    the answer for up to 8 site-directory lists, each valid while those
    directories' mtimes (a distribution installed or removed changes them) and
    the mtimes of the entry_points.txt files that declared mounts are
    unchanged; otherwise _entrypoints scans and rewrites it."""
    dirs = _site_dirs()
    key = tuple((d, mtime_ns(d)) for d in dirs)
    path = cache_path()
    slots: Tuple[CacheSlot, ...] = ()
    if path is not None:
        try:
            with open(path, "rb") as f:
                fmt, slots = marshal.loads(f.read())
            if fmt != CACHE_FORMAT:
                slots = ()
            for cached_key, stamps, records in slots:
                if cached_key == key and all(mtime_ns(p) == m for p, m in stamps):
                    return list(records)
        except Exception:  # missing, unreadable, another format: rescan
            slots = ()
    from . import _entrypoints

    return _entrypoints.scan_and_cache(dirs, key, path, slots, CACHE_FORMAT)


class StandInFinder:
    """Holds the native finder's place on sys.meta_path until an import needs
    it. A miss costs a string split and a set lookup. The first import whose
    top-level name is a declared package's calls ``activate`` (the package
    facade's): that mounts everything declared, which installs the native
    finder at sys.meta_path[0] and drops the stand-in, so entries after it
    keep their index and the import system's iteration over sys.meta_path
    goes on undisturbed; this call answers with the native finder's spec.

    Other threads may reach the stand-in meanwhile (they iterate over
    sys.meta_path as it was, or have fetched this finder already): they wait
    in ``activate`` (which holds a lock while it mounts) and answer with the
    native finder too, never with None for a declared package."""

    _bridgeimport_stand_in = True  # _config.STAND_IN_MARK: what _config.is_stand_in looks for

    def __init__(self, tops: "Iterable[str]", activate: "Callable[[], Finder]") -> None:
        self.tops = frozenset(tops)
        self._activate = activate

    def __repr__(self) -> str:
        return f"<bridgeimport.StandInFinder for {sorted(self.tops)}>"

    def find_spec(self, name: str, path: "Optional[Sequence[str]]" = None,
                  target: "Optional[ModuleType]" = None) -> "Optional[ModuleSpec]":
        if name.partition(".")[0] not in self.tops:
            return None
        try:
            finder = self._activate()
        except Exception as exc:
            self.tops = frozenset()  # inert from now on
            warn(f"cannot load the native finder: {type(exc).__name__}: {exc}", "start-up")
            return None
        if any(f is finder for f in sys.meta_path):
            return finder.find_spec(name, path, target)
        return None  # activation still running on this very thread

    def invalidate_caches(self) -> None:
        pass


def _declared() -> "Tuple[List[MountSpec], List[EntryPoint]]":
    """([MountSpec], [(dist, name, value)]) that start-up configuration
    declares, checked as far as possible without the extension; warnings
    issued."""
    path_value = os.environ.get(ENV_PATH, "")
    exported = os.environ.get(ENV_EXPORT)
    if exported:
        try:
            written_for, specs = decode_export(exported)
        except ValueError as exc:
            warn(f"malformed value: {exc}", ENV_EXPORT)
        else:
            if written_for == path_value:
                return specs, []
    specs, errors = parse_path(path_value)
    for message in errors:
        warn(message)
    good = []
    for spec in specs:
        problem = check_spec(spec)
        if problem:
            warn(problem)
        else:
            good.append(spec)
    eps = []
    for dist, name, value in entry_points():
        package = name.partition("#")[0].strip()
        if is_package_name(package):
            eps.append((dist, name, value))
        else:
            warn(f"{package!r} is not a package name", f"entry point {name} = {value} of {dist}")
    return good, eps


def run(activate: "Callable[[], Finder]") -> None:
    """Start-up entry point (``bridgeimport._start``, which passes the
    facade's ``_activate``). Once per process; never raises. A call while
    BRIDGEIMPORT_DISABLE is set does nothing and does not count: the .pth line
    never calls it then, but 3.15's site.py calls the .start entry point
    regardless (PEP 829)."""
    global _ran, _pending
    if _ran or os.environ.get(ENV_DISABLE, "") not in ("", "0"):
        return
    _ran = True
    try:
        specs, eps = _declared()
        if not specs and not eps:
            return
        _pending = (specs, eps)
        tops = [s.package.partition(".")[0] for s in specs]
        tops += [name.partition("#")[0].strip().partition(".")[0] for _, name, _ in eps]
        sys.meta_path.insert(0, StandInFinder(tops, activate))
    except Exception as exc:  # pragma: no cover - last line of defence
        warn(f"start-up registration failed: {exc!r}", "start-up")


def take_pending() -> "List[MountSpec]":
    """The mounts start-up declared and nobody has mounted yet, as
    [MountSpec] (entry points resolved, which imports the modules their
    values name), once: later calls return []. The stand-in finder stays on
    sys.meta_path until the native finder's install() replaces it."""
    global _pending
    pending, _pending = _pending, None
    if not pending:
        return []
    specs, eps = pending
    if not eps:
        return specs
    from . import _entrypoints

    return _entrypoints.resolve(specs, eps)
