"""Command line: ``python -m bridgeimport <command>``.

Commands: ``demo`` (the walk-through of ``make demo``), ``list`` (mounts and
the modules they serve) and ``bench`` (the benchmarks against stock importlib).
Exit codes: 0 success, 1 a check failed, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import _demo

    return _demo.run(args.examples)


def _cmd_list(args: argparse.Namespace) -> int:
    import bridgeimport as bi

    from . import _startup

    entries, errors = _startup.parse(";".join(args.mount or []))
    for message in errors:
        print(f"bridgeimport list: {message}", file=sys.stderr)
    if errors:
        return 2
    for entry in entries:
        try:
            bi.mount(entry.package, *entry.directories, pattern=entry.pattern)
        except (OSError, ValueError) as exc:
            print(f"bridgeimport list: {exc}", file=sys.stderr)
            return 2
    found = bi.mounts()
    if not found:
        print("no mounts (set BRIDGEIMPORT_PATH or pass --mount package=dir[:dir][#glob])")
        return 0
    for m in found:
        print(f"{m.package}  pattern={m.pattern}")
        for d in m.directories:
            print(f"  dir {d}")
        shadowed = m.shadowed()
        for name in m.modules():
            state = "loaded" if name in sys.modules else "not loaded"
            print(f"  {name}  ({state})")
            for hidden in shadowed.get(name, []):
                print(f"    shadowed: {hidden}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridgeimport",
                                     description="bridgeimport: one file, one module object.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    demo = sub.add_parser("demo", help="walk through the examples, checking each claim")
    demo.add_argument("--examples", help="examples directory (default: the packaged copy)")
    demo.set_defaults(func=_cmd_demo)
    lister = sub.add_parser("list", help="show mounts and the modules they serve")
    lister.add_argument("--mount", action="append", metavar="PKG=DIR[:DIR][#GLOB]",
                        help="mount before listing (repeatable)")
    lister.set_defaults(func=_cmd_list)
    bench = sub.add_parser("bench", help="measure against stock importlib (ratio table)",
                           add_help=False)
    bench.set_defaults(func=None)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["bench"]:
        from . import _bench

        return _bench.main(argv[1:])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
