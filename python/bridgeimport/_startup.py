"""Interpreter start-up registration (run from ``bridgeimport.pth``).

The ``.pth`` line only imports this module when ``BRIDGEIMPORT_PATH`` is set
and ``BRIDGEIMPORT_DISABLE`` is not, so an interpreter without configuration
pays for one environment lookup and nothing else.

``BRIDGEIMPORT_PATH`` holds ``;``-separated entries ``package=dir[:dir...]``
with an optional ``#glob`` suffix, e.g.
``plugins=/srv/plugins;mlpy.stdlib=/opt/mlpy/stdlib:/opt/ext#*_bridge.py``.
A bad entry is reported once on stderr and skipped; nothing here ever stops
the interpreter from starting.
"""

from __future__ import annotations

import os
import sys
from typing import List, NamedTuple, Tuple

ENV_PATH = "BRIDGEIMPORT_PATH"
ENV_DISABLE = "BRIDGEIMPORT_DISABLE"

# site.py may process the same site-packages directory twice (Debian's venvs
# with system site packages do), running the .pth line twice: act once.
_ran = False


class Entry(NamedTuple):
    package: str
    directories: Tuple[str, ...]
    pattern: str


def parse(value: str) -> Tuple[List[Entry], List[str]]:
    """Splits a BRIDGEIMPORT_PATH value into entries and error messages."""
    entries: List[Entry] = []
    errors: List[str] = []
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
        directories = tuple(d.strip() for d in dirs_text.split(os.pathsep) if d.strip())
        if not directories:
            errors.append(f"entry {text!r} names no directory")
            continue
        entries.append(Entry(package, directories, pattern.strip() or "*.py"))
    return entries, errors


def _warn(message: str) -> None:
    try:
        sys.stderr.write(f"bridgeimport: {message} (from {ENV_PATH}; ignored)\n")
    except Exception:  # no usable stderr: stay silent rather than fail start-up
        pass


def _reason(exc: BaseException) -> str:
    text = str(exc)
    while text.startswith("bridgeimport: "):
        text = text[len("bridgeimport: "):]
    return text


def run() -> None:
    """Mounts what BRIDGEIMPORT_PATH declares, once per process. Never raises."""
    global _ran
    if _ran:
        return
    _ran = True
    try:
        value = os.environ.get(ENV_PATH, "")
        if not value or os.environ.get(ENV_DISABLE, "") not in ("", "0"):
            return
        entries, errors = parse(value)
        for message in errors:
            _warn(message)
        if not entries:
            return
        import bridgeimport

        for entry in entries:
            try:
                bridgeimport.mount(entry.package, *entry.directories, pattern=entry.pattern)
            except Exception as exc:
                _warn(f"cannot mount {entry.package!r}: {_reason(exc)}")
    except Exception as exc:  # pragma: no cover - last line of defence
        _warn(f"start-up registration failed: {exc!r}")
