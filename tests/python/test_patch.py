"""Patching that keeps identity (issue 13, part 1): bi.reload(patch=True) and
bi.transaction(patch=True). Old instances, bindings and callbacks run the new
code; what cannot be patched is skipped with a reason; a failure puts every
old object back exactly as it was."""

from __future__ import annotations

import builtins
import pickle
import sys
import threading

import pytest

import bridgeimport as bi
from bridgeimport import _patch

# Patching is refused with the GIL off (a free-threaded build): everything
# but the refusal itself needs it.
needs_gil = pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                               reason="patch=True is refused with the GIL disabled")

SOURCE = '''\
import abc, dataclasses, enum, functools, sys

class Base:
    def hello(self):
        return "base"

class Shape(Base):
    SIDES = {n}

    def area(self):
        return {n} * 10

    def hello(self):
        return "shape{n}+" + super().hello()

    @staticmethod
    def kind():
        return "static{n}"

    @classmethod
    def make(cls):
        return cls()

    @property
    def label(self):
        return "label{n}"

class Color(enum.Enum):
    RED = {n}

class Abstract(abc.ABC):
    pass

@dataclasses.dataclass(**({{"slots": True}} if sys.version_info >= (3, 10) else {{}}))
class Slotted:
    x: int = {n}

def f(x=1):
    """doc{n}"""
    return {n} * x

def decorated_impl():
    return {n}

@functools.lru_cache(maxsize=None)
def cached():
    return {n}

def _wrap(g):
    @functools.wraps(g)
    def wrapper():
        return g()
    return wrapper

wrapped = _wrap(decorated_impl)

def _counter():
    count = [{n}]
    def tick():
        count[0] += 1
        return count[0]
    return tick

tick = _counter()
'''


def snapshot(obj: object) -> dict:
    """vars(obj) by identity: what "exactly as it was" compares."""
    return {k: id(v) for k, v in vars(obj).items()}


@pytest.fixture
def mod(tree, pkgname):
    root = tree({"m.py": SOURCE.format(n=1)})
    bi.mount(pkgname, root)
    module = bi.load(f"{pkgname}.m")
    module.path = root / "m.py"
    yield module


def write(mod, text: str) -> None:
    mod.path.write_text(text)


@needs_gil
def test_old_bindings_instances_and_callbacks_run_the_new_code(mod):
    f, Shape = mod.f, mod.Shape
    shape = Shape()
    bound, callbacks = shape.area, [mod.f]
    write(mod, SOURCE.format(n=2))
    assert bi.reload(mod, patch=True) is mod
    assert mod.f is f and mod.Shape is Shape  # the names are bound to the old objects
    assert (f(), f(3), f.__doc__, callbacks[0]()) == (2, 6, "doc2", 2)
    assert (shape.area(), bound(), Shape.SIDES) == (20, 20, 2)
    assert shape.hello() == "shape2+base"  # zero-argument super() sees the old class
    assert (Shape.kind(), type(Shape.make()) is Shape, shape.label) == ("static2", True, "label2")
    assert isinstance(shape, mod.Shape) and issubclass(Shape, mod.Base)
    assert type(pickle.loads(pickle.dumps(shape))) is Shape
    report = bi.patch_report(mod)
    name = mod.__name__
    assert {f"{name}:f", f"{name}:Shape", f"{name}:Base", f"{name}:Shape.area"} <= \
        set(report.patched)


@needs_gil
def test_what_is_never_patched_is_new_and_reported(mod):
    never = ("Color", "Abstract", "cached", "wrapped", "tick")
    old = {n: getattr(mod, n) for n in never + (("Slotted",) if sys.version_info >= (3, 10)
                                                 else ())}
    write(mod, SOURCE.format(n=2))
    bi.reload(mod, patch=True)
    skipped = bi.patch_report(mod).skipped
    name = mod.__name__
    assert skipped[f"{name}:Color"] in ("its metaclass is enum.EnumType, not type",
                                        "its metaclass is enum.EnumMeta, not type")  # < 3.11
    assert skipped[f"{name}:Abstract"] == "its metaclass is abc.ABCMeta, not type"
    if sys.version_info >= (3, 10):  # dataclass(slots=True): 3.10
        assert skipped[f"{name}:Slotted"] == "a dataclass with slots"
    # functools.wraps gives the wrapper the wrapped function's qualified name
    assert skipped[f"{name}:decorated_impl"] == "its qualified name is not unique"
    assert skipped[f"{name}:_counter.<locals>.tick"].startswith("it has a closure")
    assert f"{name}:cached" not in skipped  # not a function: lru_cache's wrapper object
    for attr, before in old.items():  # new objects, with the new code
        assert getattr(mod, attr) is not before
    assert mod.Color.RED.value == 2 and mod.Slotted().x == 2 and mod.wrapped() == 2
    assert (old["tick"](), mod.tick()) == (2, 3)  # the old closure keeps its own state
    assert old["Color"].RED.value == 1  # the old Enum is untouched


@needs_gil
def test_bases_slots_and_layout_changes_make_a_new_class(tree, pkgname):
    root = tree({"c.py": "class A: pass\nclass B: pass\nclass C(A): pass\n"
                         "class S:\n    __slots__ = ('x',)\n"})
    bi.mount(pkgname, root)
    m = bi.load(f"{pkgname}.c")
    old_c, old_s = m.C, m.S
    (root / "c.py").write_text("class A: pass\nclass B: pass\nclass C(B): pass\n"
                               "class S:\n    __slots__ = ('x', 'y')\n")
    bi.reload(m, patch=True)
    report = bi.patch_report(m)
    assert report.skipped == {f"{pkgname}.c:C": "its bases changed",
                              f"{pkgname}.c:S": "its __slots__ changed"}
    assert m.S is not old_s
    assert m.C is not old_c and m.S is not old_s
    assert set(report.patched) == {f"{pkgname}.c:A", f"{pkgname}.c:B"}


@needs_gil
def test_same_slots_keep_the_old_layout(tree, pkgname):
    root = tree({"s.py": "class P:\n    __slots__ = ('x',)\n    def get(self):\n"
                         "        return ('v1', self.x)\n"})
    bi.mount(pkgname, root)
    m = bi.load(f"{pkgname}.s")
    p = m.P()
    p.x = 5
    (root / "s.py").write_text("class P:\n    __slots__ = ('x',)\n    def get(self):\n"
                               "        return ('v2', self.x)\n")
    bi.reload(m, patch=True)
    assert m.P is type(p) and p.get() == ("v2", 5)
    p.x = 6  # the slot descriptor is still the old class's own
    assert p.get() == ("v2", 6)


@needs_gil
def test_a_failing_reload_leaves_every_old_object_exactly_as_it_was(mod):
    Shape, Base, f = mod.Shape, mod.Base, mod.f
    before = (snapshot(Shape), snapshot(Base), f.__code__, f.__defaults__, snapshot(mod))
    write(mod, SOURCE.format(n=2) + "\nraise RuntimeError('late failure')\n")
    with pytest.raises(RuntimeError, match="late failure"):
        bi.reload(mod, patch=True)
    after = (snapshot(Shape), snapshot(Base), f.__code__, f.__defaults__, snapshot(mod))
    assert after == before
    assert Shape().area() == 10 and Shape().hello() == "shape1+base"


@needs_gil
def test_a_transaction_keeps_classes_and_their_dependents_see_one_class(tree, pkgname):
    root = tree({"a.py": "class Thing:\n    def v(self):\n        return 1\n"
                         "def helper():\n    return 1\n",
                 "b.py": f"from {pkgname}.a import Thing\nclass Sub(Thing):\n    pass\n"})
    bi.mount(pkgname, root)
    a = bi.load(f"{pkgname}.a")
    bi.load(f"{pkgname}.b")  # b imports a: the transaction retires both
    Thing, helper, thing = a.Thing, a.helper, a.Thing()
    (root / "a.py").write_text("class Thing:\n    def v(self):\n        return 2\n"
                               "def helper():\n    return 2\n")
    with bi.transaction(pkgname, patch=True) as tx:
        b2 = bi.load(f"{pkgname}.b")
    new_a = sys.modules[f"{pkgname}.a"]
    assert new_a is not a and new_a.Thing is Thing and b2.Thing is Thing
    assert thing.v() == 2 and isinstance(b2.Sub(), Thing)
    assert new_a.helper is not helper and helper() == 1  # functions: a new generation
    assert f"{pkgname}.a:Thing" in tx.patch_report.patched
    assert tx.report()["patch"]["patched"] == tx.patch_report.patched


@needs_gil
def test_a_rolled_back_transaction_puts_the_classes_back(tree, pkgname):
    root = tree({"a.py": "class Thing:\n    def v(self):\n        return 1\n"})
    bi.mount(pkgname, root)
    a = bi.load(f"{pkgname}.a")
    Thing = a.Thing
    before = snapshot(Thing)
    (root / "a.py").write_text("class Thing:\n    def v(self):\n        return 2\n")
    with pytest.raises(KeyError):
        with bi.transaction(pkgname, mode="all", patch=True):
            assert bi.load(f"{pkgname}.a").Thing is Thing and Thing().v() == 2
            raise KeyError("body fails")
    assert snapshot(Thing) == before and Thing().v() == 1
    assert sys.modules[f"{pkgname}.a"] is a


@needs_gil
def test_a_module_failing_inside_a_committed_transaction_is_undone(tree, pkgname):
    root = tree({"a.py": "class Thing:\n    def v(self):\n        return 1\n"})
    bi.mount(pkgname, root)
    Thing = bi.load(f"{pkgname}.a").Thing
    before = snapshot(Thing)
    (root / "a.py").write_text("class Thing:\n    def v(self):\n        return 2\n"
                               "raise ValueError('after the class')\n")
    with bi.transaction(pkgname, mode="all", patch=True) as tx:
        with pytest.raises(ValueError):
            bi.load(f"{pkgname}.a")
    assert tx.failed == [f"{pkgname}.a"]
    assert snapshot(Thing) == before and Thing().v() == 1
    assert tx.patch_report.skipped[f"{pkgname}.a:Thing"].startswith("its module's code failed")


@needs_gil
def test_a_thread_calling_the_module_during_patching_reloads_never_fails(mod):
    errors, stop = [], threading.Event()

    def caller():
        while not stop.is_set():
            try:
                mod.f()
                mod.Shape().area()
            except Exception as exc:  # any error is a failure of the test
                errors.append(exc)

    t = threading.Thread(target=caller)
    t.start()
    try:
        for i in range(40):
            write(mod, SOURCE.format(n=i + 2))
            bi.reload(mod, patch=True)
    finally:
        stop.set()
        t.join()
    assert errors == [] and mod.f() == 41


def test_patch_is_refused_without_the_gil(mod, monkeypatch):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    with pytest.raises(RuntimeError, match="not supported with the GIL disabled"):
        bi.reload(mod, patch=True)
    with pytest.raises(RuntimeError, match="not supported with the GIL disabled"):
        bi.transaction("x", patch=True)


@needs_gil
def test_class_statements_of_other_modules_pass_through(mod):
    patcher = _patch.Patcher({mod.__name__: dict(vars(mod))})
    patcher.install()
    try:
        namespace: dict = {"__name__": "elsewhere"}
        exec("class Shape:\n    pass\n", namespace)
        assert namespace["Shape"] is not mod.Shape
    finally:
        patcher.uninstall()
    assert builtins.__build_class__ is not _patch._dispatch


@needs_gil
def test_patchers_whose_lifetimes_overlap_leave_class_statements_working(mod, tree):
    """Found in review: A installs, B installs, A uninstalls, B uninstalls
    (a reload on one thread, a transaction on another) left a dead hook."""
    original = builtins.__build_class__
    a = _patch.Patcher({mod.__name__: dict(vars(mod))})
    b = _patch.Patcher({})
    a.install()
    b.install()
    a.uninstall()
    namespace: dict = {"__name__": "elsewhere"}
    exec("class Users:\n    def __init_subclass__(cls, name=None):\n        pass\n"
         "class Admins(Users, name='admins'):\n    pass\n", namespace)  # a class keyword `name`
    b.uninstall()
    assert builtins.__build_class__ is original
    exec("class After:\n    pass\n", namespace)


@needs_gil
def test_a_refused_classes_methods_and_init_subclass_registries(tree, pkgname):
    """Found in review: the methods of a class refused for a layout change
    took the new code (old instances then ran code for the new layout), and
    a class a base's __init_subclass__ had registered was patched, leaving
    the registry with the throwaway new class."""
    root = tree({"p.py": "class P:\n    __slots__ = ('x',)\n    def __init__(self):\n"
                         "        self.x = 1\n    def total(self):\n        return self.x\n",
                 "r.py": "REG = []\nclass Plugin:\n    def __init_subclass__(cls):\n"
                         "        REG.append(cls)\nclass CSV(Plugin):\n    V = 1\n"})
    bi.mount(pkgname, root)
    p, r = bi.load(f"{pkgname}.p"), bi.load(f"{pkgname}.r")
    old_p = p.P()
    (root / "p.py").write_text("class P:\n    __slots__ = ('x', 'y')\n    def __init__(self):\n"
                               "        self.x, self.y = 1, 2\n    def total(self):\n"
                               "        return self.x + self.y\n")
    bi.reload(p, patch=True)
    assert old_p.total() == 1  # the old class and its methods as they were
    assert bi.patch_report(p).skipped[f"{pkgname}.p:P.total"] == "its class was not patched"
    (root / "r.py").write_text((root / "r.py").read_text().replace("V = 1", "V = 2"))
    bi.reload(r, patch=True)
    assert bi.patch_report(r).skipped[f"{pkgname}.r:CSV"] == \
        "Plugin.__init_subclass__ ran for the new class"
    assert r.REG[-1] is r.CSV
