"""``python -m bridgeimport <command>``: argument parsing and the commands.

Exit codes (every command):
  0  success; for ``run``, the program's own exit status is passed through
  1  ``doctor`` found problems; ``demo``: a claim did not hold
  2  usage error: unknown command or option, a bad ``--mount``, a program
     that cannot be started (no such script or module)
  3  ``doctor`` found nothing, but the program it ran failed (uncaught
     exception or non-zero exit status)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Iterable, List, Optional, Sequence, Tuple

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_PROGRAM_FAILED = 3

_MOUNT_HELP = ("mount PKG from DIR (several: DIR:DIR, first wins) serving files matching "
               "GLOB (default *.py); repeatable; same syntax as a BRIDGEIMPORT_PATH entry")
_PROGRAM_EPILOG = ("The program is `script.py [args...]` or `-m module [args...]` (or "
                   "`-- script [args...]`); everything after it is the program's own sys.argv.")
_EXIT_EPILOG = ("exit codes: 0 ok (run: the program's status), 1 findings, 2 usage error or "
                "program not startable, 3 doctor: no findings but the program failed")


class _UsageError(Exception):
    pass


def _mount_all(specs: Optional[List[str]]) -> None:
    """Mounts every --mount entry; raises _UsageError naming the bad one."""
    import bridgeimport as bi

    from .._config import parse_path, reason

    for spec in specs or []:
        entries, errors = parse_path(spec)
        if errors:
            raise _UsageError(errors[0])
        for entry in entries:
            try:
                bi.mount(entry.package, *entry.directories, pattern=entry.pattern)
            except (OSError, ValueError, TypeError) as exc:
                raise _UsageError(reason(exc)) from None  # one "bridgeimport ..." prefix


def _enable_debug() -> None:
    """DEBUG lines of the bridgeimport logger to stderr, without touching the
    root logger (the program may configure logging its own way)."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bridgeimport: %(message)s"))
    logger = logging.getLogger("bridgeimport")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def _emit(text: str, output: Optional[str]) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        print(text)
        sys.stdout.flush()


# -- commands ------------------------------------------------------------------

def _cmd_demo(args: argparse.Namespace) -> int:
    from . import _demo

    return _demo.run(args.examples)


def _cmd_list(args: argparse.Namespace) -> int:
    from . import _listing

    _mount_all(args.mount)
    data = _listing.listing()
    print(json.dumps(data, indent=2) if args.json else _listing.format_listing(data))
    return EXIT_OK


def _cmd_env(args: argparse.Namespace) -> int:
    import shlex

    import bridgeimport as bi

    from .._config import reason

    _mount_all(args.mount)
    try:
        variables = bi.env(*args.packages, relative_to=args.relative_to)
    except (ValueError, TypeError) as exc:
        raise _UsageError(reason(exc)) from None
    if args.format == "json":
        print(json.dumps(variables, indent=2))
    else:
        for name, value in variables.items():
            print(f"export {name}={shlex.quote(value)}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from . import _run

    if not args.program:
        raise _UsageError("no program given: pass a script or -m module")
    _mount_all(args.mount)
    if args.debug:
        _enable_debug()
    try:
        status, _error = _run.execute(args.program)
    except _run.CannotStart as exc:
        print(f"bridgeimport run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return status


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .. import _doctor
    from . import _run

    _mount_all(args.mount)
    if args.debug:
        _enable_debug()
    program = None
    if args.program:
        try:
            status, error = _run.execute(args.program)
        except _run.CannotStart as exc:
            print(f"bridgeimport doctor: {exc}", file=sys.stderr)
            return EXIT_USAGE
        program = {"argv": list(args.program), "exit_status": status,
                   "error": f"{type(error).__name__}: {error}" if error else None}
    report = _doctor.doctor(bridge_only=args.bridge_only, check_pyc=not args.no_pyc)
    if args.json:
        _emit(json.dumps({**report.to_dict(), "program": program}, indent=2), args.output)
    else:
        text = report.format()
        if program is not None and program["exit_status"] != 0:
            text += f"\n(the program exited with status {program['exit_status']})"
        _emit(text, args.output)
    if not report.ok:
        return EXIT_FINDINGS
    if program is not None and program["exit_status"] != 0:
        return EXIT_PROGRAM_FAILED
    return EXIT_OK


# -- parsing -------------------------------------------------------------------

def _version() -> str:
    import platform

    from .. import __version__

    return (f"bridgeimport {__version__} ({platform.python_implementation()} "
            f"{platform.python_version()}{'t' if _free_threaded() else ''})")


def _free_threaded() -> bool:
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _add_mount_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mount", action="append", metavar="PKG=DIR[:DIR][#GLOB]",
                        help=_MOUNT_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridgeimport",
        description="bridgeimport: one file, one module object.", epilog=_EXIT_EPILOG)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="command")

    demo = sub.add_parser("demo", help="walk through the examples, checking each claim",
                          description="Walks through examples/, checking each claim "
                          "bridgeimport makes. Exit 0 if all held, 1 otherwise.")
    demo.add_argument("--examples", help="examples directory (default: the packaged copy)")
    demo.set_defaults(func=_cmd_demo)

    lister = sub.add_parser(
        "list", help="show mounts, their modules (loaded or not) and shadowed files",
        description="Shows every mount (from BRIDGEIMPORT_PATH, entry points and --mount), "
        "every module it serves, whether it is loaded, and files shadowed by a file of "
        "the same name in an earlier directory. Executes no bridge code.",
        epilog=_EXIT_EPILOG)
    _add_mount_option(lister)
    lister.add_argument("--json", action="store_true", help="print JSON (schema in README)")
    lister.set_defaults(func=_cmd_list)

    doctor = sub.add_parser(
        "doctor", help="find duplicate modules, name mismatches, changed sources, bad pycs",
        description="Inspects this process (after running the program, if one is given): "
        "duplicate module objects for one file (including __main__ versus the package "
        "name), sys.modules keys that differ from __spec__.name, bridge modules whose "
        "source changed since load, stale or corrupt pyc files. " + _PROGRAM_EPILOG,
        epilog=_EXIT_EPILOG)
    _add_mount_option(doctor)
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("-o", "--output", metavar="FILE",
                        help="write the report to FILE instead of stdout")
    doctor.add_argument("--bridge-only", action="store_true",
                        help="check only bridge modules and files in mounted directories")
    doctor.add_argument("--no-pyc", action="store_true", help="do not check pyc files")
    doctor.add_argument("--debug", action="store_true",
                        help="log bridgeimport's finds and loads to stderr")
    doctor.add_argument("program", nargs="*", help="script [args...] or -m module [args...]")
    doctor.set_defaults(func=_cmd_doctor)

    env = sub.add_parser(
        "env", help="print the environment variables a worker needs to mount the same",
        description="Prints the variables (bridgeimport.env()) that make a worker "
        "process's start-up mount what this process mounts (BRIDGEIMPORT_PATH, "
        "entry points, --mount): set them in the worker's environment before it starts.",
        epilog=_EXIT_EPILOG)
    env.add_argument("packages", nargs="*", metavar="PKG",
                     help="only these mounted packages (default: every exported mount)")
    _add_mount_option(env)
    env.add_argument("--relative-to", metavar="DIR",
                     help="write directories relative to DIR, the worker's current "
                     "directory at start-up (Ray's working_dir, an unpacked archive)")
    env.add_argument("--format", choices=("shell", "json"), default="shell",
                     help="shell: export lines (default); json: an object")
    env.set_defaults(func=_cmd_env)

    run = sub.add_parser(
        "run", help="run a script or -m module with mounts given on the command line",
        description="Mounts what --mount says, then runs the program as `python "
        "script.py`/`python -m module` would (sys.argv, sys.path[0], a __main__ module "
        "with the right __spec__). " + _PROGRAM_EPILOG,
        epilog="exit status: the program's own (0, its SystemExit code, 1 for an uncaught "
        "exception); 2 if it cannot be started or the options are wrong")
    _add_mount_option(run)
    run.add_argument("--debug", action="store_true",
                     help="log bridgeimport's finds and loads to stderr")
    run.add_argument("program", nargs="*", help="script [args...] or -m module [args...]")
    run.set_defaults(func=_cmd_run)

    sub.add_parser("bench", help="measure against stock importlib (ratio table)",
                   add_help=False)
    return parser


_TAKES_VALUE = {"run": {"--mount"}, "doctor": {"--mount", "-o", "--output"}}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from . import _bench

        return _bench.main(argv[1:])
    parser = build_parser()
    program: List[str] = []
    if argv[:1] and argv[0] in _TAKES_VALUE:
        own, program = _split(argv[1:], _TAKES_VALUE[argv[0]])
        argv = [argv[0], *own]
    args = parser.parse_args(argv)  # exits 2 on a usage error, 0 for --help
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command in _TAKES_VALUE:
        args.program = program
    if args.command in ("list", "doctor", "env"):
        # They read the mount table: mount what start-up declared first (a
        # public name would; these commands use the layers below the facade).
        import bridgeimport

        bridgeimport._activate()
    try:
        return args.func(args)  # type: ignore[no-any-return]  # a _cmd_* function: int
    except _UsageError as exc:
        print(f"bridgeimport {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _split(argv: List[str], takes_value: Iterable[str]) -> Tuple[List[str], List[str]]:
    from . import _run

    return _run.split_argv(argv, takes_value)
