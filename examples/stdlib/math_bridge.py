"""Bridge of the runtime's 'math' library."""

import math as _math


def hypot(x: float, y: float) -> float:
    return _math.hypot(x, y)
