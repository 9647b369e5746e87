"""A subpackage of the plugin folder."""

DEFAULT = "json"
