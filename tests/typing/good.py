"""A user's program over bridgeimport's public API, as documented: ``mypy
--strict`` must accept it (tests/python/test_typing.py). Type-checked only,
never run. The annotations say what each call gives back."""

import warnings
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator, List, Optional, Tuple

import bridgeimport as bi


def mounts(directory: Path) -> None:
    m: bi.Mount = bi.mount("plugins", directory, str(directory / "more"), pattern="*.py",
                           atomic=True, export=False)
    package: str = m.package
    directories: Tuple[str, ...] = m.directories
    pattern: str = m.pattern
    options: Tuple[bool, bool, bool] = (m.allow_external_symlinks, m.atomic, m.export)
    names: List[str] = m.modules()
    shadowed: Dict[str, List[str]] = m.shadowed()
    m = m.add_directory(directory / "extra")
    found: Optional[bi.Mount] = bi.find_mount("plugins")
    every: List[bi.Mount] = bi.mounts()
    active: bool = bi.installed()
    bi.install()
    removed: bi.Mount = bi.unmount("plugins")
    bi.uninstall()
    print(package, directories, pattern, options, names, shadowed, found, every, active, removed)


def modules() -> None:
    module: ModuleType = bi.load("plugins.csv_reader")
    same: ModuleType = bi.load("plugins.csv_reader", atomic=True)
    again: ModuleType = bi.reload(module)
    by_name: ModuleType = bi.reload("plugins.csv_reader")
    uses: List[str] = bi.dependencies("plugins.csv_reader") + bi.dependents("plugins.shapes")
    is_bridge: bool = isinstance(module.__loader__, bi.Loader)
    try:
        bi.load("plugins.missing")
    except bi.BridgeNotFoundError as exc:
        missing: Optional[str] = exc.name
        print(missing)
    except (bi.InvalidModuleNameError, bi.BridgeImportError):
        pass
    warnings.simplefilter("error", bi.BridgeCollisionWarning)
    warnings.simplefilter("ignore", bi.BridgeImportWarning)
    print(same, again, by_name, uses, is_bridge)


def registry(directory: str) -> None:
    reg = bi.Registry("mlpy.stdlib", directory, pattern="*_bridge.py",
                      key=lambda stem: stem.upper())
    datetime: ModuleType = reg.get("datetime")
    same: ModuleType = reg["datetime"]
    fresh: ModuleType = reg.reload("datetime")
    keys: List[str] = reg.names()
    full: str = reg.module_name("datetime")
    present: bool = "datetime" in reg
    count: int = len(reg)
    each: Iterator[str] = iter(reg)
    changes: Dict[str, List[str]] = reg.refresh()
    stats: Dict[str, Dict[str, object]] = reg.stats()
    reg.add_directory(Path(directory) / "more")
    print(datetime, same, fresh, keys, full, present, count, each, changes, stats)


def transactions() -> None:
    with bi.transaction("app", "lib", mode="changed", keep_retired=2) as tx:
        import json  # stands for the application's own imports

        print(json)
    kind: bi.Transaction = tx
    retired: List[str] = tx.retired + tx.changed + tx.kept
    outcome: List[str] = tx.reloaded + tx.loaded + tx.failed
    timings: Dict[str, Optional[float]] = tx.timings
    error: Optional[BaseException] = tx.error
    seconds: Dict[str, float] = tx.seconds
    report: Dict[str, object] = tx.report()
    old: Dict[str, ModuleType] = tx.retired_modules
    by_hand = bi.transaction("app", mode="all").begin()
    state: str = by_hand.rollback().state
    print(kind, retired, outcome, timings, error, seconds, report, old, state)


def diagnostics() -> int:
    report = bi.doctor(bridge_only=True, check_pyc=False)
    for finding in report.findings:
        kind: str = finding.kind
        module: str = finding.module
        file: Optional[str] = finding.file
        message: str = finding.message
        print(kind, module, file, message, finding.details)
    as_json: Dict[str, object] = dict(report.to_dict())
    print(as_json, report.format(), len(report), report.of_kind("duplicate"))
    return 0 if report.ok else 1


version: str = bi.__version__
