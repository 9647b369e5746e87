"""Misuses of bridgeimport's public API that a type checker must reject.

tests/python/test_typing.py runs ``mypy --strict`` on this file and expects
exactly the error codes each ``# E:`` comment names on that line, and no
other error. Type-checked only, never run (and excluded from ruff).
"""

import bridgeimport as bi

bi.mount(123, "x")  # E: arg-type
bi.mount("plugins")  # no directory: a run-time ValueError, not a type error
bi.mount("plugins", "x", pattern=None)  # E: arg-type
bi.mount("plugins", "x", replace="yes")  # E: arg-type
bi.mout("plugins", "x")  # E: attr-defined
bi.load(42)  # E: arg-type
bi.load("plugins.m", True)  # E: misc
number: int = bi.load("plugins.m")  # E: assignment
bi.reload(3)  # E: arg-type
bi.unmount()  # E: call-arg
bi.find_mount("plugins").pattern  # E: union-attr
bi.mounts()[0].directories.append("y")  # E: attr-defined
bi.Registry("p", pattern=3)  # E: arg-type
bi.Registry("p", "x", key=len)  # E: arg-type
bi.Registry("p").get(1)  # E: arg-type
bi.transaction("app", mode=1)  # E: arg-type
bi.transaction("app").commit().retired = 3  # E: assignment
bi.doctor(True)  # E: misc
bi.doctor().findings[0].kind + 1  # E: operator
bi.dependencies(["plugins.m"])  # E: arg-type
