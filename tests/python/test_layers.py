"""The Python package's layers: every import points downward, and none closes a cycle.

LAYERS lists the package's modules bottom-up (docs/design.md section 10
explains each layer). A module may import modules of its own layer
or of the layers below it, at the top of the file or inside a function alike,
and the imports within a layer must not form a cycle. A module missing from
LAYERS fails the test: a new file has to be given its place.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "bridgeimport"

LAYERS = [
    ("configuration", ["bridgeimport._config"]),
    # The extension (loader/) imports _abcs and _resources itself, lazily,
    # when a program first needs them: they are its Python side.
    ("native", ["bridgeimport._native", "bridgeimport._abcs", "bridgeimport._pathhook",
                "bridgeimport._resources"]),
    ("start-up", ["bridgeimport._entrypoints", "bridgeimport._startup"]),
    ("file watching", ["bridgeimport._watch"]),  # standard library only
    ("mount and module API", ["bridgeimport._mounts", "bridgeimport._modules",
                              "bridgeimport._patch", "bridgeimport._retire"]),
    ("reloads", ["bridgeimport._changes", "bridgeimport._transaction",
                 "bridgeimport._registry", "bridgeimport._watching"]),
    ("diagnostics", ["bridgeimport._doctor"]),
    # Hosts of hot reload: a notebook's extension (the facade's
    # load_ipython_extension imports it, for `%load_ext bridgeimport`), and
    # the WSGI/ASGI middleware. Each imported only by a program that uses it.
    ("hosts", ["bridgeimport.ipython", "bridgeimport.web"]),
    ("facade", ["bridgeimport"]),
    # Integrations with other systems, built on the public API.
    ("integrations", ["bridgeimport.dask"]),
    ("command line", ["bridgeimport.cli", "bridgeimport.cli._run", "bridgeimport.cli._listing",
                      "bridgeimport.cli._demo", "bridgeimport.cli._bench"]),
    ("python -m", ["bridgeimport.__main__"]),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set:
    """The bridgeimport modules a file imports, anywhere in it (``from . import
    x`` imports the submodule x when x is one, not the package)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & set(RANK)
            # Importing a submodule imports its parent package first, always:
            # that is no edge; a name taken from the package itself is.
            out.update(submodules if len(submodules) == len(node.names) else submodules | {base})
    return {m for m in out if m == "bridgeimport" or m.startswith("bridgeimport.")} - {name}


def graph() -> dict:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, PACKAGE
    return {module_name(f): imported(f) for f in files}


def test_every_module_has_a_layer():
    missing = sorted(set(graph()) - set(RANK))
    assert not missing, f"give these modules a place in LAYERS: {missing}"
    assert (PACKAGE / "_native.pyi").exists()  # the one module without Python source


def test_imports_only_point_down():
    upward = [f"{src} (layer {LAYERS[RANK[src]][0]!r}) imports {dst} "
              f"(layer {LAYERS[RANK[dst]][0]!r})"
              for src, targets in graph().items() for dst in sorted(targets)
              if RANK.get(dst, -1) > RANK.get(src, len(LAYERS))]
    assert not upward, "\n".join(upward)


def cycles(edges: dict) -> list:
    """Every import cycle, each as the list of modules it passes through."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_checks_catch_what_they_are_for():
    """The checks fail on a cycle and an upward import (a test that can fail)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    edges = graph()
    assert "bridgeimport._config" in edges["bridgeimport._startup"]
    assert RANK["bridgeimport._startup"] > RANK["bridgeimport._config"]
    assert "bridgeimport.cli" in imported(PACKAGE / "__main__.py")
    assert "bridgeimport._mounts" in imported(PACKAGE / "cli" / "_listing.py")
