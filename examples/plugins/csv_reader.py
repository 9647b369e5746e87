"""A plugin that reads 'name,sides' lines into Shape objects."""

from demo_plugins.shapes import Shape

LOADS = globals().get("LOADS", 0) + 1  # counts executions of this file


def read(text: str) -> list:
    rows = [line.split(",") for line in text.strip().splitlines()]
    return [Shape(name.strip(), int(sides)) for name, sides in rows]
