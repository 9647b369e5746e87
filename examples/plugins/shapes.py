"""A bridge defining a class that other bridges and callers share."""


class Shape:
    def __init__(self, name: str, sides: int) -> None:
        self.name = name
        self.sides = sides

    def __repr__(self) -> str:
        return f"Shape({self.name!r}, {self.sides})"
