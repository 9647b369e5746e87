"""``bridgeimport.doctor()``: what is wrong with the modules of this process.

Checks, each a kind of :class:`Finding`:

``duplicate``
    Two or more module objects in ``sys.modules`` executed from one source
    file (compared by real path): ``__main__`` versus the module's package
    name (``python -m pkg.mod`` and then ``import pkg.mod``), or a bridge
    file also loaded with ``importlib.util.spec_from_file_location``. The
    file's code ran twice and its classes and globals exist twice.
``name_mismatch``
    A ``sys.modules`` key that differs from the module's ``__spec__.name``
    (``__main__`` excepted, and aliases such as ``os.path`` whose object is
    also registered under its own name).
``changed_on_disk``
    A bridge module whose source file changed since it was loaded: size or
    ``mtime_ns`` differ from what the loader compiled; when only the mtime
    differs, the contents are compared with the bytes that were compiled
    (when the code came from a timestamp pyc those are not known, and the
    finding says so). Modules of other loaders keep no such record.
``half_executed``
    A module loaded by hand from outside ``sys.path`` (``spec_from_file_location``
    and ``exec_module``) whose execution stopped part-way: the names its
    source defines at top level are there up to one statement and missing
    from it on (unless its bytecode cache shows the file changed since it
    was compiled), and the module was left in
    ``sys.modules`` (stock importlib and bridgeimport remove a module whose
    execution fails; a hand-written loader often does not). Modules
    executing right now, ``__main__`` among them, are not checked.
``stale_pyc`` / ``corrupt_pyc``
    The ``__pycache__`` file of a source module (loaded, or served by a
    mount) does not match its source (timestamp pyc: mtime and size; hash pyc:
    the source hash; a foreign magic number), or cannot be read as a pyc at
    all (short header, invalid flags, a body that is not marshalled code).

The report is plain data: ``report.ok``, ``report.findings``,
``report.to_dict()`` (what ``python -m bridgeimport doctor --json`` prints)
and ``str(report)`` (the human-readable form).
"""

from __future__ import annotations

import os
import sys
from types import FrameType, ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

KINDS = ("duplicate", "name_mismatch", "half_executed", "changed_on_disk", "stale_pyc",
         "corrupt_pyc")


class Finding:
    """One problem: ``kind`` (one of KINDS), the ``module`` name it concerns,
    the ``file`` (or None), a one-sentence ``message`` and ``details``
    (a JSON-ready dict, different per kind)."""

    __slots__ = ("kind", "module", "file", "message", "details")

    def __init__(self, kind: str, module: str, file: Optional[str], message: str,
                 details: Optional[Dict[str, Any]] = None) -> None:
        self.kind = kind
        self.module = module
        self.file = file
        self.message = message
        self.details = details or {}

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "module": self.module, "file": self.file,
                "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"Finding({self.kind!r}, {self.module!r}, {self.message!r})"


class Report:
    """The result of :func:`doctor`. Iterating gives the findings; ``ok`` is
    True when there are none; ``checked`` counts what was looked at."""

    def __init__(self, findings: List[Finding], checked: Dict[str, int],
                 watches: Optional[List[Dict[str, Any]]] = None) -> None:
        self.findings = findings
        self.checked = checked
        # The status of each open bi.watch(): backend, pending, last failure.
        self.watches = watches or []

    @property
    def ok(self) -> bool:
        return not self.findings

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def of_kind(self, kind: str) -> List[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> Dict[str, Any]:
        return {"ok": self.ok, "findings": [f.to_dict() for f in self.findings],
                "checked": dict(self.checked), "watches": list(self.watches)}

    def format(self) -> str:
        checked = (f"checked {self.checked['modules']} modules, "
                   f"{self.checked['files']} source files, {self.checked['pycs']} pyc files")
        count = len(self.findings)
        lines = [f"bridgeimport doctor: no findings ({checked})" if self.ok else
                 f"bridgeimport doctor: {count} finding{'s' * (count != 1)} ({checked})"]
        for f in self.findings:
            lines.append(f"  [{f.kind}] {f.module}" + (f"  {f.file}" if f.file else ""))
            lines.append(f"      {f.message}")
        for w in self.watches:
            lines.append(f"  watch {', '.join(map(str, w.get('packages', [])))}: backend "
                         f"{w.get('backend')}, {w.get('pending', 0)} pending, last failure: "
                         f"{w.get('last_failure') or 'none'}")
        return "\n".join(lines)

    __str__ = format

    def __repr__(self) -> str:
        return f"<bridgeimport doctor Report: {len(self.findings)} findings>"


# -- helpers -----------------------------------------------------------------

# doctor()'s filter: is this module (real path of its file, or None) to be checked?
Relevant = Callable[[Optional[str], object], bool]


def _attr(obj: object, name: str) -> Any:
    """getattr that survives lazy modules and odd objects in sys.modules."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _source_file(module: object) -> Optional[str]:
    """The .py file a module was executed from, or None."""
    from importlib.machinery import SOURCE_SUFFIXES

    spec = _attr(module, "__spec__")
    origin = _attr(spec, "origin") if spec is not None and _attr(spec, "has_location") else None
    file = origin if isinstance(origin, str) else _attr(module, "__file__")
    if not isinstance(file, str) or not file.endswith(tuple(SOURCE_SUFFIXES)):
        return None
    return file


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _is_bridge(module: object) -> bool:
    from . import _native

    return isinstance(_attr(_attr(module, "__spec__"), "loader"), _native.Loader)


def _mounted_directories() -> List[str]:
    from . import _mounts

    return [_real(d) + os.sep for m in _mounts.mounts() for d in m.directories]


def _under(path: str, directories: List[str]) -> bool:
    return any(path.startswith(d) for d in directories)


def _mounted_files() -> Iterator[Tuple[str, str]]:
    """(module name, file) for every file the mounts serve."""
    from . import _mounts, _native

    for m in _mounts.mounts():
        stack = [m.package]
        while stack:
            package = stack.pop()
            for child in _native.finder.list_children(package):
                full = f"{package}.{child.name}"
                yield full, child.file
                if child.is_package:
                    stack.append(full)


def _describe_key(key: str, module: object) -> str:
    if key == "__main__":
        return "sys.modules['__main__'] (the main program)"
    loader = _attr(_attr(module, "__spec__"), "loader")
    how = "bridgeimport" if _is_bridge(module) else type(loader).__name__ if loader else "no loader"
    return f"sys.modules[{key!r}] ({how})"


# -- the checks ----------------------------------------------------------------

def _check_duplicates(entries: List[Tuple[str, ModuleType, str]],
                      relevant: Relevant) -> List[Finding]:
    by_file: Dict[str, Dict[int, List[str]]] = {}
    objects: Dict[int, object] = {}  # identity -> the first module object seen
    shown: Dict[str, str] = {}
    for key, module, file in entries:
        real = _real(file)
        # One spec object means one execution, even seen through a proxy
        # module (apipkg's AliasModule forwards __spec__ to the real one).
        spec = _attr(module, "__spec__")
        identity = id(spec) if spec is not None else id(module)
        by_file.setdefault(real, {}).setdefault(identity, []).append(key)
        objects.setdefault(identity, module)
        shown.setdefault(real, file)
    findings = []
    for real, groups in by_file.items():
        if len(groups) < 2:
            continue
        members = [(sorted(keys), objects[oid]) for oid, keys in groups.items()]
        if not any(relevant(real, module) for _keys, module in members):
            continue
        # The bridge module's own name first: that is the name to keep.
        members.sort(key=lambda m: ("__main__" in m[0], not _is_bridge(m[1]), m[0][0]))
        names = [k for keys, module in members for k in keys if k != "__main__"]
        name = names[0] if names else members[0][0][0]
        described = [" = ".join(_describe_key(k, module) for k in keys) for keys, module in members]
        main_too = any("__main__" in keys for keys, _m in members)
        hint = ("run it as a module with no second import under its package name, or "
                "move the code the program imports out of the main script"
                if main_too else
                "import it only through its package name (bridgeimport.load or a plain import)")
        findings.append(Finding(
            "duplicate", name, shown[real],
            f"{len(members)} module objects for one file: " + "; ".join(described) +
            f". Its code ran {len(members)} times and its classes and globals exist "
            f"{len(members)} times; {hint}.",
            {"objects": [{"keys": keys, "spec_name": _attr(_attr(module, "__spec__"), "name"),
                          "bridge": _is_bridge(module)} for keys, module in members]}))
    return findings


def _check_names(items: Sequence[Tuple[object, object]], relevant: Relevant) -> List[Finding]:
    findings = []
    for key, module in items:
        if key == "__main__" or not isinstance(key, str):
            continue
        spec = _attr(module, "__spec__")
        spec_name = _attr(spec, "name")
        if not isinstance(spec_name, str) or spec_name == key:
            continue
        under_own_name = sys.modules.get(spec_name)
        if under_own_name is module or (under_own_name is not None and
                                         _attr(under_own_name, "__spec__") is spec):
            continue  # an alias (os.path -> posixpath) or a proxy of the module itself
        file = _source_file(module)
        if not relevant(_real(file) if file else None, module):
            continue
        findings.append(Finding(
            "name_mismatch", key, file,
            f"sys.modules[{key!r}] holds a module whose __spec__.name is {spec_name!r}"
            f"{'' if spec_name in sys.modules else ' (not in sys.modules under that name)'}; "
            "pickling, relative imports and reload() use the spec name. Register it "
            "under its own name, or create it from a spec of that name.",
            {"key": key, "spec_name": spec_name}))
    return findings


def _top_level_names(source: bytes, file: str) -> List[str]:
    """The names a module's unconditional top-level statements bind (defs,
    classes, plain assignments, imports) and no top-level ``del`` removes."""
    import ast

    try:
        tree = ast.parse(source, file)
    except (SyntaxError, ValueError):
        return []
    bound: List[str] = []
    deleted: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.append(node.name)
        elif isinstance(node, ast.Assign):
            bound += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            bound += [node.target.id] if isinstance(node.target, ast.Name) else []
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound += [(a.asname or a.name).partition(".")[0] for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Delete):
            deleted.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return [n for n in dict.fromkeys(bound) if n not in deleted]


def _executing_namespaces() -> Set[int]:
    """ids of the globals of every module body running now, on any thread."""
    running = set()
    frame: Optional[FrameType]
    for frame in list(sys._current_frames().values()) + [sys._getframe()]:
        while frame is not None:
            if frame.f_code.co_name == "<module>":
                running.add(id(frame.f_globals))
            frame = frame.f_back
    return running


def _stopped_part_way(source: bytes, file: str, namespace: Dict[str, Any]) -> List[str]:
    """The top-level names of ``source`` from the first one ``namespace``
    lacks to the end, if it lacks all of those and has every one before:
    the shape a module body that raised at one statement leaves. [] else."""
    names = _top_level_names(source, file)
    first = next((i for i, n in enumerate(names) if n not in namespace), len(names))
    missing = names[first:]
    return missing if all(n not in namespace for n in missing) else []


def _compiled_from_other_source(module: object, file: str) -> bool:
    """True if the module's bytecode cache says the source changed since it
    was compiled (then the file on disk is not what ran)."""
    from . import _native

    cached = _attr(module, "__cached__")
    if not isinstance(cached, str):
        return False
    return _native.check_pyc(file, cached)[0] == "stale"


def _check_half_executed(entries: List[Tuple[str, ModuleType, str]],
                         relevant: Relevant) -> List[Finding]:
    """Hand-loaded modules (file outside every sys.path directory, not a
    bridge module) whose source binds top-level names they lack, from one
    statement on."""
    path_dirs = [_real(p or os.getcwd()) + os.sep for p in sys.path if isinstance(p, str)]
    running = _executing_namespaces()
    findings = []
    for key, module, file in entries:
        real = _real(file)
        if (key == "__main__" or _is_bridge(module) or _under(real, path_dirs)
                or id(_attr(module, "__dict__")) in running
                or _attr(_attr(module, "__spec__"), "_initializing")
                or not relevant(real, module)):
            continue
        try:
            with open(file, "rb") as fh:
                source = fh.read()
        except OSError:
            continue
        missing = _stopped_part_way(source, file, _attr(module, "__dict__") or {})
        if missing and not _compiled_from_other_source(module, file):
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            findings.append(Finding(
                "half_executed", key, file,
                f"sys.modules[{key!r}] lacks the last {len(missing)} name(s) its source "
                f"defines at top level ({shown}): its execution stopped part-way (or the "
                f"file gained them after it was loaded) and whatever loaded it left it in "
                f"sys.modules. Delete sys.modules[{key!r}] and load it again, or mount "
                "its directory so that a failed load rolls back.",
                {"missing": missing}))
    return findings


def _check_changed(entries: List[Tuple[str, ModuleType, str]]) -> List[Finding]:
    """Bridge modules whose file differs from what their last exec ran: the
    loader's own check (metadata, and the compiled bytes when the metadata
    cannot decide, so a same-second, same-size rewrite is found too)."""
    findings = []
    seen = set()
    for key, module, file in entries:
        loader = _attr(_attr(module, "__spec__"), "loader")
        if not _is_bridge(module) or id(loader) in seen:
            continue
        seen.add(id(loader))
        stamp = loader.source_stamp
        if stamp is None or not loader.source_changed():
            continue
        details: Dict[str, Any] = {"loaded": {"mtime_ns": stamp["mtime_ns"],
                                              "size": stamp["size"]}}
        try:
            st = os.stat(file)
        except OSError as exc:
            findings.append(Finding("changed_on_disk", key, file,
                                    f"the source file is gone since load ({exc.strerror})",
                                    details))
            continue
        details["now"] = {"mtime_ns": st.st_mtime_ns, "size": st.st_size}
        details["content_compared"] = stamp["has_bytes"]
        if st.st_size != stamp["size"]:
            what = f"its size changed from {stamp['size']} to {st.st_size} bytes"
        elif stamp["has_bytes"]:
            what = "its contents differ from the code that was loaded"
        else:
            what = ("its metadata changed (same size; the loaded code came from the "
                    "bytecode cache, so the old contents are not known)")
        findings.append(Finding(
            "changed_on_disk", key, file,
            f"the source changed since the module was loaded: {what}; "
            "bridgeimport.reload() it, or use bridgeimport.transaction(), to run the "
            "new code.", details))
    return findings


# _native.check_pyc's verdicts (the loader's own pyc validators, loader/
# pyc_policy.cc) -> the finding they give; "ok" and "racy" (a pyc the loader
# recompiles instead of trusting, which CPython would trust) give none.
_PYC_FINDINGS = {
    "stale": ("stale_pyc", "it is ignored and rewritten on the next import"),
    "corrupt": ("corrupt_pyc", "delete it (stock importlib fails on a corrupt body)"),
}


def _check_pyc(module_name: str, source: str) -> Tuple[List[Finding], int]:
    """Validates the cache file of one source file with the loader's rules.
    Returns (findings, number of pyc files checked)."""
    import importlib.util

    from . import _native

    try:
        pyc = importlib.util.cache_from_source(source)
    except (NotImplementedError, ValueError):
        return [], 0
    verdict, why, hash_based, check_source = _native.check_pyc(source, pyc)
    if verdict == "missing":
        return [], 0  # no cache file: nothing stale
    if verdict not in _PYC_FINDINGS:
        return [], 1
    kind, action = _PYC_FINDINGS[verdict]
    details: Dict[str, Any] = {"pyc": pyc}
    if hash_based is not None:
        details.update(hash_based=hash_based)
        if hash_based:
            details.update(check_source=check_source)
    return [Finding(kind, module_name, source, f"{pyc}: {why}; {action}.", details)], 1


def doctor(*, bridge_only: bool = False, check_pyc: bool = True) -> Report:
    """Inspects the modules of this process; returns a :class:`Report`.

    By default every module in ``sys.modules`` is checked (duplicates, key
    versus spec name, pyc files), plus the pyc files of every file a mount
    serves; ``bridge_only=True`` limits the checks to bridge modules and
    files inside mounted directories. ``check_pyc=False`` skips reading pyc
    files. Executes nothing and changes nothing.
    """
    items = list(sys.modules.items())
    mount_dirs = _mounted_directories()

    def relevant(real: Optional[str], module: object) -> bool:
        return (not bridge_only or _is_bridge(module)
                or (real is not None and _under(real, mount_dirs)))

    entries = []
    for key, module in items:
        file = _source_file(module)
        if file is not None:
            entries.append((key, module, file))
    findings = _check_duplicates(entries, relevant)
    findings += _check_names(items, relevant)
    findings += _check_half_executed(entries, relevant)
    findings += _check_changed(entries)
    pycs = 0
    files: Dict[str, Tuple[str, str]] = {}
    for key, module, file in entries:
        if key != "__main__" and relevant(_real(file), module):
            files.setdefault(_real(file), (key, file))
    for name, file in _mounted_files():
        files.setdefault(_real(file), (name, file))
    if check_pyc:
        for name, file in files.values():
            found, count = _check_pyc(name, file)
            findings += found
            pycs += count
    findings.sort(key=lambda f: (KINDS.index(f.kind), f.module))
    # Not imported for this: without it there are no watches.
    watching = sys.modules.get(__package__ + "._watching")
    watches = [w.status() for w in watching.active()] if watching is not None else []
    return Report(findings, {"modules": len(items), "files": len(files), "pycs": pycs}, watches)
