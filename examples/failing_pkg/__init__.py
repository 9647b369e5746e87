"""A package whose __init__ imports a child and then fails."""

from . import child  # noqa: F401  (succeeds)

raise ImportError("failing_pkg/__init__.py: required setting DEMO_TOKEN is not set")
