"""Configuration: the names, the mount specification and the rules every layer shares.

The bottom layer of the package (docs/design.md section 10): it imports
only ``os`` and ``sys``, which site.py has already imported, because start-up
reads it on every interpreter start. It holds each rule once:

* the environment variables and the entry-point group;
* :class:`MountSpec`, one mount as declared (start-up, the export, entry
  points) and the base of the public :class:`bridgeimport.Mount`;
* what a package name is (:func:`is_package_name`, :func:`check_package`);
* the ``BRIDGEIMPORT_PATH`` syntax (:func:`parse_path` and its inverse
  :func:`encode_path`) and the ``BRIDGEIMPORT_MOUNTS`` export format
  (:func:`encode_export` and :func:`decode_export`);
* how bad configuration is reported (:func:`warn`: once, on stderr, never
  raising) and how start-up's stand-in finder is recognised
  (:func:`is_stand_in`).
"""

import os
import stat
import sys

ENV_PATH = "BRIDGEIMPORT_PATH"
ENV_DISABLE = "BRIDGEIMPORT_DISABLE"
ENV_EXPORT = "BRIDGEIMPORT_MOUNTS"
GROUP = "bridgeimport.mounts"
DEFAULT_PATTERN = "*.py"

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up reads this module
    from typing import Dict, Iterable, List, Optional, Tuple  # noqa: F401  (Dict: a type comment)

    # Start-up's entry-point records and their cache file (_startup, _entrypoints).
    EntryPoint = Tuple[str, str, str]               # (dist, name, value)
    Stamps = Tuple[Tuple[str, int], ...]            # ((path, mtime_ns), ...)
    # One cache slot: (site directories' stamps, entry_points.txt stamps, records).
    CacheSlot = Tuple[Stamps, Stamps, Tuple[EntryPoint, ...]]


class MountSpec:
    """One mount as declared: a package prefix, its directories in priority
    order, the glob its modules match, and its options. ``origin`` says where
    the declaration came from (for warnings)."""

    __slots__ = ("package", "directories", "pattern", "allow_external_symlinks", "atomic",
                 "origin")

    def __init__(self, package: str, directories: "Iterable[str]",
                 pattern: str = DEFAULT_PATTERN, allow_external_symlinks: bool = False,
                 atomic: bool = False, origin: str = ENV_PATH) -> None:
        self.package = package
        self.directories = tuple(directories)
        self.pattern = pattern
        self.allow_external_symlinks = allow_external_symlinks
        self.atomic = atomic
        self.origin = origin

    def config(self) -> "Tuple[str, Tuple[str, ...], str, bool, bool]":
        """What the native finder serves: (package, directories, pattern,
        allow_external_symlinks, atomic); two specs serving alike compare equal."""
        return (self.package, self.directories, self.pattern, self.allow_external_symlinks,
                self.atomic)

    def __repr__(self) -> str:
        return f"MountSpec{self.config()!r}"


def is_package_name(name: object) -> bool:
    """True for a dotted sequence of identifiers, like 'plugins' or 'mlpy.stdlib'."""
    return isinstance(name, str) and bool(name) and all(p.isidentifier()
                                                        for p in name.split("."))


def check_package_type(package: object) -> str:
    """``package`` if it is a str; TypeError naming its type if not."""
    if not isinstance(package, str):
        raise TypeError(f"bridgeimport: package must be a str, not {type(package).__name__}")
    return package


def check_package(package: object) -> str:
    """``package`` if it is a package name; TypeError or ValueError saying why not."""
    name = check_package_type(package)
    if not is_package_name(name):
        raise ValueError(
            f"bridgeimport: cannot mount {name!r}: a package name is a dotted "
            "sequence of identifiers, like 'plugins' or 'mlpy.stdlib'")
    return name


def parse_path(value: str) -> "Tuple[List[MountSpec], List[str]]":
    """Splits a BRIDGEIMPORT_PATH value (``;``-separated
    ``package=dir[:dir...][#glob]``) into ([MountSpec], [error message]).
    A relative directory is made absolute against the current directory now,
    at start-up, so a later ``chdir`` (Ray's ``working_dir``, Spark's
    ``--archives``) does not move it (issue 16)."""
    specs = []
    errors = []
    for raw in value.split(";"):
        text = raw.strip()
        if not text:
            continue
        package, sep, rest = text.partition("=")
        package = package.strip()
        if not sep or not package or not rest.strip():
            errors.append(f"entry {text!r} is not of the form package=dir[:dir...][#glob]")
            continue
        dirs_text, _, pattern = rest.partition("#")
        directories = tuple(os.path.abspath(d.strip())
                            for d in dirs_text.split(os.pathsep) if d.strip())
        if not directories:
            errors.append(f"entry {text!r} names no directory")
            continue
        specs.append(MountSpec(package, directories, pattern.strip() or DEFAULT_PATTERN))
    return specs, errors


# What parse_path cannot read back inside a directory or a glob.
_PATH_SEPARATORS = (";", os.pathsep, "#")


def encode_path(specs: "Iterable[MountSpec]") -> str:
    """The BRIDGEIMPORT_PATH value that declares ``specs`` (the inverse of
    :func:`parse_path`); ValueError naming the first thing its syntax cannot
    say: the atomic and allow_external_symlinks options, a directory holding
    ``;``, ``:`` or ``#``, a glob holding ``;``, surrounding spaces."""
    entries = []
    for spec in specs:
        what = f"the mount of {spec.package!r}"
        if spec.atomic or spec.allow_external_symlinks:
            raise ValueError(f"{what} has options (atomic, allow_external_symlinks) "
                             "that BRIDGEIMPORT_PATH cannot express")
        for d in spec.directories:
            if any(c in d for c in _PATH_SEPARATORS) or d != d.strip() or not d:
                raise ValueError(f"{what}: directory {d!r} cannot be written in "
                                 "BRIDGEIMPORT_PATH (it holds ';', ':', '#' or "
                                 "surrounding spaces)")
        if ";" in spec.pattern or spec.pattern != spec.pattern.strip() or not spec.pattern:
            raise ValueError(f"{what}: glob {spec.pattern!r} cannot be written in "
                             "BRIDGEIMPORT_PATH")
        glob = "" if spec.pattern == DEFAULT_PATTERN else "#" + spec.pattern
        entries.append(f"{spec.package}={os.pathsep.join(spec.directories)}{glob}")
    return ";".join(entries)


def check_spec(spec: MountSpec) -> "Optional[str]":
    """Why ``spec`` cannot be mounted, as far as that is known without the
    extension (package name, directories), or None."""
    if not is_package_name(spec.package):
        return (f"cannot mount {spec.package!r}: a package name is a dotted sequence "
                "of identifiers")
    for d in spec.directories:
        try:
            st = os.stat(d)
        except PermissionError:  # a parent cannot be entered: it may well exist
            return (f"cannot mount {spec.package!r}: directory {d!r} cannot be reached "
                    "(permission denied); check the x permission of each of its parent "
                    "directories")
        except (FileNotFoundError, NotADirectoryError):
            return f"cannot mount {spec.package!r}: directory {d!r} does not exist"
        except (OSError, ValueError) as exc:
            return f"cannot mount {spec.package!r}: directory {d!r} cannot be examined ({exc})"
        if not stat.S_ISDIR(st.st_mode):
            return f"cannot mount {spec.package!r}: directory {d!r} is not a directory"
    return None


# The export to child processes, written by _mounts on every change, read by
# the children's start-up:
#   BRIDGEIMPORT_MOUNTS = "1;" PATH *(";" package "," flags "," pattern *("," dir))
# PATH being the BRIDGEIMPORT_PATH value the table was written against; every
# field is %-escaped for "%", ";" and ",", so any path round-trips; flags "a"
# atomic, "s" allow_external_symlinks.

def _quote(text: str) -> str:
    return text.replace("%", "%25").replace(";", "%3B").replace(",", "%2C")


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    head, *rest = text.split("%")
    return head + "".join(chr(int(part[:2], 16)) + part[2:] for part in rest)


def encode_export(path_value: str, specs: "Iterable[MountSpec]") -> str:
    """The BRIDGEIMPORT_MOUNTS value for ``specs``, written against the
    BRIDGEIMPORT_PATH value ``path_value``."""
    parts = ["1", _quote(path_value)]
    for spec in specs:
        flags = ("a" if spec.atomic else "") + ("s" if spec.allow_external_symlinks else "")
        parts.append(",".join([_quote(spec.package), flags, _quote(spec.pattern)]
                              + [_quote(d) for d in spec.directories]))
    return ";".join(parts)


def decode_export(value: str) -> "Tuple[str, List[MountSpec]]":
    """(BRIDGEIMPORT_PATH written against, [MountSpec]) from a
    BRIDGEIMPORT_MOUNTS value (see encode_export); ValueError if malformed.
    Relative directories (``bi.env(relative_to=...)`` writes them) are made
    absolute now, at start-up, as in :func:`parse_path`."""
    fields = value.split(";")
    if len(fields) < 2 or fields[0] != "1":
        raise ValueError("unknown format")
    specs = []
    for field in fields[2:]:
        items = [_unquote(x) for x in field.split(",")]
        if len(items) < 4 or not set(items[1]) <= {"a", "s"}:
            raise ValueError(f"bad entry {field!r}")
        specs.append(MountSpec(items[0], [os.path.abspath(d) for d in items[3:]], items[2],
                               "s" in items[1], "a" in items[1], origin=ENV_EXPORT))
    return _unquote(fields[1]), specs


_warned = {}  # type: Dict[str, object]


def warn(message: str, origin: str = ENV_PATH) -> None:
    """One line on stderr per distinct message; never raises. The first
    thread to store the line writes it (dict.setdefault is one atomic step,
    also without the GIL)."""
    line = f"bridgeimport: {message} (from {origin}; ignored)\n"
    token = object()
    if _warned.setdefault(line, token) is token:
        try:
            sys.stderr.write(line)
        except Exception:  # no usable stderr: stay silent rather than fail start-up
            pass


def reason(exc: BaseException) -> str:
    """An exception's text without bridgeimport's own "bridgeimport: " prefix
    (the warning adds one)."""
    text = str(exc)
    while text.startswith("bridgeimport: "):
        text = text[len("bridgeimport: "):]
    return text


def mtime_ns(path: str) -> int:
    """``path``'s st_mtime_ns, or -1 if it cannot be stat'ed."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


# Start-up's stand-in finder (_startup.StandInFinder) sets this class
# attribute; _mounts.install() drops such finders when it installs the native
# one, without importing _startup.
STAND_IN_MARK = "_bridgeimport_stand_in"


def is_stand_in(finder: object) -> bool:
    return getattr(type(finder), STAND_IN_MARK, False) is True
