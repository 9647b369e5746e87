"""A plugin with a bug: it imports a sibling, then fails while loading."""

import demo_plugins.shapes  # noqa: F401  (a sibling, loaded fine)

raise RuntimeError("broken.py: configuration key 'colour' is missing")
