"""dask.distributed workers mount what the client mounts: a worker plugin.

    import bridgeimport as bi
    import bridgeimport.dask
    from distributed import Client

    bi.mount("plugins", "/srv/app/plugins")
    client = Client("tcp://scheduler:8786")
    bridgeimport.dask.register(client)      # every current and future worker
    client.submit(plugins.shapes.Square, 2).result()

A worker's start-up cannot see a mount made in the client after the worker
started, and dask's ``Environ`` plugin sets variables too late for start-up
(issue 16). The plugin mounts on the worker itself, in ``setup(worker)``,
which the scheduler runs on every worker connected now and on every worker
that joins later (a restarted one too). The scheduler needs the mounts as
well: it unpickles the task graph, and a task naming a bridge class or
function fails there without them. :func:`register` registers a scheduler
plugin with the same mounts first.

Two ways to get the files there:

* ``ship=True`` (the default): the client reads the source of every module
  its mounts serve (the files the finder would load, shadowing resolved) and
  the plugin carries their bytes. A worker writes them once per machine into
  its scratch directory, under a name that is the sha256 of the whole set
  (the *version*), renamed into place when complete and never written again;
  it mounts that directory. So a worker never mixes two versions of one
  module, and a changed file is a new version.
* ``ship=False``: the workers mount the client's directories by path (a
  shared filesystem); the plugin carries only the paths.

Registering again replaces the plugin (one plugin name): the worker mounts
the new set, and modules it loaded from a version that changed are retired
in a :func:`bridgeimport.transaction` (objects made from them keep working;
the next import runs the new code). Data files next to the modules are not
shipped: read them through a path every worker sees, or ship them yourself.

A worker that cannot mount (a directory it cannot read with ``ship=False``)
fails its setup: ``register`` raises for the workers connected now, and a
worker joining later logs the error; on such a worker, importing the package
raises :class:`bridgeimport.BridgeNotFoundError` saying why, instead of a
bare "No module named".

Imported only when used: ``import bridgeimport`` never imports dask.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Dict, List, Optional, Sequence, Set, Tuple

# The ignore: mypy runs without dask installed (make lint uses Debian's mypy).
from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin  # type: ignore[import]

import bridgeimport as bi

from . import _mounts

__all__ = ["BridgeMounts", "register"]

PLUGIN_NAME = "bridgeimport"


@dataclass(frozen=True)
class _MountPlan:
    """One client mount as a worker gets it: its options, and either its
    directories (by path) or the files it serves with their version."""

    package: str
    pattern: str
    allow_external_symlinks: bool
    atomic: bool
    directories: Tuple[str, ...] = ()           # by path
    files: Tuple[Tuple[str, bytes], ...] = ()   # shipped: (relative path, bytes)
    version: str = ""                           # shipped: sha256 of ``files``
    client: Tuple[str, int] = ("", 0)           # (host, pid) of the process it describes

    @property
    def key(self) -> str:
        """What the worker has loaded modules of: a version, or the paths."""
        return self.version if self.version else "path:" + os.pathsep.join(self.directories)


def register(client: object, *packages: str, ship: bool = True) -> "BridgeMounts":
    """Mounts the client's mounts (every exported mount, or only
    ``packages``) on ``client``'s scheduler and on every current and future
    worker, replacing an earlier registration; returns the worker plugin.
    Raises what the scheduler's or a connected worker's setup raised (the
    plugin stays registered for the workers that succeed)."""
    plugin = BridgeMounts(*packages, ship=ship)
    client.register_plugin(_SchedulerMounts(plugin.plans))  # type: ignore[attr-defined]
    client.register_plugin(plugin)  # type: ignore[attr-defined]
    return plugin


class BridgeMounts(WorkerPlugin):  # type: ignore[misc]  # WorkerPlugin is Any to mypy
    """The worker plugin: mounts the client's mounts on a worker (see the
    module docstring). ``versions`` maps each package to the sha256 of its
    shipped files (``ship=True``) or to ``"path:"`` and its directories."""

    name = PLUGIN_NAME

    def __init__(self, *packages: str, ship: bool = True) -> None:
        chosen, missing = _mounts.for_export(packages)
        if missing:
            raise ValueError(f"bridgeimport.dask: not mounted here: {', '.join(sorted(missing))}")
        self.plans = [_ship(m) if ship else _by_path(m) for m in chosen]

    @property
    def versions(self) -> Dict[str, str]:
        return {plan.package: plan.key for plan in self.plans}

    def setup(self, worker: object) -> None:
        _state.apply(self.plans, _store(worker), _worker_name(worker))

    def teardown(self, worker: object) -> None:
        _state.release(_worker_name(worker))


class _SchedulerMounts(SchedulerPlugin):  # type: ignore[misc]  # as above
    """The same mounts on the scheduler, which unpickles task graphs. A
    scheduler replaces a plugin of the same name without closing it: the
    new one's ``start`` unmounts what the old one mounted and this lacks."""

    name = PLUGIN_NAME

    def __init__(self, plans: Sequence[_MountPlan]) -> None:
        self.plans = list(plans)

    def start(self, scheduler: object) -> None:
        _state.apply(self.plans, _store(scheduler), "the scheduler")

    async def close(self) -> None:
        _state.release("the scheduler")


# -- the client side: what a plan carries ---------------------------------------

def _here() -> Tuple[str, int]:
    return (socket.gethostname(), os.getpid())


def _by_path(mount: bi.Mount) -> _MountPlan:
    return _MountPlan(mount.package, mount.pattern, mount.allow_external_symlinks,
                      mount.atomic, directories=mount.directories, client=_here())


def _ship(mount: bi.Mount) -> _MountPlan:
    files = sorted(_served_files(mount.package))
    digest = hashlib.sha256()
    for relative, data in files:
        digest.update(f"{len(relative)}:{relative}:{len(data)}:".encode("utf-8") + data)
    return _MountPlan(mount.package, mount.pattern, mount.allow_external_symlinks,
                      mount.atomic, files=tuple(files), version=digest.hexdigest(),
                      client=_here())


def _served_files(package: str) -> List[Tuple[str, bytes]]:
    """(path relative to a mount directory, bytes) of every file the finder
    serves under ``package``: the winner of each name, so the one directory
    the worker gets serves what the client's directories serve together."""
    out = []
    for parent, child in _mounts.walk(package):
        below = parent[len(package) + 1:]
        prefix = below.replace(".", "/") + "/" if below else ""
        if child.is_package:
            relative = f"{prefix}{child.name}/{os.path.basename(child.file)}"
        else:
            relative = prefix + child.name + os.path.splitext(child.file)[1]
        try:
            with open(child.file, "rb") as fh:
                out.append((relative, fh.read()))
        except OSError as exc:
            raise OSError(f"bridgeimport.dask: cannot ship {parent}.{child.name}: "
                          f"{child.file!r} cannot be read ({exc.strerror or exc})") from exc
    return out


# -- the worker side -------------------------------------------------------------

def _worker_name(worker: object) -> str:
    return f"worker {getattr(worker, 'address', None) or id(worker)}"


def _store(worker: object) -> str:
    """Where shipped versions go: beside the worker's own directory (the
    machine's dask scratch space, shared by its workers), else inside it."""
    own = str(getattr(worker, "local_directory", "") or tempfile.gettempdir())
    for root in (os.path.join(os.path.dirname(own), "bridgeimport"),
                 os.path.join(own, "bridgeimport")):
        try:
            os.makedirs(root, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK | os.X_OK):
            return root
    raise OSError(f"bridgeimport.dask: no writable directory for shipped bridge files "
                  f"near {own!r}")


def _materialize(plan: _MountPlan, store: str) -> str:
    """The directory holding ``plan``'s files, written once: into a temporary
    directory first, renamed to its version's name when complete."""
    final = os.path.join(store, f"{plan.package}-{plan.version[:32]}")
    if os.path.isdir(final):
        return final
    incoming = tempfile.mkdtemp(prefix=".incoming-", dir=store)
    try:
        for relative, data in plan.files:
            parts = relative.split("/")
            if relative.startswith("/") or ".." in parts or "" in parts:
                raise ValueError(f"bridgeimport.dask: refusing shipped path {relative!r}")
            path = os.path.join(incoming, *parts)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        os.chmod(incoming, 0o755)  # mkdtemp's 0700 would keep other users' workers out
        try:
            os.rename(incoming, final)
        except OSError:
            if not os.path.isdir(final):  # not another worker of this machine winning
                raise
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return final


class _WorkerState:
    """This process's mounts made by the plugin. Several workers may share a
    process (``LocalCluster(processes=False)``): a package is mounted while
    any of them has set it up, and the mount it replaced is put back when
    the last one tears down."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: Dict[str, Set[str]] = {}                  # package -> worker names
        self.replaced: Dict[str, Optional[bi.Mount]] = {}
        self.loaded_key: Dict[str, str] = {}            # package -> plan key last mounted
        self.unavailable = _Unavailable()

    def apply(self, plans: Sequence[_MountPlan], store: str, worker: str) -> None:
        with self.lock:
            problems: List[Tuple[str, str, Exception]] = []
            for plan in plans:
                try:
                    if not self._mount(plan, store):
                        continue
                except Exception as exc:  # report each package, keep the others
                    why = (f"{worker} could not mount it: {type(exc).__name__}: {exc}; " +
                           ("the shipped files could not be written there" if plan.version else
                            "register with ship=True, or make the directories readable "
                            "on every worker"))
                    problems.append((plan.package, why, exc))
                    self.unavailable.explain(plan.package, why)
                    continue
                self.unavailable.forget(plan.package)
                self.users.setdefault(plan.package, set()).add(worker)
            wanted = {plan.package for plan in plans}
            for package in [p for p, names in self.users.items()
                            if worker in names and p not in wanted]:
                self._drop(package, worker)  # no longer in the registration
        if problems:
            package, why, cause = problems[0]
            raise bi.BridgeImportError(f"bridgeimport.dask: cannot mount {package!r}: "
                                       f"{why}") from cause

    def _mount(self, plan: _MountPlan, store: str) -> bool:
        """Mounts ``plan``; False if this process is the client itself (a
        LocalCluster(processes=False), a notebook): it has the mount
        already, and its modules must stay the ones the client holds."""
        if plan.client == _here():
            return False
        directories = (_materialize(plan, store),) if plan.version else plan.directories
        if plan.package not in self.replaced:
            self.replaced[plan.package] = bi.find_mount(plan.package)
        previous = self.loaded_key.get(plan.package)
        mode = "all" if previous != plan.key else "changed"
        with bi.transaction(plan.package, mode=mode):
            bi.mount(plan.package, *directories, pattern=plan.pattern,
                     allow_external_symlinks=plan.allow_external_symlinks,
                     atomic=plan.atomic, replace=True)
        self.loaded_key[plan.package] = plan.key
        return True

    def release(self, worker: str) -> None:
        with self.lock:
            for package in [p for p, names in self.users.items() if worker in names]:
                self._drop(package, worker)

    def _drop(self, package: str, worker: str) -> None:
        names = self.users[package]
        names.discard(worker)
        if names:
            return
        del self.users[package]
        before = self.replaced.pop(package, None)
        if before is None:
            if bi.find_mount(package) is not None:
                bi.unmount(package)
        else:
            bi.mount(package, *before.directories, pattern=before.pattern,
                     allow_external_symlinks=before.allow_external_symlinks,
                     atomic=before.atomic, replace=True, export=before.export)


class _Unavailable:
    """A last finder on sys.meta_path, there only while a package could not be
    mounted on this worker: importing it then says why, rather than the bare
    "No module named" of a missing package."""

    def __init__(self) -> None:
        self.reasons: Dict[str, str] = {}

    def explain(self, package: str, why: str) -> None:
        self.reasons[package] = why
        if self not in sys.meta_path:
            sys.meta_path.append(self)

    def forget(self, package: str) -> None:
        self.reasons.pop(package, None)
        if not self.reasons and self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        for package, why in list(self.reasons.items()):
            if name == package or name.startswith(package + "."):
                raise bi.BridgeNotFoundError(f"bridgeimport.dask: no module named {name!r}: "
                                             f"{package!r} is not mounted because {why}",
                                             name=name)
        return None

    def invalidate_caches(self) -> None:
        pass


_state = _WorkerState()
