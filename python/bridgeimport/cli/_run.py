"""Running a program the way ``python script.py`` / ``python -m module`` do.

Used by ``python -m bridgeimport run`` and ``doctor``. Unlike
``runpy.run_path``/``run_module`` the program gets a fresh ``__main__`` module
that stays in ``sys.modules`` after it returns (as in a real interpreter: atexit
handlers, threads and pickles still find it), which is also what lets
``doctor`` see a ``__main__`` that duplicates a module imported by name.

What the program sees:
  * script: ``sys.argv = [script, *args]``, ``sys.path[0]`` = the script's
    directory (unless ``-P``/``PYTHONSAFEPATH``), ``__file__`` absolute,
    ``__spec__ = None``, ``__loader__`` a SourceFileLoader; a directory or zip
    file with ``__main__.py`` runs that (through runpy, as Python does).
  * ``-m module``: ``sys.argv = [<module's file>, *args]``, ``sys.path[0]`` is
    the current directory (as for ``python -m``); a package runs its
    ``__main__`` submodule; ``__spec__``, ``__loader__``, ``__package__``,
    ``__file__`` and ``__cached__`` come from the module's spec, so a bridge
    module runs through bridgeimport's loader.
"""

from __future__ import annotations

import builtins
import os
import sys
import types
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec


class CannotStart(Exception):
    """The program could not be started (no such file or module, ...)."""


def split_argv(argv: Sequence[str], takes_value: Iterable[str]) -> Tuple[List[str], List[str]]:
    """Splits ``[own options..., program...]`` where the program is
    ``script [args]``, ``-m module [args]`` or ``-- script [args]``; the
    options are left for argparse. Returns (own, program)."""
    takes_value = set(takes_value)
    own: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return own, list(argv[i + 1:])
        if arg == "-m":
            return own, list(argv[i:])
        if arg.startswith("-m") and not arg.startswith("--"):
            return own, ["-m", arg[2:], *argv[i + 1:]]
        if arg in takes_value:
            own.extend(argv[i:i + 2])
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            own.append(arg)
            i += 1
            continue
        return own, list(argv[i:])
    return own, []


def _new_main(**attrs: object) -> types.ModuleType:
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=builtins, **attrs)
    sys.modules["__main__"] = main
    return main


def _trimmed(exc: BaseException) -> Optional[types.TracebackType]:
    """The traceback without this module's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _module_details(name: str) -> Tuple[ModuleSpec, types.CodeType]:
    import importlib.util

    if name.startswith("."):
        raise CannotStart("relative module names are not supported")
    saved_main = sys.modules.pop("__main__") if name == "__main__" else None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        msg = f"error while finding module specification for {name!r} ({type(exc).__name__}: {exc})"
        if name.endswith(".py"):
            msg += f". Try using {name[:-3]!r} instead of {name!r} as the module name"
        raise CannotStart(msg) from exc
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
    if spec is None:
        raise CannotStart(f"no module named {name}")
    if spec.submodule_search_locations is not None:
        if name == "__main__" or name.endswith(".__main__"):
            raise CannotStart("cannot use package as __main__ module")
        try:
            return _module_details(name + ".__main__")
        except CannotStart as exc:
            # As runpy: the original error stays the context, not the cause.
            raise CannotStart(  # noqa: B904
                f"{exc}; {name!r} is a package and cannot be directly executed")
    if spec.loader is None:
        raise CannotStart(f"{name!r} is a namespace package and cannot be executed")
    if name in sys.modules:
        import warnings

        warnings.warn(f"{name!r} found in sys.modules after import of its package, but prior "
                      "to execution as '__main__'; this may result in unpredictable behaviour",
                      RuntimeWarning, stacklevel=2)
    try:
        # As runpy's: the loader of a module that runs is an InspectLoader.
        code = spec.loader.get_code(name)  # type: ignore[attr-defined]
    except ImportError as exc:
        raise CannotStart(str(exc)) from exc
    if code is None:
        raise CannotStart(f"no code object available for {name}")
    return spec, code


def prepare(program: Sequence[str]) -> Union[Tuple[types.CodeType, types.ModuleType],
                                             Tuple[None, Callable[[], None]]]:
    """Sets up sys.argv, sys.path and a fresh ``__main__`` for ``program``
    (``[script, *args]`` or ``["-m", module, *args]``) and returns
    ``(code, main_module)``, or ``(None, runner)`` for a directory/zip
    script. Raises CannotStart."""
    if not program:
        raise CannotStart("no program given: pass a script or -m module")
    if program[0] == "-m":
        if len(program) < 2:
            raise CannotStart("-m needs a module name")
        sys.argv = ["-m", *program[2:]]  # what runpy shows while finding
        spec, code = _module_details(program[1])
        # The ignore: with has_location, origin is the file (a str).
        sys.argv[0] = spec.origin if spec.has_location else program[1]  # type: ignore[assignment]
        attrs = dict(__name__="__main__", __spec__=spec, __loader__=spec.loader,
                     __package__=spec.parent, __doc__=None)
        if spec.has_location:
            attrs.update(__file__=spec.origin, __cached__=spec.cached)
        return code, _new_main(**attrs)
    script = program[0]
    path = os.path.abspath(script)
    if not os.path.exists(path):
        raise CannotStart(f"can't open file {path!r}: [Errno 2] No such file or directory")
    sys.argv = list(program)
    if os.path.isdir(path) or (not path.endswith((".py", ".pyw")) and _is_zip(path)):
        import runpy

        def runner() -> None:
            runpy.run_path(path, run_name="__main__")
        return None, runner
    if not getattr(sys.flags, "safe_path", False):
        directory = os.path.dirname(os.path.realpath(path))
        if sys.path:
            sys.path[0] = directory
        else:
            sys.path.insert(0, directory)
    import importlib.machinery
    import io

    try:
        with io.open_code(path) as fh:
            source = fh.read()
    except OSError as exc:
        raise CannotStart(f"can't open file {path!r}: {exc}") from exc
    code = compile(source, path, "exec", dont_inherit=True)
    loader = importlib.machinery.SourceFileLoader("__main__", path)
    return code, _new_main(__name__="__main__", __spec__=None, __loader__=loader,
                           __package__=None, __file__=path, __cached__=None, __doc__=None)


def _is_zip(path: str) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def execute(program: Sequence[str]) -> Tuple[int, Optional[BaseException]]:
    """Runs ``program`` as the main program. Returns (exit status, the
    uncaught exception or None): 0, the SystemExit code, or 1 after printing
    an uncaught exception through sys.excepthook, as the interpreter would.
    Raises CannotStart before any of the program's code ran;
    KeyboardInterrupt propagates. A program that does not compile gets its
    SyntaxError printed without a traceback, as ``python script.py`` prints it."""
    try:
        code, main = prepare(program)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc.with_traceback(None), None)
        return 1, exc
    try:
        if code is None:
            main()  # type: ignore[operator]  # no code: prepare() returned the runner
        else:
            exec(code, main.__dict__)
    except SystemExit as exc:
        return exit_status(exc), None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        tb = _trimmed(exc)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        return 1, exc
    return 0, None


def exit_status(exc: SystemExit) -> int:
    """The process status Python gives a SystemExit (a non-int code is
    printed to stderr and gives 1)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1
