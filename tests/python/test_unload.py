"""Undoing import-time side effects (issue 13, part 4): a module's
__bridge_unload__(reason) and bi.on_retire(callback) run when a module is
reloaded, retired or rolled back, at the moment the docs say, and an
exception in them is reported without masking the original error."""

from __future__ import annotations

import builtins
import logging
import sys

import pytest

import bridgeimport as bi

# A bridge module that registers a handler in a host registry (builtins, so
# that every generation shares it) and takes it off again by identity.
REGISTERS = '''\
import builtins, sys
registry = builtins.__dict__.setdefault("_bt_registry", {{}})
events = builtins.__dict__.setdefault("_bt_events", [])

def handler():
    return {version}

registry["{key}"] = handler
events.append(("exec", __name__, {version}))

def __bridge_unload__(reason):
    events.append((reason, __name__, {version}, __name__ in sys.modules and
                   sys.modules[__name__] is sys.modules.get(__name__)))
    if registry.get("{key}") is handler:
        del registry["{key}"]
    {extra}
'''


@pytest.fixture(autouse=True)
def host():
    builtins._bt_registry, builtins._bt_events = {}, []
    yield builtins._bt_registry, builtins._bt_events
    del builtins._bt_registry, builtins._bt_events


def source(version: int, key: str = "h", extra: str = "pass") -> str:
    return REGISTERS.format(version=version, key=key, extra=extra)


def test_reload_unloads_the_old_code_before_the_new_code_runs(tree, pkgname, host):
    registry, events = host
    root = tree({"r.py": source(1)})
    bi.mount(pkgname, root)
    m = bi.load(f"{pkgname}.r")
    (root / "r.py").write_text(source(2))
    bi.reload(m)
    assert [e[:3] for e in events] == [("exec", m.__name__, 1), ("reloaded", m.__name__, 1),
                                       ("exec", m.__name__, 2)]
    assert registry["h"]() == 2


def test_commit_unloads_the_retired_generation(tree, pkgname, host):
    registry, events = host
    root = tree({"a.py": source(1, "a"), "b.py": source(1, "b")})
    bi.mount(pkgname, root)
    a, b = bi.load(f"{pkgname}.a"), bi.load(f"{pkgname}.b")
    (root / "a.py").write_text(source(2, "a"))
    seen = []
    remove = bi.on_retire(lambda module, reason: seen.append((module, reason)))
    try:
        with bi.transaction(pkgname, mode="all") as tx:
            bi.load(f"{pkgname}.a")  # b is not imported again: retired
            assert registry["a"]() == 2 and events[-1] == ("exec", a.__name__, 2)
    finally:
        remove()
    assert sorted(seen, key=lambda s: s[0].__name__) == [(a, "reloaded"), (b, "retired")]
    assert ("reloaded", a.__name__, 1) in [e[:3] for e in events]
    # The old handler had been replaced: taking it off by identity left the new one.
    assert registry == {"a": registry["a"]} and registry["a"]() == 2
    assert tx.unload_errors == []
    bi.on_retire(lambda module, reason: seen.append("after removal"))()  # add and remove
    assert "after removal" not in seen


def test_rollback_unloads_the_fresh_generation_once_the_old_one_is_back(tree, pkgname, host):
    registry, events = host
    root = tree({"a.py": source(1)})
    bi.mount(pkgname, root)
    a = bi.load(f"{pkgname}.a")
    old_handler = registry["h"]
    (root / "a.py").write_text(source(2, extra="events.append(sys.modules[__name__].handler())"))
    with pytest.raises(LookupError):
        with bi.transaction(pkgname, mode="all"):
            bi.load(f"{pkgname}.a")
            raise LookupError("the body fails")
    assert sys.modules[f"{pkgname}.a"] is a
    # The fresh module's hook ran after the old module was back in sys.modules.
    assert events[-2][:3] == ("rolled back", a.__name__, 2) and events[-1] == 1
    assert "h" not in registry or registry["h"] is old_handler


def test_a_failing_hook_is_reported_and_never_masks_the_error(tree, pkgname, host, caplog):
    root = tree({"a.py": source(1)})
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.a")
    (root / "a.py").write_text(source(2, extra="raise OSError('unload failed')"))

    def bad_callback(module, reason):
        raise ValueError(f"callback failed for {reason}")

    remove = bi.on_retire(bad_callback)
    try:
        with caplog.at_level(logging.ERROR, logger="bridgeimport"):
            with pytest.raises(LookupError) as raised:
                with bi.transaction(pkgname, mode="all") as tx:
                    bi.load(f"{pkgname}.a")
                    raise LookupError("the real error")
    finally:
        remove()
    assert type(raised.value) is LookupError and str(raised.value) == "the real error"
    notes = getattr(raised.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert any("__bridge_unload__" in n and "OSError: unload failed" in n for n in notes)
        assert any("callback failed for rolled back" in n for n in notes)
    assert [type(e) for _, e in tx.unload_errors] == [OSError, ValueError]
    assert "unload failed" in caplog.text and "callback failed" in caplog.text
    assert tx.report()["unload_errors"][0].endswith("OSError: unload failed")


def test_on_retire_takes_a_callable():
    with pytest.raises(TypeError, match="takes a callable"):
        bi.on_retire("not callable")  # type: ignore[arg-type]


def test_a_reload_that_cannot_compile_keeps_the_registrations(tree, pkgname, host):
    """Found in review: the unload ran before a SyntaxError stopped the reload."""
    registry, events = host
    root = tree({"r.py": source(1)})
    bi.mount(pkgname, root)
    m = bi.load(f"{pkgname}.r")
    (root / "r.py").write_text("def broken(:\n")
    with pytest.raises(SyntaxError):
        bi.reload(m)
    assert registry["h"]() == 1 and [e[0] for e in events] == ["exec"]
