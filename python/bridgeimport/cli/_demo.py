"""``python -m bridgeimport demo``: a short walk-through on the examples.

Copies the example trees to a temporary directory, mounts them and shows, with
real imports, what bridgeimport guarantees. Every claim printed is also
checked; the demo exits non-zero if one does not hold.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import bridgeimport as bi

_failures = []


def _say(text: str = "") -> None:
    print(text, flush=True)


def _check(claim: str, ok: bool) -> None:
    _say(f"   [{'ok' if ok else 'FAILED'}] {claim}")
    if not ok:
        _failures.append(claim)


def _examples_dir(explicit: Optional[str]) -> Path:
    candidates = [Path(explicit)] if explicit else [
        Path(__file__).resolve().parent.parent / "_examples",  # bridgeimport/_examples (setup.py)
        Path.cwd() / "examples",
    ]
    for c in candidates:
        if (c / "plugins").is_dir():
            return c
    raise SystemExit("bridgeimport demo: no examples found "
                     f"(looked in {', '.join(map(str, candidates))})")


def _identity(tree: Path) -> None:
    _say("1. One file, one module object")
    bi.mount("demo_plugins", tree / "plugins")
    _say(f"   bi.mount('demo_plugins', '{tree / 'plugins'}')")
    # The demo's packages exist only once mounted: mypy finds none of them
    # (the type: ignore[import] comments below).
    import demo_plugins.csv_reader as plain  # type: ignore[import]  # served by the native finder

    loaded = bi.load("demo_plugins.csv_reader")
    via_importlib = importlib.import_module("demo_plugins.csv_reader")
    _say(f"   import demo_plugins.csv_reader -> {plain!r}")
    _say(f"   loader: {type(plain.__loader__).__module__}.{type(plain.__loader__).__name__}")
    _check("bi.load() returns the object the plain import returned", loaded is plain)
    _check("importlib.import_module() returns it too", via_importlib is plain)
    shapes = plain.read("triangle,3\nsquare,4")
    Shape = bi.load("demo_plugins.shapes").Shape
    _say(f"   csv_reader.read(...) -> {shapes}")
    _check("isinstance() holds across import styles", isinstance(shapes[0], Shape))

    path = tree / "plugins" / "shapes.py"
    spec = importlib.util.spec_from_file_location("shapes_by_hand", path)
    # The ignores: a .py file always gets a spec with a loader.
    by_hand = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(by_hand)  # type: ignore[union-attr]
    _say("   the same file loaded by hand (spec_from_file_location + exec_module):")
    _check("...is a second module object", by_hand is not sys.modules["demo_plugins.shapes"])
    _check("...whose class fails isinstance() (the bug bridgeimport removes)",
           not isinstance(shapes[0], by_hand.Shape))


def _failing_module() -> None:
    _say("\n2. A bridge that fails while loading is rolled back")
    before = set(sys.modules)
    try:
        import demo_plugins.broken  # type: ignore[import]  # noqa: F401
    except RuntimeError as exc:
        _say(f"   import demo_plugins.broken -> RuntimeError: {exc}")
        for note in getattr(exc, "__notes__", []):
            _say(f"   note: {note}")
    _check("'demo_plugins.broken' is not left in sys.modules",
           "demo_plugins.broken" not in sys.modules)
    _check("nothing else was added to sys.modules", set(sys.modules) - before == set())


def _failing_package(tree: Path, scratch: Path) -> None:
    _say("\n3. A package whose __init__ imports a child, then raises")
    stock_root = scratch / "stock"
    shutil.copytree(tree / "failing_pkg", stock_root / "failing_pkg")
    sys.path.insert(0, str(stock_root))
    try:
        try:
            import failing_pkg  # type: ignore[import]  # noqa: F401
        except ImportError:
            pass
        orphan = "failing_pkg.child" in sys.modules
        _say(f"   stock import system: 'failing_pkg.child' left in sys.modules: {orphan}")
    finally:
        sys.path.remove(str(stock_root))
        for name in [n for n in sys.modules if n == "failing_pkg" or n.startswith("failing_pkg.")]:
            del sys.modules[name]
    bi.mount("demo_pkgs", tree)
    try:
        import demo_pkgs.failing_pkg  # type: ignore[import]  # noqa: F401
    except ImportError as exc:
        _say(f"   bridgeimport: ImportError: {exc}")
        for note in getattr(exc, "__notes__", []):
            _say(f"   note: {note}")
    _check("bridgeimport leaves neither the package nor its child behind",
           not any(n.startswith("demo_pkgs.failing_pkg") for n in sys.modules))


def _stdlib(tree: Path) -> None:
    _say("\n4. A runtime's standard library of *_bridge.py files")
    m = bi.mount("demo_mlpy.stdlib", tree / "stdlib", pattern="*_bridge.py")
    _say(f"   {m!r}")
    _say(f"   modules served: {', '.join(m.modules())}")
    import demo_mlpy.stdlib.math_bridge as math_bridge  # type: ignore[import]
    import demo_mlpy.stdlib.text.strings_bridge as strings_bridge  # type: ignore[import]

    _say(f"   math_bridge.hypot(3, 4) = {math_bridge.hypot(3, 4)}; "
         f"strings_bridge.shout('hi') = {strings_bridge.shout('hi')!r}")
    _check("a package is provided for the mount prefix", "demo_mlpy" in sys.modules)
    listed = sorted(name for _, name, _ in
                    pkgutil.iter_modules(sys.modules["demo_mlpy.stdlib"].__path__))
    _say(f"   pkgutil.iter_modules(demo_mlpy.stdlib.__path__) -> {listed}")
    _check("pkgutil lists the bridges and the subpackage",
           listed == ["datetime_bridge", "math_bridge", "text"])
    try:
        importlib.import_module("demo_mlpy.stdlib.helper")
        served = True
    except ModuleNotFoundError:
        served = False
    _check("helper.py (excluded by the glob) cannot be imported through the mount", not served)


def run(examples: Optional[str] = None) -> int:
    source = _examples_dir(examples)
    with tempfile.TemporaryDirectory(prefix="bridgeimport-demo-") as scratch_dir:
        scratch = Path(scratch_dir)
        tree = scratch / "examples"
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__"))
        _say(f"bridgeimport {bi.__version__} demo (Python {sys.version.split()[0]}), "
             f"examples copied to {tree}\n")
        _identity(tree)
        _failing_module()
        _failing_package(tree, scratch)
        _stdlib(tree)
        for package in ("demo_plugins", "demo_pkgs", "demo_mlpy.stdlib"):
            bi.unmount(package)
    _say()
    if _failures:
        _say(f"{len(_failures)} claim(s) did NOT hold: {_failures}")
        return 1
    _say("All claims held.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run(os.environ.get("BRIDGEIMPORT_EXAMPLES")))
