"""Patching that keeps identity: old classes and functions run the new code.

``bi.reload(mod, patch=True)`` and ``bi.transaction(..., patch=True)`` use a
:class:`Patcher` (issue 13, part 1). Without it a reload makes new class and
function objects, so old instances, ``from mod import f`` bindings, callbacks,
``isinstance``, ``super()``, ``functools.singledispatch`` registrations and
pickle all still point at the old objects. With it:

* **Classes.** While the new code runs, a ``class`` statement whose class
  existed before (same module, same ``__qualname__``) builds the new class as
  usual. Then, if the preconditions hold (:func:`class_refusal`), it puts the
  new body into the *old* class object and the statement binds the old
  class. So every later line of the module, and every module imported after
  it, sees one class. Zero-argument ``super()`` cells that point at the new
  class are pointed at the old one. A class that fails a precondition stays
  new, and the report says why.
* **Functions** (``reload`` only, where the module keeps its globals dict):
  after the module ran, each old function is paired with the new function of
  the same ``__module__`` and ``__qualname__``, never by the name it is
  bound to. The old function takes the new ``__code__``, defaults, doc and
  annotations, and every name bound to the new function is bound to the old
  one. A transaction's module has new globals: its functions are new
  objects, never old functions with swapped code.

Nothing old is changed until a pairing and all of its preconditions are
checked, and the changes themselves run no user code. Every change is written
to an undo log first. If the module body fails later, or the transaction is
rolled back, :meth:`Patcher.undo` puts every old object back exactly as it
was.

Never patched: Enums, and classes with any metaclass other than ``type``
(``ABCMeta``, ``Protocol``, ORMs), dataclasses with slots, classes whose
``__slots__`` or layout changed, extension types, functions with closures
(decorators: their cells hold state), module-level data, running frames.
Refused on a free-threaded build with the GIL off, where the changes could
not be made atomic.
"""

from __future__ import annotations

import builtins
import sys
import threading
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

__all__ = ["Patcher", "PatchReport", "check_supported"]

_HEAPTYPE = 1 << 9
_IMMUTABLETYPE = 1 << 8
# Entries of a class's __dict__ never replaced: its layout, and __module__
# (the same by the pairing; setting it also drops __firstlineno__ on 3.13+).
_LAYOUT = frozenset({"__dict__", "__weakref__", "__slots__", "__module__"})
# What a function takes from its new version. From 3.14 (PEP 649) the
# annotations travel as __annotate__: reading __annotations__ would evaluate
# them, which runs user code. __type_params__: 3.12 (PEP 695).


def _sample() -> None:
    pass


_FUNCTION_ATTRS = tuple(
    a for a in ("__code__", "__defaults__", "__kwdefaults__", "__doc__", "__annotate__",
                "__type_params__") if hasattr(_sample, a)) + (
    () if hasattr(_sample, "__annotate__") else ("__annotations__",))
_MISSING = object()


def check_supported() -> None:
    """RuntimeError on a free-threaded build running without the GIL."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None and not is_gil_enabled():
        raise RuntimeError(
            "bridgeimport: patch=True is not supported with the GIL disabled (free-threaded "
            "build): patching could not be atomic; run with -X gil=1 or reload without patch")


# One hook for every patcher at once: reloads and a transaction may patch at
# the same time on different threads, and their lifetimes need not nest.
_hook_lock = threading.Lock()
_patchers: List["Patcher"] = []
_original_build_class: Optional[Callable[..., Any]] = None


def _dispatch(func: Any, name: str, /, *bases: Any, **kwargs: Any) -> Any:
    """``builtins.__build_class__`` while a patcher is installed: builds the
    class as CPython does, then lets the patcher that pairs it adopt it.
    Positional-only, as CPython's: a class keyword may be called ``name``."""
    build = _original_build_class or _builtin_build_class
    new = build(func, name, *bases, **kwargs)
    for patcher in list(_patchers):
        adopted = patcher._adopt(func, name, new)
        if adopted is not new:
            return adopted
    return new


_builtin_build_class = builtins.__build_class__


def _install(patcher: "Patcher") -> None:
    global _original_build_class
    with _hook_lock:
        if not _patchers and _original_build_class is None:
            _original_build_class = builtins.__build_class__
            builtins.__build_class__ = _dispatch
        # (_original_build_class still set with no patcher: another hook was put
        # over ours and calls _dispatch, which dispatches again from now on.)
        _patchers.append(patcher)


def _uninstall(patcher: "Patcher") -> None:
    global _original_build_class
    with _hook_lock:
        if patcher in _patchers:
            _patchers.remove(patcher)
        if not _patchers and builtins.__build_class__ is _dispatch:
            builtins.__build_class__ = _original_build_class  # type: ignore[assignment]
            _original_build_class = None
        # Else another hook sits over ours and calls _dispatch, which passes
        # every class through to the original while no patcher is installed.


class PatchReport:
    """What a patching reload or transaction did: ``patched`` (qualified
    names, ``module:qualname``, of the old objects that now run the new
    code) and ``skipped`` (``{module:qualname: reason}``: new objects made
    instead)."""

    def __init__(self) -> None:
        self.patched: List[str] = []
        self.skipped: Dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<PatchReport patched {len(self.patched)}, skipped {len(self.skipped)}>"

    def as_dict(self) -> Dict[str, object]:
        return {"patched": list(self.patched), "skipped": dict(self.skipped)}


def class_refusal(old: type, new: type) -> Optional[str]:
    """Why ``new``'s body cannot go into ``old``, or None."""
    if type(old) is not type or type(new) is not type:
        meta = type(old) if type(old) is not type else type(new)
        return f"its metaclass is {meta.__module__}.{meta.__qualname__}, not type"
    if not old.__flags__ & _HEAPTYPE or old.__flags__ & _IMMUTABLETYPE:
        return "an extension or immutable type"
    if old.__bases__ != new.__bases__:
        return "its bases changed"
    hooked = next((b for b in new.__mro__[1:-1] if "__init_subclass__" in vars(b)), None)
    if hooked is not None:  # it has seen the new class (a registry would keep it)
        return f"{hooked.__qualname__}.__init_subclass__ ran for the new class"
    old_slots, new_slots = vars(old).get("__slots__"), vars(new).get("__slots__")
    if old_slots is not None or new_slots is not None:
        if "__dataclass_fields__" in vars(old) or "__dataclass_fields__" in vars(new):
            return "a dataclass with slots"  # dataclass() makes the slotted class anew
        if old_slots != new_slots:
            return "its __slots__ changed"
    if (old.__basicsize__, old.__itemsize__, old.__dictoffset__, old.__weakrefoffset__) != \
            (new.__basicsize__, new.__itemsize__, new.__dictoffset__, new.__weakrefoffset__):
        return "its instance layout changed"
    return None


def function_refusal(old: types.FunctionType, new: types.FunctionType) -> Optional[str]:
    """Why ``old`` cannot take ``new``'s code, or None."""
    if old.__globals__ is not new.__globals__:
        return "new globals (a new module object): the new function is used"
    if old.__code__.co_freevars != new.__code__.co_freevars:
        return "its free variables changed"
    if set(old.__code__.co_freevars) - {"__class__"}:
        return "it has a closure (a decorator's or a nested function's): its cells hold state"
    return None


def _is_slot_of(value: object, cls: type) -> bool:
    return isinstance(value, types.MemberDescriptorType) and value.__objclass__ is cls


def _set_names(new: type, old: type) -> Optional[str]:
    """Calls ``__set_name__(old, name)`` on the new body's descriptors, as
    ``type.__new__`` did with the new class (PEP 487); their owner is then the
    class that stays. Only new objects change. If one raises, those done are
    told the new class again and the reason is returned."""
    done: List[Tuple[object, str]] = []
    for key, value in vars(new).items():
        hook = getattr(type(value), "__set_name__", None)
        if hook is None:
            continue
        try:
            hook(value, old, key)
        except Exception as exc:
            for value_done, key_done in done:
                again = getattr(type(value_done), "__set_name__", None)
                try:
                    if again is not None:
                        again(value_done, new, key_done)
                except Exception:
                    pass
            return f"__set_name__ of {key!r} raised {type(exc).__name__}: {exc}"
        done.append((value, key))
    return None


def _defined_in(module: str, values: Any) -> Iterator[Any]:
    """The classes and plain functions defined in ``module`` (by
    ``__module__``) among ``values`` and, recursively, among the members of
    those classes (methods, wrapped functions, nested classes); each once."""
    stack = list(values)
    seen: Set[int] = set()
    while stack:
        value = stack.pop()
        if id(value) in seen or getattr(value, "__module__", None) != module:
            continue
        seen.add(id(value))
        if not isinstance(getattr(value, "__qualname__", None), str):
            continue
        if isinstance(value, type):
            yield value
            for member in vars(value).values():
                stack.extend(_functions_in(member))
                if isinstance(member, type):
                    stack.append(member)
        elif isinstance(value, types.FunctionType):
            yield value


def _functions_in(value: object) -> List[types.FunctionType]:
    """The plain functions a class attribute holds (itself, or inside a
    staticmethod, classmethod or property)."""
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, (staticmethod, classmethod)):
        inner = value.__func__
        return [inner] if isinstance(inner, types.FunctionType) else []
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel)
                if isinstance(f, types.FunctionType)]
    return []


class Patcher:
    """One patching reload or transaction over the modules named in
    ``modules`` (``{name: old module namespace}``)."""

    def __init__(self, modules: Dict[str, Dict[str, object]]) -> None:
        check_supported()
        self.report = PatchReport()
        self._old_classes: Dict[Tuple[str, str], type] = {}
        self._old_functions: Dict[Tuple[str, str], Optional[types.FunctionType]] = {}
        for name, namespace in modules.items():
            self._collect(name, namespace.values())
        self._used: Set[Tuple[str, str]] = set()
        # (module, undo step), oldest first; the module whose code made the change
        self._undo: List[Tuple[str, Callable[[], None]]] = []
        self._module = ""  # the module being patched, for the undo log
        self._lock = threading.RLock()
        self._replaced: Dict[int, object] = {}   # id(new object) -> the old one bound instead
        self._keep: List[object] = []            # the new objects, while ids are keys

    def _collect(self, module: str, values: Any) -> None:
        """The old classes and functions of ``module`` (see _defined_in); a
        function qualname seen twice maps to None (ambiguous: never paired)."""
        for value in _defined_in(module, values):
            key = (module, value.__qualname__)
            if isinstance(value, type):
                self._old_classes[key] = value
            else:
                self._old_functions[key] = None if key in self._old_functions else value

    # -- the class statement hook ---------------------------------------------

    def install(self) -> None:
        """Routes ``class`` statements through :meth:`_adopt` until
        :meth:`uninstall`; other threads' and other modules' classes pass
        through untouched (see :func:`_dispatch`)."""
        _install(self)

    def uninstall(self) -> None:
        _uninstall(self)

    def _adopt(self, func: Any, name: str, new: Any) -> Any:
        """The class a ``class`` statement binds: ``old`` with ``new``'s body
        when this patcher pairs them and the preconditions hold, else
        ``new``."""
        module = getattr(func, "__globals__", {}).get("__name__")
        key = (module, getattr(func, "__qualname__", name))
        old = self._old_classes.get(key)  # type: ignore[arg-type]
        if old is None or not isinstance(new, type):
            return new
        with self._lock:
            if key in self._used:  # a second class statement of that name: a new class
                return new
            self._used.add(key)  # type: ignore[arg-type]
            label = f"{module}:{key[1]}"
            why = class_refusal(old, new) or _set_names(new, old)
            if why is not None:
                self.report.skipped[label] = why
                return new
            self._module = str(module)
            self._move_body(old, new)
            self.report.patched.append(label)
        return old

    def _move_body(self, old: type, new: type) -> None:
        """``old`` gets ``new``'s namespace (setattr, so type slots such as
        ``__eq__`` follow); logged for undo first, no user code run. The
        old class's slot descriptors stay: they are its layout."""
        keep = set(_LAYOUT) | {k for k, v in vars(old).items() if _is_slot_of(v, old)}
        body = {k: v for k, v in vars(new).items() if k not in keep and not _is_slot_of(v, new)}
        for key in [k for k in vars(old) if k not in keep and k not in body]:
            self._set(old, key, _MISSING)
        for key, value in body.items():
            for function in _functions_in(value):
                self._point_class_cell(function, new, old)
            self._set(old, key, value)
        self._remember(new, old)

    def _point_class_cell(self, function: types.FunctionType, new: type, old: type) -> None:
        """Zero-argument super() reads the ``__class__`` cell: the old class."""
        if "__class__" not in function.__code__.co_freevars or function.__closure__ is None:
            return
        cell = function.__closure__[function.__code__.co_freevars.index("__class__")]
        if cell.cell_contents is new:
            self._undo.append((self._module, lambda: setattr(cell, "cell_contents", new)))
            cell.cell_contents = old

    def _set(self, obj: object, attr: str, value: object) -> None:
        before = vars(obj).get(attr, _MISSING) if isinstance(obj, type) else \
            getattr(obj, attr, _MISSING)

        def undo() -> None:
            if before is _MISSING:
                if attr in vars(obj):
                    delattr(obj, attr)
            else:
                setattr(obj, attr, before)
        self._undo.append((self._module, undo))
        if value is _MISSING:
            delattr(obj, attr)
        else:
            setattr(obj, attr, value)

    def _remember(self, new: object, old: object) -> None:
        self._replaced[id(new)] = old
        self._keep.append(new)

    # -- functions, after the module ran (reload) ----------------------------------

    def patch_functions(self, module: types.ModuleType) -> None:
        """Pairs the module's new functions with the old ones (see the module
        docstring), checks every pairing, then swaps code and rebinds names
        in the module and in its patched classes."""
        self._module = module.__name__
        new_functions: Dict[Tuple[str, str], List[types.FunctionType]] = {}
        for value in _defined_in(module.__name__, vars(module).values()):
            if isinstance(value, types.FunctionType):
                new_functions.setdefault((module.__name__, value.__qualname__), []).append(value)
        plan = []
        for key, news in new_functions.items():
            old = self._old_functions.get(key, _MISSING)
            if old is _MISSING or (len(news) == 1 and news[0] is old):
                continue
            label = f"{key[0]}:{key[1]}"
            if old is None or len(news) > 1:
                self.report.skipped[label] = "its qualified name is not unique"
                continue
            assert isinstance(old, types.FunctionType)
            owner = f"{key[0]}:{key[1].rpartition('.')[0]}"
            why = ("its class was not patched" if owner in self.report.skipped
                   else function_refusal(old, news[0]))
            if why is not None:
                self.report.skipped[label] = why
                continue
            plan.append((label, old, news[0]))
        for label, old, new in plan:
            for attr in _FUNCTION_ATTRS:
                if hasattr(new, attr):
                    self._set(old, attr, getattr(new, attr))
            self._remember(new, old)
            self.report.patched.append(label)
        self._rebind(vars(module))

    def _rebind(self, namespace: Dict[str, object]) -> None:
        """Names bound to a replaced new object are bound to the old one, in
        the namespace and in the classes it holds (methods, nested classes)."""
        for key, value in list(namespace.items()):
            old = self._replaced.get(id(value))
            if old is not None and old is not value:
                self._set_item(namespace, key, old)
        for value in list(namespace.values()):
            if isinstance(value, type) and f"{value.__module__}:{value.__qualname__}" in \
                    self.report.patched:
                for key, member in list(vars(value).items()):
                    old = self._replaced.get(id(member))
                    if old is not None and old is not member and key not in _LAYOUT:
                        self._set(value, key, old)

    def _set_item(self, namespace: Dict[str, object], key: str, value: object) -> None:
        before = namespace.get(key, _MISSING)

        def undo() -> None:
            if before is _MISSING:
                namespace.pop(key, None)
            else:
                namespace[key] = before
        self._undo.append((self._module, undo))
        namespace[key] = value

    # -- undo ------------------------------------------------------------------

    def undo(self, module: Optional[str] = None) -> None:
        """Puts every old object back as it was, newest change first: all of
        them, or those that ``module``'s code changed (a module whose fresh
        import failed inside a transaction that goes on)."""
        with self._lock:
            keep = []
            for owner, step in reversed(self._undo):
                if module is None or owner == module:
                    step()
                else:
                    keep.append((owner, step))
            self._undo[:] = reversed(keep)
            undone = [p for p in self.report.patched
                      if module is None or p.partition(":")[0] == module]
            for label in undone:
                self.report.patched.remove(label)
                if module is not None:
                    self.report.skipped[label] = "its module's code failed: put back as it was"
