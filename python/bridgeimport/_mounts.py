"""The mount API: mounts, and the installation of the native finder.

The mount table itself lives in the native finder (``_native.finder``); this
module validates what users pass, keeps the ``Mount`` objects they get back,
and pushes the whole table to the finder on every change, under one lock
(re-entrant: ``mount()`` runs under it, from ``add_directory`` too), which
also orders the installs and the export: on a free-threaded CPython (PEP 703)
as with the GIL, two threads' changes never interleave.

Every change is also exported to ``os.environ["BRIDGEIMPORT_MOUNTS"]`` (the
format is _config's), which child processes inherit and their start-up reads:
classes and functions of bridge modules then unpickle in ``spawn`` and
``forkserver`` children. ``mount(..., export=False)`` keeps a mount to this
process.

Importing this module does nothing but define it: the package facade
activates (mounts what start-up declared, through :func:`mount_declared`). It
is kept free of typing and threading for that first-import cost.
"""

import _thread
import os
import sys

from . import _native
from ._config import (DEFAULT_PATTERN, ENV_EXPORT, ENV_PATH, MountSpec, check_package,
                      check_package_type, encode_export, encode_path, is_stand_in, reason,
                      warn)

TYPE_CHECKING = False
# Annotations naming typing's classes are strings: neither typing nor
# __future__ (a real import) is imported at run time, for the first-import cost.
if TYPE_CHECKING:
    from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

    from ._pathhook import PlaceholderFinder

    PathLike = Union[str, "os.PathLike[str]"]

_lock = _thread.RLock()  # type: ignore[attr-defined]  # missing from mypy 1.0's typeshed
_mounts = {}  # type: Dict[str, Mount]


class Mount(MountSpec):
    """One package prefix served from bridge directories.

    Returned by :func:`mount`; read-only. ``directories`` are absolute and in
    priority order: the first directory holding a name serves it.
    """

    __slots__ = ("export",)

    def __init__(self, package: str, directories: "Tuple[str, ...]", pattern: str,
                 allow_external_symlinks: bool, atomic: bool = False,
                 export: bool = True) -> None:
        super().__init__(package, directories, pattern, allow_external_symlinks, atomic,
                         origin="mount()")
        self.export = export

    def __repr__(self) -> str:
        dirs = ", ".join(repr(d) for d in self.directories)
        return f"Mount({self.package!r}, {dirs}, pattern={self.pattern!r})"

    def modules(self) -> "List[str]":
        """Every module name this mount serves (packages included), sorted.
        Lists directories; executes nothing."""
        return sorted(f"{parent}.{child.name}" for parent, child in walk(self.package))

    def shadowed(self) -> "Dict[str, List[str]]":
        """Files hidden by a file of the same module name in an earlier directory:
        ``{module name: [hidden files]}``."""
        out: Dict[str, List[str]] = {}
        for child in _native.finder.list_children(self.package):
            if child.shadowed:
                out[f"{self.package}.{child.name}"] = list(child.shadowed)
        return out

    def add_directory(self, directory: "PathLike") -> "Mount":
        """Adds a directory after the existing ones (lower priority) and returns
        the updated Mount. "The existing ones" are those of the package's
        mount now (this object is a snapshot): under the lock, so that two
        threads adding directories never lose one."""
        with _lock:
            current = _mounts.get(self.package, self)
            return mount(self.package, *current.directories, directory,
                         pattern=current.pattern,
                         allow_external_symlinks=current.allow_external_symlinks,
                         atomic=current.atomic, replace=True, export=current.export)


def _absolute(directory: "PathLike") -> str:
    path = os.fsdecode(os.fspath(directory))
    if "\0" in path:
        raise ValueError("bridgeimport: a directory path cannot contain NUL")
    _check_utf8(path, "directory path", "rename the directory")
    return os.path.abspath(path)


def _check_utf8(text: str, what: str, remedy: str) -> None:
    """Mounts serve UTF-8 file names (the native finder's are bytes it
    decodes as UTF-8): a path or glob holding bytes that are not UTF-8 (lone
    surrogates after os.fsdecode) is refused here, naming it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"bridgeimport: the {what} {text!r} is not valid UTF-8 (it holds "
                         f"undecodable bytes); bridgeimport mounts UTF-8 names only: "
                         f"{remedy}") from None


def _push(table: "Dict[str, Mount]") -> None:
    _native.finder.set_mounts([_native.MountConfig(m.package, m.directories, m.pattern,
                                                   m.allow_external_symlinks, m.atomic)
                               for m in table.values()])


def _export() -> None:
    """Mirrors the exportable mounts into the environment children inherit,
    stamped with the BRIDGEIMPORT_PATH they were made under (a child whose
    BRIDGEIMPORT_PATH differs was configured on purpose and ignores it)."""
    value = encode_export(os.environ.get(ENV_PATH, ""), [m for m in _mounts.values() if m.export])
    if os.environ.get(ENV_EXPORT) != value:
        os.environ[ENV_EXPORT] = value


def env(*packages: str, relative_to: "Optional[PathLike]" = None) -> "Dict[str, str]":
    """The environment variables a worker process needs so that its start-up
    mounts what this process has mounted: every exported mount, or only
    ``packages``. Set them before the worker's interpreter starts (Ray's
    ``runtime_env["env_vars"]``, Spark's ``spark.executorEnv.*``, a job
    script); later is too late, start-up has run.

    ``{"BRIDGEIMPORT_PATH": ...}`` where that syntax can express the mounts,
    else ``{"BRIDGEIMPORT_PATH": "", "BRIDGEIMPORT_MOUNTS": ...}``. With
    ``relative_to=D`` the directories (all must be under D) are written
    relative to D, for a worker whose current directory at start-up is its
    copy of D (Ray's ``working_dir``, an archive Spark unpacks).
    ValueError if a package is not mounted or a directory is not under D.
    """
    found, missing = for_export(packages)
    if missing:
        raise ValueError(f"bridgeimport: env(): {missing[0]!r} is not mounted")
    chosen: List[MountSpec] = list(found)
    if relative_to is not None:
        chosen = [_relative(m, _absolute(relative_to)) for m in chosen]
    try:
        return {ENV_PATH: encode_path(chosen)}
    except ValueError:  # options or characters only the export format can carry
        return {ENV_PATH: "", ENV_EXPORT: encode_export("", chosen)}


def for_export(packages: "Tuple[str, ...]") -> "Tuple[List[Mount], List[str]]":
    """(mounts, names not mounted): what another process is to mount, for
    env() and bridgeimport.dask: the mounts of ``packages``, or, when none
    is named, every exported mount. TypeError for a name that is not a str."""
    with _lock:
        missing = [p for p in packages if check_package_type(p) not in _mounts]
        return [m for m in _mounts.values()
                if (m.package in packages if packages else m.export)], missing


def walk(package: str) -> "Iterator[Tuple[str, _native.Child]]":
    """(parent package, child) for every module and subpackage the finder
    serves under ``package``, parents before their children. Lists
    directories; executes nothing."""
    stack = [package]
    while stack:
        parent = stack.pop()
        for child in _native.finder.list_children(parent):
            yield parent, child
            if child.is_package:
                stack.append(f"{parent}.{child.name}")


def _relative(spec: MountSpec, base: str) -> MountSpec:
    dirs = []
    for d in spec.directories:
        rel = os.path.relpath(d, base)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise ValueError(f"bridgeimport: env(): directory {d!r} of {spec.package!r} "
                             f"is not under relative_to {base!r}")
        dirs.append(rel)
    return MountSpec(spec.package, dirs, spec.pattern, spec.allow_external_symlinks,
                     spec.atomic)


def mount(package: str, *directories: "PathLike", pattern: str = DEFAULT_PATTERN,
          allow_external_symlinks: bool = False, atomic: bool = False,
          replace: bool = False, export: bool = True) -> "Mount":
    """Serves ``package.<name>`` from ``<directory>/<name>.py`` files matching
    ``pattern`` (and subpackages: subdirectories holding ``__init__.py``).

    ``atomic=True`` makes every failed load of a module of this mount also
    remove the bridge modules first loaded during it (see :func:`load`).
    ``allow_external_symlinks=True`` follows symlinks whose targets leave the
    mount's directories (refused by default). ``export=False`` keeps the
    mount out of ``BRIDGEIMPORT_MOUNTS``, the environment variable through
    which child processes (``multiprocessing`` spawn/forkserver, subprocesses
    of this interpreter) mount what this process has mounted.

    Installs the finder if needed. Mounting the same configuration twice
    returns the existing Mount; a different one for a mounted package needs
    ``replace=True``. Raises FileNotFoundError / NotADirectoryError for bad
    directories and ValueError for a bad package name or glob; on error the
    previous mounts stay in force.
    """
    package = check_package(package)
    if not directories:
        raise ValueError(f"bridgeimport: mount({package!r}) needs at least one directory")
    if not isinstance(pattern, str):
        raise TypeError("bridgeimport: pattern must be a str glob such as '*.py'")
    _check_utf8(pattern, "pattern", "use a glob of UTF-8 characters")
    dirs = tuple(dict.fromkeys(_absolute(d) for d in directories))
    new = Mount(package, dirs, pattern, bool(allow_external_symlinks), bool(atomic),
                bool(export))
    with _lock:
        old = _mounts.get(package)
        if old is not None and old.config() == new.config() and old.export == new.export:
            install()
            return old
        if old is not None and not replace:
            raise ValueError(
                f"bridgeimport: {package!r} is already mounted as {old!r}; "
                "unmount it first or pass replace=True")
        table = dict(_mounts)
        table[package] = new
        _push(table)  # validates; raises before anything changes
        _mounts.clear()
        _mounts.update(table)
        _export()
        install()
    _warn_about_earlier_workers(package)
    return new


def _warn_about_earlier_workers(package: str) -> None:
    """Warns if child processes of multiprocessing (Process, Pool workers,
    ProcessPoolExecutor workers) are alive: started before this mount, they
    cannot see it, and a task touching the package kills a worker (a Pool
    then waits for its task forever; an executor breaks). Issue 16, part 3.
    multiprocessing is not imported for the check: without it there are no
    such children."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    try:
        alive = len(mp.active_children())
    except Exception:  # a half-initialised multiprocessing: nothing to say
        return
    if alive:
        import warnings

        warnings.warn(
            f"bridgeimport: mount({package!r}): {alive} multiprocessing child "
            f"process{'es' if alive > 1 else ''} (pool or executor workers) started "
            "before this mount will not see it, and a task that touches "
            f"{package!r} there fails; mount first, then start pools (dask: "
            "bridgeimport.dask.register(client) mounts on running workers)",
            _native.BridgeImportWarning, stacklevel=3)


def unmount(package: str) -> "Mount":
    """Stops serving new imports under ``package``. Modules already loaded stay
    loaded. Returns the removed Mount; raises ValueError if it is not mounted."""
    check_package_type(package)
    with _lock:
        if package not in _mounts:
            raise ValueError(f"bridgeimport: {package!r} is not mounted")
        table = dict(_mounts)
        removed = table.pop(package)
        _push(table)
        _mounts.pop(package)
        _export()
        _forget_placeholders()
        return removed


def mounts() -> "List[Mount]":
    """The active mounts, in the order they were made."""
    with _lock:
        return list(_mounts.values())


def find_mount(package: str) -> "Optional[Mount]":
    """The mount whose package is exactly ``package``, or None."""
    check_package_type(package)
    with _lock:
        return _mounts.get(package)


def install() -> None:
    """Puts the native finder at ``sys.meta_path[0]`` and the placeholder path
    hook at ``sys.path_hooks[0]``. Idempotent: never two copies.

    Also drops start-up's stand-in finder. That may happen while the import
    system iterates over sys.meta_path (the stand-in's first hit mounts, which
    installs): finders after the stand-in keep their index, so the iteration
    goes on unchanged."""
    with _lock:
        finder = _native.finder
        meta_path = sys.meta_path
        copies = sum(1 for f in meta_path if f is finder or is_stand_in(f))
        if copies != 1 or meta_path[0] is not finder:
            meta_path[:] = [finder] + [f for f in meta_path
                                       if f is not finder and not is_stand_in(f)]
        # The ignores: typeshed's sys.path_hooks wants importlib.abc.PathEntryFinder
        # subclasses; PlaceholderFinder has the protocol, not the import cost.
        if path_hook not in sys.path_hooks:  # type: ignore[comparison-overlap]
            sys.path_hooks.insert(0, path_hook)  # type: ignore[arg-type]
        register_abcs()


def uninstall() -> None:
    """Removes the finder and the path hook. Mounts are kept (an install()
    serves them again); loaded modules stay loaded. Idempotent."""
    with _lock:
        finder = _native.finder
        sys.meta_path[:] = [f for f in sys.meta_path
                            if f is not finder and not is_stand_in(f)]
        sys.path_hooks[:] = [h for h in sys.path_hooks
                             if h is not path_hook]  # type: ignore[comparison-overlap]  # as above
        _forget_placeholders()


def path_hook(entry: object) -> "PlaceholderFinder":
    """sys.path_hooks entry: claims only ``bridgeimport://`` placeholders (the
    ``__path__`` of a mount package that exists nowhere else), answered by a
    _pathhook.PlaceholderFinder."""
    if isinstance(entry, str) and entry.startswith(_native.PLACEHOLDER_SCHEME):
        from . import _pathhook

        return _pathhook.PlaceholderFinder(entry[len(_native.PLACEHOLDER_SCHEME):])
    raise ImportError("not a bridgeimport placeholder path entry")


def _forget_placeholders() -> None:
    """Drops placeholder finders from sys.path_importer_cache (none exist
    before _pathhook is imported)."""
    pathhook = sys.modules.get(__package__ + "._pathhook")
    if pathhook is not None:
        pathhook.forget_placeholders()


def installed() -> bool:
    """True if the finder is on sys.meta_path."""
    return any(f is _native.finder for f in sys.meta_path)


def register_abcs() -> None:
    """isinstance() with importlib.abc's protocols true for the native Finder
    and Loader, at no import cost: see _abcs (on activation and on every
    install(), the ABC modules already imported are registered with; the
    native finder catches the later imports)."""
    if "importlib.abc" in sys.modules or "importlib._abc" in sys.modules:
        from . import _abcs
        _abcs.register_imported()


def mount_declared(specs: "Iterable[MountSpec]") -> None:
    """Mounts what start-up declared (_startup.take_pending()); a spec that
    cannot be mounted warns, naming where it was declared, and is skipped."""
    for spec in specs:
        try:
            mount(spec.package, *spec.directories, pattern=spec.pattern,
                  allow_external_symlinks=spec.allow_external_symlinks, atomic=spec.atomic)
        except Exception as exc:  # warn and skip that one
            warn(f"cannot mount {spec.package!r}: {reason(exc)}", spec.origin)
