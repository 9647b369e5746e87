"""Imported by failing_pkg/__init__.py before it raises."""

VALUE = 42
