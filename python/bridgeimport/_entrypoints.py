"""Start-up's cold path: plugin entry points, read and resolved.

Entry points
    A distribution declares a mount in its metadata::

        [project.entry-points."bridgeimport.mounts"]
        myplug = "myplug_pkg.bridges"              # package 'myplug', *.py
        "mlpy.stdlib#*_bridge.py" = "myplug_pkg:bridge_dirs"

    The name is the package to mount, with an optional ``#glob`` (default
    ``*.py``). The value is either a package (no colon), whose directory, or
    all of its directories for a namespace package, is the mount; it is
    located with importlib.util.find_spec and not executed (its parent packages
    are imported, as find_spec does). Or ``module:attr``: the module is imported
    and ``attr`` (dotted) is a path or a list of paths, relative ones taken
    from the module's directory. A BRIDGEIMPORT_PATH entry for the same package
    wins; several distributions declaring one package add their directories
    in the order the scan finds them.

Reading the metadata
    importlib.metadata costs milliseconds to import and to read every
    distribution, too much for every interpreter start. _startup reads a
    cache file instead (~/.cache/bridgeimport/, or $XDG_CACHE_HOME): the
    answer for the current list of site directories, valid while their mtimes
    (installing, upgrading or removing a distribution adds or removes a
    ``*.dist-info`` entry, which changes its directory's mtime) and those of the
    entry_points.txt files that declared mounts are unchanged. On a mismatch
    :func:`scan_and_cache` reads every ``*.dist-info``/``*.egg-info``
    entry_points.txt of those directories (first distribution of a name wins,
    as in importlib.metadata) and rewrites the file, unless a directory changed
    in the last two seconds (an install may still be running within the same
    mtime tick: then the next start scans again). Without a writable home,
    every start scans (about 0.5 ms for 40 distributions here).
"""

import os
import time

from ._config import DEFAULT_PATTERN, GROUP, MountSpec, mtime_ns, reason, warn

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time (start-up's cold path)
    from typing import Dict, Iterable, List, Optional, Sequence, Tuple

    from ._config import CacheSlot, EntryPoint, Stamps

SLOTS = 8                   # site-directory lists remembered per environment
RACY_NS = 2_000_000_000     # a directory changed this recently may change again unseen


def group_lines(data: bytes) -> "List[Tuple[str, str]]":
    """(name, value) pairs of the bridgeimport.mounts section of an
    entry_points.txt (INI-like, read as importlib.metadata reads it)."""
    pairs = []
    inside = False
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            inside = line[1:-1].strip() == GROUP
        elif inside:
            name, sep, value = line.partition("=")
            if sep and name.strip():
                pairs.append((name.strip(), value.strip()))
    return pairs


def scan(dirs: "Iterable[str]") -> "Tuple[Tuple[EntryPoint, ...], Stamps]":
    """(records, stamps): records (dist, name, value) of our group in the
    distributions under ``dirs``; stamps (file, mtime) of the
    entry_points.txt files that had any."""
    records: List[EntryPoint] = []
    stamps: List[Tuple[str, int]] = []
    seen = set()
    marker = ("[" + GROUP + "]").encode()
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                stem = name[:-10]
            elif name.endswith(".egg-info"):
                stem = name[:-9]
            else:
                continue
            dist = stem.partition("-")[0]
            norm = dist.lower().replace("-", "_").replace(".", "_")
            if norm in seen:
                continue
            seen.add(norm)
            path = os.path.join(d, name, "entry_points.txt")
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if marker not in data:
                continue
            pairs = group_lines(data)
            if pairs:
                stamps.append((path, mtime_ns(path)))
                records.extend((dist, n, v) for n, v in pairs)
    return tuple(records), tuple(stamps)


def scan_and_cache(dirs: "Iterable[str]", key: "Stamps", path: "Optional[str]",
                   slots: "Sequence[CacheSlot]", fmt: int) -> "List[EntryPoint]":
    """Scans ``dirs`` and stores the answer under ``key`` in the cache file
    ``path`` of format ``fmt`` (keeping up to SLOTS-1 other ``slots``).
    Returns the records."""
    import marshal

    records, stamps = scan(dirs)
    newest = max([m for _, m in key] + [m for _, m in stamps] + [-1])
    if path is not None and newest < time.time_ns() - RACY_NS:
        kept = [s for s in slots if s[0] != key][:SLOTS - 1]
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(marshal.dumps((fmt,
                                       tuple([(key, stamps, records)] + kept))))
            os.replace(tmp, path)
        except OSError:  # read-only home, full disk: scan again next time
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return list(records)


def directories(value: str) -> "List[str]":
    """The directories an entry-point value names (see the module docstring)."""
    import importlib
    import importlib.util

    module, sep, attr = (part.strip() for part in value.partition(":"))
    if not sep:
        spec = importlib.util.find_spec(module)
        if spec is None:
            raise ImportError(f"no module named {module!r}")
        if not spec.submodule_search_locations:
            raise ValueError(f"{module!r} is a module, not a package: name a package whose "
                             "directory holds the bridges, or module:attribute")
        return list(spec.submodule_search_locations)
    mod = importlib.import_module(module)
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part)
    items = [obj] if isinstance(obj, (str, bytes, os.PathLike)) else list(obj)
    base = os.path.dirname(os.path.abspath(getattr(mod, "__file__", None) or "."))
    return [os.path.join(base, os.fsdecode(os.fspath(p))) for p in items]


def resolve(entries: "Sequence[MountSpec]", eps: "Iterable[EntryPoint]") -> "List[MountSpec]":
    """MountSpecs to mount, in order: ``entries`` (BRIDGEIMPORT_PATH's or the
    export's), then those of the entry points ``eps`` ((dist, name, value)),
    merged per package."""
    out = list(entries)
    taken = {e.package for e in entries}
    merged: Dict[str, MountSpec] = {}
    for dist, name, value in eps:
        package, _, pattern = name.partition("#")
        package = package.strip()
        pattern = pattern.strip() or DEFAULT_PATTERN
        origin = f"entry point {name} = {value} of {dist}"
        if package in taken:
            continue
        try:
            dirs = directories(value)
        except Exception as exc:
            warn(f"cannot mount {package!r}: {type(exc).__name__}: {reason(exc)}", origin)
            continue
        entry = merged.get(package)
        if entry is None:
            merged[package] = entry = MountSpec(package, dirs, pattern, origin=origin)
            out.append(entry)
        elif entry.pattern != pattern:
            warn(f"{package!r} is already declared with pattern {entry.pattern!r} by "
                  f"{entry.origin}", origin)
        else:
            entry.directories += tuple(d for d in dirs if d not in entry.directories)
    return out
