"""``Registry``: a language runtime's standard library of bridge files.

A registry names the bridge modules of one mounted package by a short key
(``datetime`` for ``datetime_bridge.py``) and hands out exactly the objects a
plain import would: every load goes through :func:`bridgeimport.load`, so
``reg.get("datetime") is sys.modules["<package>.datetime_bridge"]``.

Discovery is lazy and executes nothing: names come from directory listings
(cached by the native finder). Collisions, where one key or module name is
claimed by two files, are reported with a BridgeCollisionWarning naming both.

A registry is shared by threads: its index and statistics change under its
own lock; loads go through the import system's module locks (never under the
registry's lock), and the mount it extends changes under _mounts' lock.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import warnings
from types import FrameType, ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

from . import _mounts, _native
from ._modules import load, reload


class BridgeCollisionWarning(_native.BridgeImportWarning):
    """Two bridge files claim the same registry key or module name; the
    warning names both and says which one is served."""


KeyFunction = Callable[[str], str]


def key_from_pattern(pattern: str) -> KeyFunction:
    """The default key function for a glob: ``*_bridge.py`` maps the stem
    ``datetime_bridge`` to ``datetime``; ``*.py`` keeps stems as they are."""
    match = re.fullmatch(r"\*([^*?\[\]]*)\.py", pattern)
    suffix = match.group(1) if match else ""

    def key(stem: str) -> str:
        if suffix and stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
        return stem

    return key


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel() -> int:
    """The warnings stacklevel of the first frame outside this package, so a
    warning points at the user's line whichever method led to it."""
    frame: Optional[FrameType] = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    return level


class Registry:
    """Bridge modules of ``package`` by key.

    ``Registry(package, *directories, pattern="*_bridge.py", key=None)``
    mounts ``directories`` under ``package`` (or extends/uses an existing
    mount of it with the same pattern); ``key`` maps a file stem to a key
    (default: the stem minus the glob's literal suffix).
    """

    def __init__(self, package: str, *directories: "_mounts.PathLike",
                 pattern: str = "*_bridge.py", key: Optional[KeyFunction] = None) -> None:
        self.package = package
        self.pattern = pattern
        self._key = key or key_from_pattern(pattern)
        self._lock = threading.RLock()
        self._index: Optional[Dict[str, Tuple[str, str]]] = None  # key -> (module, file)
        self._warned: Set[Tuple[str, ...]] = set()
        self._gets: Dict[str, int] = {}
        self._load_seconds: Dict[str, float] = {}
        with _mounts._lock:  # look and mount in one step: two registries may start at once
            existing = _mounts.find_mount(package)
            if existing is not None and existing.pattern != pattern:
                raise ValueError(
                    f"bridgeimport: {package!r} is mounted with pattern {existing.pattern!r}, "
                    f"not {pattern!r}; a Registry uses its mount's pattern")
            if directories:
                if existing is None:
                    _mounts.mount(package, *directories, pattern=pattern)
                else:
                    mount = existing
                    for d in directories:
                        if _mounts._absolute(d) not in mount.directories:
                            mount = mount.add_directory(d)
            elif existing is None:
                raise ValueError(f"bridgeimport: Registry({package!r}) needs directories, "
                                 "or a mount of that package made before")

    def __repr__(self) -> str:
        return f"Registry({self.package!r}, pattern={self.pattern!r}, {len(self)} names)"

    # -- discovery ---------------------------------------------------------

    def _scan(self) -> Dict[str, Tuple[str, str]]:
        index: Dict[str, Tuple[str, str]] = {}
        for child in _native.finder.list_children(self.package):
            stem, file = child.name, child.file
            module = f"{self.package}.{stem}"
            for hidden in child.shadowed:
                self._warn_once(("shadow", module, hidden),
                                f"bridgeimport registry {self.package!r}: {module!r} is served "
                                f"from {file!r}; {hidden!r} has the same name and is ignored")
            key = self._key(stem)
            if key in index:
                served_module, served_file = index[key]
                self._warn_once(("key", key, served_file, file),
                                f"bridgeimport registry {self.package!r}: key {key!r} is claimed "
                                f"by {served_file!r} ({served_module}) and {file!r} ({module}); "
                                f"{served_file!r} is served")
                continue
            index[key] = (module, file)
        if not index:
            self._warn_if_pattern_hides_files()
        return index

    def _warn_if_pattern_hides_files(self) -> None:
        """An empty registry over directories holding .py files its pattern
        does not match: the usual cause is the default pattern, which is
        ``*_bridge.py`` here and ``*.py`` for mount() (a plugin folder)."""
        mount = _mounts.find_mount(self.package)
        for directory in mount.directories if mount is not None else ():
            try:
                files = sorted(n for n in os.listdir(directory)
                               if n.endswith(".py") and not n.startswith("__"))
            except OSError:
                continue
            if files:
                self._warn_once(
                    ("pattern", directory),
                    f"bridgeimport registry {self.package!r} lists nothing: none of the "
                    f"{len(files)} .py files in {directory!r} (such as {files[0]!r}) is "
                    f"served under its pattern {self.pattern!r}, which either matches none "
                    "of them (pass pattern='*.py' to serve every module) or only files "
                    "whose names are not Python identifiers", _native.BridgeImportWarning)
                return

    def _warn_once(self, token: Tuple[str, ...], message: str,
                   category: type = BridgeCollisionWarning) -> None:
        if token not in self._warned:
            self._warned.add(token)
            warnings.warn(message, category, stacklevel=_caller_stacklevel())

    def _entries(self) -> Dict[str, Tuple[str, str]]:
        with self._lock:
            if self._index is None:
                self._index = self._scan()
            return self._index

    def names(self) -> List[str]:
        """The keys, sorted. Lists directories; executes nothing."""
        return sorted(self._entries())

    def module_name(self, key: str) -> str:
        """The full module name behind ``key``."""
        return self._lookup(key)[0]

    def _lookup(self, key: str) -> Tuple[str, str]:
        entries = self._entries()
        if key not in entries:
            with self._lock:  # the directories may have changed since the scan
                self._index = self._scan()
                entries = self._index
        try:
            return entries[key]
        except KeyError:
            raise KeyError(f"bridgeimport registry {self.package!r} has no {key!r}; "
                           f"names: {', '.join(sorted(entries)) or '(none)'}") from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._entries()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries())

    # -- loading -----------------------------------------------------------

    def get(self, key: str) -> ModuleType:
        """The bridge module behind ``key``: the same object a plain import of
        its module name returns (loaded through :func:`bridgeimport.load`)."""

        module_name = self.module_name(key)
        with self._lock:
            self._gets[key] = self._gets.get(key, 0) + 1
        if module_name in sys.modules:
            return load(module_name)
        started = time.perf_counter()
        module = load(module_name)
        with self._lock:
            self._load_seconds.setdefault(key, time.perf_counter() - started)
        return module

    __getitem__ = get

    def reload(self, key: str) -> ModuleType:
        """Re-executes ``key``'s newest source in the same module object
        (atomic: on failure the old namespace is restored)."""

        module_name = self.module_name(key)
        module = sys.modules.get(module_name)  # one look: another thread may remove it
        if module is None:
            return load(module_name)
        return reload(module)

    def refresh(self) -> Dict[str, List[str]]:
        """Rescans the directories (new, removed and shadowed files) and
        reloads every loaded module of the registry. Returns
        ``{"added": [...], "removed": [...], "reloaded": [...], "failed": [...]}``;
        a module whose reload fails keeps its previous contents."""
        with self._lock:
            before = set(self._entries())
            _native.finder.invalidate_caches()
            index = self._index = self._scan()
            after = set(index)
        reloaded, failed = [], []
        for key in sorted(after):
            module_name = index[key][0]  # this scan's, whatever another refresh did since
            if module_name in sys.modules:
                try:
                    self.reload(key)
                    reloaded.append(key)
                except Exception:
                    failed.append(key)
        return {"added": sorted(after - before), "removed": sorted(before - after),
                "reloaded": reloaded, "failed": failed}

    def add_directory(self, directory: "_mounts.PathLike") -> None:
        """Adds an extension directory after the existing ones; its files
        serve keys the earlier directories do not have (collisions warn)."""
        mount = _mounts.find_mount(self.package)
        if mount is None:
            raise ValueError(f"bridgeimport: {self.package!r} is no longer mounted")
        mount.add_directory(directory)
        with self._lock:
            self._index = self._scan()

    def stats(self) -> Dict[str, Dict[str, object]]:
        """Per key: module name, file, whether it is loaded, ``gets`` (calls to
        get), ``load_seconds`` (the first get that loaded it), and the
        loader's ``executions``/``failures``/``total_seconds``/
        ``last_seconds`` for that module however it was imported."""
        out: Dict[str, Dict[str, object]] = {}
        with self._lock:
            for key, (module_name, file) in sorted(self._entries().items()):
                executed = _native.execution_stats(module_name) or {
                    "executions": 0, "failures": 0, "total_seconds": 0.0, "last_seconds": 0.0}
                out[key] = {"module": module_name, "file": file,
                            "loaded": module_name in sys.modules,
                            "gets": self._gets.get(key, 0),
                            "load_seconds": self._load_seconds.get(key), **executed}
        return out
