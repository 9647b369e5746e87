"""Bridge inside the 'text' subpackage."""


def shout(s: str) -> str:
    return s.upper() + "!"
