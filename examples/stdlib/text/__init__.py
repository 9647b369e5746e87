"""A subpackage of the runtime's standard library."""
