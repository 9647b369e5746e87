"""The path hook behind mount packages' placeholder ``__path__`` entries.

A mount package that exists nowhere else gets ``__path__ ==
["bridgeimport://<package>"]``. That entry is not a directory, so CPython's
FileFinder never serves it and cannot import files the mount's glob excludes;
the finder here answers it instead, so that
``pkgutil.iter_modules(pkg.__path__)`` lists the bridges and the path-based
machinery finds exactly what the mount serves. The path hook that creates it
is ``_mounts.path_hook``, which imports this module on its first placeholder
(the first bridge import needs neither; issue 11).
"""

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds on the first bridge import
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Iterator, Optional, Tuple

SCHEME: str = _native.PLACEHOLDER_SCHEME


class PlaceholderFinder:
    """Path-entry finder (importlib.abc.PathEntryFinder) for one mount package."""

    def __init__(self, package: str) -> None:
        self.package = package

    def __repr__(self) -> str:
        return f"<bridgeimport.PlaceholderFinder {SCHEME}{self.package}>"

    def find_spec(self, fullname: str,
                  target: "Optional[ModuleType]" = None) -> "Optional[ModuleSpec]":
        if fullname.rpartition(".")[0] != self.package:
            return None
        if _native.finder.resolve(fullname).kind not in ("module", "package"):
            return None
        return _native.finder.find_spec(fullname, None, target)

    def invalidate_caches(self) -> None:
        _native.finder.invalidate_caches()

    def iter_modules(self, prefix: str = "") -> "Iterator[Tuple[str, bool]]":
        """Used by pkgutil.iter_modules() and walk_packages()."""
        for child in _native.finder.list_children(self.package):
            yield prefix + child.name, child.is_package


def forget_placeholders() -> None:
    """Drops placeholder entries from sys.path_importer_cache. Its keys are
    copied first, in one step (list() of a dict): other threads' imports add
    entries meanwhile, and iterating the dict itself could fail."""
    import sys

    for key in list(sys.path_importer_cache):
        if isinstance(key, str) and key.startswith(SCHEME):
            sys.path_importer_cache.pop(key, None)

