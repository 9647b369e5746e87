"""Sphinx configuration for bridgeimport's documentation (``make docs``).

Built with Debian's python3-sphinx and python3-myst-parser from the
project's .venv (``--system-site-packages``), where ``make install`` put the
wheel: autodoc imports the installed ``bridgeimport`` package.
"""

project = "bridgeimport"
author = "the bridgeimport authors"
copyright = "2026, the bridgeimport authors"

try:
    import bridgeimport

    release = bridgeimport.__version__
except ImportError:  # the API page then fails the -W build, which is what we want
    release = "unknown"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Headings become link targets (guide.md#mounting), as on a repository viewer.
myst_heading_anchors = 3

# Keep the order of the source, not alphabetical: the docstrings read as a story.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# Annotations of the package are strings that name stdlib types; nitpicky
# mode (-n) would want a target for each.
nitpick_ignore_regex = [
    (r"py:class", r"(types\.)?ModuleType|module"),
    (r"py:class", r"(_registry\.)?KeyFunction"),
    (r"py:class", r"(_doctor\.)?(Report|Finding)"),
    (r"py:class", r"(os\.)?PathLike.*"),
    (r"py:class", r"_?mounts\.PathLike"),
    (r"py:class", r"bridgeimport\._\w+\..*"),
    # pybind11's signatures of the native Finder (set_mounts takes an iterable).
    (r"py:class", r"collections\.abc\.Iterable"),
]

html_theme = "alabaster"
html_title = f"bridgeimport {release}"
html_show_sourcelink = False
