"""Resource readers for bridge modules (``importlib.resources``).

``Loader.get_resource_reader(fullname)`` (native) calls :func:`reader`. What it
returns follows CPython's own loaders on each version:

* A module or package with a file: on 3.10+ ``importlib.readers.FileReader``,
  exactly what ``SourceFileLoader`` returns (``files()`` is the file's
  directory). On 3.9, where ``files()`` just uses ``spec.origin``'s directory
  and only the legacy functions (``read_text``, ``open_binary``, ``path``,
  ``contents``, ``is_resource``) ask the loader, a reader for packages with
  FileLoader's legacy methods, and None for plain modules (as FileLoader).
* A mount package provided by bridgeimport (no file; ``__path__`` is a
  ``bridgeimport://`` placeholder, which is no directory): its mount's
  directories, merged as for a namespace package. 3.10+: a ``NamespaceReader``
  whose ``files()`` is an ``importlib.readers.MultiplexedPath`` (a name found in
  several directories resolves to the first directory's file, like the
  modules; same-named subdirectories are merged). 3.9: legacy methods over the
  directories in order (``files()`` fails on 3.9 as it does for namespace
  packages: no origin).
* A package provided only as the parent of a deeper mount ("a" for a mount
  "a.b") has no directory: FileNotFoundError saying so.

Resources are data: the mount's glob limits which modules import, not which
files ``files()`` shows.
"""

from __future__ import annotations

import io
import os
import pathlib
from typing import Iterator, List, Optional, Sequence

# The type: ignores: mypy 1.0's typeshed has no importlib.readers (3.10+), so
# its names are Any here.
try:  # 3.10+
    from importlib.readers import (  # type: ignore[import]
        FileReader, MultiplexedPath, NamespaceReader)
except ImportError:  # 3.9
    FileReader = MultiplexedPath = NamespaceReader = None


def reader(loader: object, fullname: str, is_package: bool,
           directories: Sequence[str]) -> Optional[object]:
    """The resource reader for the bridge module ``fullname`` (see module doc).
    ``directories`` are those of a mount package (ignored for file loaders)."""
    path = getattr(loader, "path", None)
    if path is not None:
        if FileReader is not None:
            return FileReader(loader)  # type: ignore[no-any-return]
        return LegacyReader([os.path.dirname(path)]) if is_package else None
    existing = [d for d in directories if os.path.isdir(d)]
    if not existing:
        where = ("its mount's directories are gone: " + ", ".join(directories)
                 if directories else
                 "it exists only as the parent of a deeper mount and has no directory")
        raise FileNotFoundError(
            f"bridgeimport: package {fullname!r} has no resources: {where}")
    if NamespaceReader is not None:
        return MountReader(existing)
    return LegacyReader(existing)


if NamespaceReader is not None:

    class MountReader(NamespaceReader):  # type: ignore[misc]
        """A namespace-package reader over a mount's directories (which the
        placeholder ``__path__`` does not name)."""

        def __init__(self, directories: Sequence[str]) -> None:  # noqa: D107
            self.path = MultiplexedPath(*(pathlib.Path(d) for d in directories))


class LegacyReader:
    """importlib.abc.ResourceReader over directories, first one wins: the
    methods CPython 3.9's FileLoader provides for its package directory."""

    def __init__(self, directories: List[str]) -> None:
        self.directories = directories

    def _find(self, resource: str) -> Optional[str]:
        if os.sep in resource or (os.altsep and os.altsep in resource):
            return None
        for d in self.directories:
            candidate = os.path.join(d, resource)
            if os.path.isfile(candidate):
                return candidate
        return None

    def open_resource(self, resource: str) -> io.FileIO:
        found = self._find(resource)
        return io.FileIO(found or os.path.join(self.directories[0], resource), "r")

    def resource_path(self, resource: str) -> str:
        found = self._find(resource)
        if found is None:
            raise FileNotFoundError(resource)
        return found

    def is_resource(self, name: str) -> bool:
        return self._find(name) is not None

    def contents(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for d in self.directories for n in os.listdir(d)))
