"""What ``python -m bridgeimport list`` shows: mounts, the modules they serve
(every level, packages included), whether each is loaded, shadowed files."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List


def _state(name: str, file: str) -> Dict[str, Any]:
    module = sys.modules.get(name)
    if module is None:
        return {"state": "not loaded", "loaded_from": None}
    loaded_from = getattr(getattr(module, "__spec__", None), "origin", None)
    if not isinstance(loaded_from, str):
        loaded_from = getattr(module, "__file__", None)
    same = isinstance(loaded_from, str) and (
        loaded_from == file or os.path.realpath(loaded_from) == os.path.realpath(file))
    return {"state": "loaded" if same else "loaded from elsewhere",
            "loaded_from": loaded_from}


def listing() -> Dict[str, Any]:
    """``{"mounts": [{"package", "directories", "pattern", "atomic",
    "modules": [{"name", "file", "package", "state", "loaded_from",
    "shadowed"}]}]}``; ``state`` is "loaded", "not loaded" or "loaded from
    elsewhere" (the name is in sys.modules from another file). Lists
    directories; executes nothing."""
    from .. import _mounts, _native

    out: List[Dict[str, Any]] = []
    for m in _mounts.mounts():
        modules: List[Dict[str, Any]] = []
        stack = [m.package]
        while stack:
            package = stack.pop()
            for child in _native.finder.list_children(package):
                full = f"{package}.{child.name}"
                modules.append({"name": full, "file": child.file, "package": child.is_package,
                                **_state(full, child.file), "shadowed": list(child.shadowed)})
                if child.is_package:
                    stack.append(full)
        modules.sort(key=lambda e: e["name"])  # type: ignore[no-any-return]  # a str
        out.append({"package": m.package, "directories": list(m.directories),
                    "pattern": m.pattern, "atomic": m.atomic, "modules": modules})
    return {"mounts": out}


def format_listing(data: Dict[str, Any]) -> str:
    if not data["mounts"]:
        return "no mounts (set BRIDGEIMPORT_PATH or pass --mount package=dir[:dir][#glob])"
    lines = []
    for m in data["mounts"]:
        lines.append(f"{m['package']}  pattern={m['pattern']}"
                     + ("  atomic" if m["atomic"] else ""))
        lines.extend(f"  dir {d}" for d in m["directories"])
        for e in m["modules"]:
            state = e["state"]
            if state == "loaded from elsewhere":
                state += f": {e['loaded_from']}"
            lines.append(f"  {e['name']}  ({state})")
            lines.extend(f"    shadowed: {hidden}" for hidden in e["shadowed"])
    return "\n".join(lines)
