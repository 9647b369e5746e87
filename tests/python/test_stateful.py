"""Every interleaving of edits, loads, reloads, transactions, evictions and
mount changes, against a model (issue 15, part 2).

A hypothesis RuleBasedStateMachine drives one mounted directory: five
top-level modules (m0..m4) and two subpackage directories (s0, s1), each
with an `__init__.py` and two modules (l0, l1). A module's source is a few
import statements of other modules of the mount, then a value line or a
line that raises. The value lines all have one size, so rewrites within one
second keep size and whole-second mtime: only bridgeimport's racy-pyc rule
keeps them apart. The imports never form a cycle: m0 < m1 < leaves <
subpackages < m2 < m3 < m4, a module importing only lower ones, except that
a subpackage's `__init__` may import its own modules (`from . import l0`).

Its rules write a file (creating the subpackage directory if needed),
delete one, rename one over another (an editor's save), delete or rename a
whole subpackage directory, load or import a module (bi.load, atomic or
not, import_module, __import__, a from-import statement), reload it, run a
transaction over the package (mode "changed" or "all", or "changed" with
the files a watcher would report, and a few more: `files=`; committing, or
failing in its body), evict a module (and its subtree) from sys.modules,
and unmount or mount the directory again. Each call is first run on the
model (`_Run`, a small import system of its own), and the invariants check
that the real one agrees:

* one module object per name: what sys.modules holds is the very object the
  first successful load gave, until an eviction or a transaction; a loaded
  module is its loaded parent package's attribute, as CPython sets it;
* the code that ran is the newest source: VALUE is what the file said when
  the module last executed successfully (never a stale pyc's);
* a failed load leaves sys.modules as it was, except for other modules its
  execution loaded successfully (as stock CPython keeps them; atomic mode
  removes them too); a failing package takes every module it loaded below
  it along; a failed reload leaves the module's namespace exactly as it
  was; a failed transaction leaves every module object, and sys.modules,
  exactly as before it began;
* a transaction retires exactly the modules whose source changed, their
  dependents (through the recorded graph) and the subtrees of retired
  packages (mode "changed"), or every loaded one (mode "all"), and each
  retired object keeps working, with the value it last ran;
* dependency records: bi.dependencies(name) is what the module's last
  successful execution imported directly (`import pkg.s0.l0` records
  pkg.s0 and pkg.s0.l0, `from .s0 import l0` only pkg.s0.l0; the mount
  package never), and bi.dependents(name) every module whose record holds
  name, evicted ones included: records outlive sys.modules entries; an
  atomic rollback erases the records of the modules it removes; a rolled
  back transaction puts back every record under the package as it was at
  begin (those of modules first loaded in its body included: issue 15 found
  a rollback erasing the record such a module had from an earlier life);
* where stock CPython defines the answer, it is the same: every load and
  reload is done again by importlib on a mirror of the files in a package on
  sys.path (no pyc there, so stock always reads the source), and the outcome
  (the value, or the exception type) must match. Stock defines it when the
  mirror holds the same modules as the mount and no subpackage directory
  lacks its `__init__.py` (stock makes that a namespace package,
  bridgeimport serves nothing there).

Threads: test_stateful_threads.py. Examples: hypothesis_profiles.py.
"""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import sys
import tempfile
from typing import NamedTuple, Tuple

import pytest

hypothesis = pytest.importorskip("hypothesis")  # deps/dev-requirements.txt (3.11+)
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule  # noqa: E402

import bridgeimport as bi  # noqa: E402
from hypothesis_profiles import MACHINE  # noqa: E402

NAMES = [f"m{i}" for i in range(5)]            # top-level modules
SUBS = ["s0", "s1"]                            # subpackages
LEAVES = [f"{s}.{leaf}" for s in SUBS for leaf in ("l0", "l1")]
ALL = NAMES + SUBS + LEAVES                    # every module, relative to the package
VALUES = st.integers(min_value=0, max_value=999_999)
FAILS = st.sampled_from([False, False, False, True])  # a failing file fails its importers too
# (style, pick): the pick-th of the modules the importing one may import.
IMPORTS = st.lists(st.tuples(st.sampled_from(["from", "import"]), st.integers(0, 9)),
                   max_size=3)

# The import order that rules out cycles (see may_import).
_RANK = {"m0": 0, "m1": 1, **{n: 2 for n in LEAVES}, **{s: 3 for s in SUBS},
         "m2": 4, "m3": 5, "m4": 6}

_packages = itertools.count()  # records outlive a machine: never reuse a name


class Src(NamedTuple):
    """A module file: its import statements, then a value or a raise."""
    value: int
    fails: bool
    imports: Tuple[Tuple[str, str], ...] = ()  # (style "from" | "import", target)


def parent_of(rel: str) -> str:
    return rel.rpartition(".")[0]


def home_of(rel: str) -> str:
    """The package a module's relative imports start from ("" for the top)."""
    return rel if rel in SUBS else parent_of(rel)


def may_import(rel: str, target: str) -> bool:
    if rel in SUBS:
        return target in ("m0", "m1") or parent_of(target) == rel
    if rel in LEAVES:
        return target in ("m0", "m1")
    return _RANK[target] < _RANK[rel]


def import_line(rel: str, style: str, target: str, package: str) -> str:
    if style == "import":
        return f"import {package}.{target}"
    parent, _, last = target.rpartition(".")
    if parent == home_of(rel):
        return f"from . import {last}"
    if home_of(rel) == "":
        return f"from .{parent} import {last}"
    return f"from .. import {last}"  # a subpackage's module taking a top-level one


def source_text(rel: str, src: Src, package: str) -> str:
    lines = [import_line(rel, style, target, package) for style, target in src.imports]
    lines.append(f"raise RuntimeError('{src.value:06d}')" if src.fails
                 else f"VALUE = '{src.value:06d}'")
    return "\n".join(lines) + "\n"


def recorded(src: Src) -> frozenset:
    """What an execution of src records: `import a.b` binds a and reaches
    a.b, `from a import b` binds b only (the mount package is never one)."""
    deps = set()
    for style, target in src.imports:
        deps.add(target)
        if style == "import" and parent_of(target):
            deps.add(parent_of(target))
    return frozenset(deps)


def _from_import(full: str):
    """`from package import name`, as a statement runs it."""
    package, _, name = full.rpartition(".")
    scope: dict = {}
    exec(f"from {package} import {name} as module", scope)
    return scope["module"]


# Every way a program reaches a module: the returned object must be the one.
STYLES = {
    "load": bi.load,
    "load_atomic": lambda full: bi.load(full, atomic=True),
    "import_module": importlib.import_module,
    "__import__": lambda full: __import__(full, fromlist=["*"]),
    "from_import": _from_import,
}


class Failure(Exception):
    """A simulated import's error: the exception type it must raise."""

    def __init__(self, kind: type, name: str = "", value: int = -1) -> None:
        super().__init__(kind, name, value)
        self.kind, self.name, self.value = kind, name, value


_EXECUTING = Src(-1, False)  # in sys.modules, its code still running

class _Run:
    """The model's import system: one call (or a transaction's body) on a
    copy of the machine's state, adopted by the rule once the real call
    agreed. `values`: rel name -> the Src the loaded module ran; `records`:
    rel name -> the dependencies its last successful execution recorded."""

    def __init__(self, machine: "BridgeFiles", without=(), atomic: bool = False) -> None:
        self.m = machine
        self.values = {n: src for n, (_, src) in machine.loaded.items() if n not in without}
        self.records = dict(machine.records)
        self.atomic = atomic
        self.namespace = False  # met a directory without __init__.py

    def statement(self, style: str, target: str) -> None:
        """`import pkg.target` or `from pkg.parent import last`."""
        try:
            self.ensure(target)
        except Failure as f:
            if style == "from" and f.kind is ModuleNotFoundError and f.name == target:
                raise Failure(ImportError, target) from None  # "cannot import name"
            raise

    def ensure(self, rel: str) -> None:
        if parent_of(rel) and parent_of(rel) not in self.values:
            self.ensure(parent_of(rel))
        if rel not in self.values:
            self.execute(rel, first=True)

    def execute(self, rel: str, first: bool) -> None:
        src = self.m.files.get(rel) if self.m.mounted else None
        if src is not None and rel in LEAVES and parent_of(rel) not in self.m.files:
            # bridgeimport serves a directory's modules only while it holds an
            # __init__.py, even under a package loaded before; stock reads the
            # loaded package's __path__.
            self.namespace = True
            src = None
        if src is None:
            if self.m.mounted and rel in SUBS and rel in self.m.dirs:
                self.namespace = True  # stock: a namespace package
            raise Failure(ModuleNotFoundError, rel)
        before = set(self.values)
        if first:
            self.values[rel] = _EXECUTING
        try:
            for style, target in src.imports:
                self.statement(style, target)
            if src.fails:
                raise Failure(RuntimeError, rel, src.value)
        except Failure:
            if first:
                del self.values[rel]
                for n in [n for n in self.values if n not in before]:
                    if n.startswith(rel + "."):
                        del self.values[n]  # below it: removed, records kept
                    elif self.atomic:
                        del self.values[n]  # siblings: removed, records erased
                        self.records.pop(n, None)
            raise
        self.values[rel] = src
        self.records[rel] = recorded(src)

    @staticmethod
    def attempt(step) -> "Failure | None":
        try:
            step()
        except Failure as f:
            return f
        return None

    def outcome(self, rel: str, error: "Failure | None") -> object:
        """What BridgeFiles.stock() must give after the same call."""
        return ("ok", f"{self.values[rel].value:06d}") if error is None else error.kind


class BridgeFiles(RuleBasedStateMachine):
    """Model state:

    files   rel name -> Src on disk (rel: "m0", "s0" for s0/__init__.py, "s0.l0")
    dirs    subpackage directories on disk (a file needs its directory)
    loaded  rel name -> (module object, Src it executed)
    records rel name -> frozenset of rel names: the dependencies recorded by
            its last successful execution (kept after eviction)
    retired (module object, Src it executed) of committed transactions
    mounted whether the directory is mounted
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = tempfile.mkdtemp(prefix="bi-stateful-")
        self.package = f"stateful_{os.getpid()}_{next(_packages)}"
        bi.mount(self.package, self.root)
        self.mounted = True
        # The stock mirror: the same files in a plain package on sys.path.
        self.mirror_root = tempfile.mkdtemp(prefix="bi-stateful-mirror-")
        self.mirror = f"mirror_{os.getpid()}_{id(self)}"
        os.mkdir(os.path.join(self.mirror_root, self.mirror))
        open(os.path.join(self.mirror_root, self.mirror, "__init__.py"), "w").close()
        sys.path.insert(0, self.mirror_root)
        self.files = {}
        self.dirs = set()
        self.loaded = {}
        self.records = {}
        self.retired = []
        self.dont_write_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = False  # the pyc cache on: stale pycs are the point

    def teardown(self) -> None:
        sys.dont_write_bytecode = self.dont_write_bytecode
        if self.mounted:
            bi.unmount(self.package)
        sys.path.remove(self.mirror_root)
        for key in [k for k in sys.modules if k in (self.package, self.mirror) or
                    k.startswith((self.package + ".", self.mirror + "."))]:
            del sys.modules[key]
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.mirror_root, ignore_errors=True)

    def full(self, name: str) -> str:
        return f"{self.package}.{name}"

    def roots(self):
        """(directory, package name) of the mount and of the mirror."""
        return ((self.root, self.package),
                (os.path.join(self.mirror_root, self.mirror), self.mirror))

    @staticmethod
    def path(root: str, rel: str) -> str:
        if rel in SUBS:
            return os.path.join(root, rel, "__init__.py")
        return os.path.join(root, *rel.split(".")) + ".py"

    # -- the stock mirror ------------------------------------------------

    def stock(self, action) -> object:
        """action() on the mirror, without pycs: ('ok', VALUE) or the
        exception type."""
        dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            importlib.invalidate_caches()
            return ("ok", action().VALUE)
        except Exception as e:  # the outcome compared, whatever it is
            return type(e)
        finally:
            sys.dont_write_bytecode = dont_write

    def stock_sync(self) -> bool:
        """Drops the mirror's modules the mount does not hold (and their
        parent attributes); True if the mirror then holds the same names, so
        stock defines the same answer."""
        for rel in ALL:
            if rel not in self.loaded and sys.modules.pop(f"{self.mirror}.{rel}", None):
                parent = sys.modules.get(f"{self.mirror}.{parent_of(rel)}".rstrip("."))
                if parent is not None:
                    vars(parent).pop(rel.rpartition(".")[2], None)
        return self.mounted and all(f"{self.mirror}.{n}" in sys.modules for n in self.loaded)

    def stock_load(self, name: str) -> object:
        return self.stock(lambda: importlib.import_module(f"{self.mirror}.{name}"))

    def stock_reload(self, name: str) -> object:
        return self.stock(lambda: importlib.reload(sys.modules[f"{self.mirror}.{name}"]))

    # -- the model ---------------------------------------------------------

    def stale(self, name: str) -> bool:
        """The loaded module's file no longer says what it ran."""
        return self.files.get(name) != self.loaded[name][1]

    def adopt(self, run: _Run, fresh=()) -> None:
        """The model takes the run's outcome; new (or `fresh`) names get the
        object sys.modules holds."""
        self.loaded = {n: (self.loaded[n][0] if n in self.loaded and n not in fresh
                           else sys.modules[self.full(n)], src)
                       for n, src in run.values.items()}
        self.records = run.records

    def importable(self, rel: str, src: Src) -> bool:
        return all(may_import(rel, target) for _, target in src.imports)

    def put(self, rel: str, src: "Src | None") -> None:
        """Writes (or with None deletes) a file in both trees, in place."""
        for root, package in self.roots():
            path = self.path(root, rel)
            if src is None:
                os.unlink(path)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:  # in place: same inode
                fh.write(source_text(rel, src, package))
        if src is None:
            del self.files[rel]
        else:
            self.files[rel] = src
            if home_of(rel):
                self.dirs.add(home_of(rel))

    # -- rules -----------------------------------------------------------

    @initialize(tree=st.none() | st.lists(st.tuples(VALUES, IMPORTS), min_size=len(ALL),
                                          max_size=len(ALL)))
    def populate(self, tree) -> None:
        """Starts empty, or with every file written (none raising): most
        imports then find their module, and loads succeed often."""
        for name, (value, imports) in zip(ALL, tree or ()):
            self.write(name, value, False, imports)

    @rule(name=st.sampled_from(ALL), value=VALUES, fails=FAILS, imports=IMPORTS)
    def write(self, name: str, value: int, fails: bool, imports) -> None:
        """A file (re)written: top-level, subpackage __init__ or leaf; its
        imports are those the order allows (an __init__ takes its own
        modules relatively)."""
        allowed = [t for t in ALL if may_import(name, t)]
        targets = [(style, allowed[pick % len(allowed)]) for style, pick in imports if allowed]
        self.put(name, Src(value, fails, tuple(
            ("from" if parent_of(t) == name else style, t) for style, t in targets)))

    @rule(sub=st.sampled_from(SUBS), part=st.sampled_from(["", ".l0", ".l1"]), value=VALUES,
          fails=FAILS, imports=IMPORTS)
    def write_in_subpackage(self, sub: str, part: str, value: int, fails: bool, imports) -> None:
        """The same, aimed at a subpackage's files (they are half the tree's)."""
        self.write(sub + part, value, fails, imports)

    @rule(name=st.sampled_from(ALL))
    def delete(self, name: str) -> None:
        """One file removed (an __init__.py too: its directory stays)."""
        if name in self.files:
            self.put(name, None)

    @rule(source=st.sampled_from(NAMES + LEAVES), over=st.sampled_from(NAMES + LEAVES))
    def rename(self, source: str, over: str) -> None:
        """An editor's save by rename: `over` gets a new inode and the
        source's mtime (often the same second and size as its own)."""
        if (source == over or source not in self.files or (source in NAMES) != (over in NAMES)
                or home_of(over) not in self.dirs | {""}
                or not self.importable(over, self.files[source])):
            return
        for root, _ in self.roots():
            os.replace(self.path(root, source), self.path(root, over))
        self.files[over] = self.files.pop(source)

    @rule(source=st.sampled_from(SUBS), over=st.sampled_from(SUBS))
    def move_subpackage(self, source: str, over: str) -> None:
        """A subpackage's directory removed (over == source) or renamed over
        the other (which goes), with everything in it."""
        if source == over:
            self.delete_subpackage(source)
        else:
            self.rename_subpackage(source, over)

    def delete_subpackage(self, sub: str) -> None:
        if sub in self.dirs:
            for root, _ in self.roots():
                shutil.rmtree(os.path.join(root, sub))
            self.dirs.discard(sub)
            self.files = {n: s for n, s in self.files.items() if home_of(n) != sub}

    def rename_subpackage(self, source: str, over: str) -> None:
        if source not in self.dirs:
            return
        for root, _ in self.roots():
            shutil.rmtree(os.path.join(root, over), ignore_errors=True)
            os.replace(os.path.join(root, source), os.path.join(root, over))
        self.dirs = (self.dirs - {source}) | {over}

        def moved(rel: str) -> str:
            return over + rel[len(source):] if home_of(rel) == source else rel

        def retargeted(rel: str, src: Src) -> Src:  # the __init__'s own modules, relative
            if rel != source:
                return src
            return src._replace(imports=tuple((style, moved(t)) for style, t in src.imports))
        self.files = {moved(n): retargeted(n, s)
                      for n, s in self.files.items() if home_of(n) != over}

    @rule(names=st.lists(st.sampled_from(ALL), min_size=1, max_size=3),
          how=st.sampled_from(list(STYLES)))
    def load_some(self, names, how: str) -> None:
        """Modules reached through one of the import styles, one by one."""
        for name in names:
            self.load(name, how)
            self.one_object_per_name_running_the_newest_code()
            self.dependency_records_agree()

    def load(self, name: str, how: str) -> None:
        """One module: its parents and its imports run first."""
        full = self.full(name)
        call = STYLES[how]
        if name in self.loaded:
            assert call(full) is self.loaded[name][0]  # loaded: no re-execution
            return
        comparable = self.stock_sync()
        run = _Run(self, atomic=how == "load_atomic")
        error = run.attempt(lambda: run.statement("from" if how == "from_import" else "import",
                                                  name))
        stock = _Run(self)  # the mirror's import_module, never atomic
        stock_error = stock.attempt(lambda: stock.statement("import", name))
        if error is None:
            module = call(full)
            self.adopt(run)
            assert module is self.loaded[name][0]
        else:
            match = f"{error.value:06d}" if error.kind is RuntimeError else None
            with pytest.raises(error.kind, match=match):
                call(full)
            self.adopt(run)
        if comparable and not stock.namespace:  # stock imports the mirror alike
            assert self.stock_load(name) == stock.outcome(name, stock_error)

    @rule(pick=st.integers(0, len(ALL) - 1))
    def reload(self, pick: int) -> None:
        """bi.reload of the pick-th loaded module: the newest source in the
        same object; its imports of modules not loaded run too."""
        if not self.loaded:
            return
        name = sorted(self.loaded)[pick % len(self.loaded)]
        module = self.loaded[name][0]
        before = dict(module.__dict__)
        comparable = self.stock_sync()
        run = _Run(self)
        error = run.attempt(lambda: run.execute(name, first=False))
        if error is None:
            assert bi.reload(module) is module
        else:
            match = f"{error.value:06d}" if error.kind is RuntimeError else None
            with pytest.raises(error.kind, match=match):
                bi.reload(module)
            assert module.__dict__ == before  # restored exactly
            assert all(module.__dict__[k] is v for k, v in before.items())
        self.adopt(run)
        if comparable and not run.namespace:  # stock (keeping a half-run namespace)
            assert self.stock_reload(name) == run.outcome(name, error)

    @rule(mode=st.sampled_from(["changed", "all", "hinted"]), body_fails=st.booleans(),
          extra=st.lists(st.sampled_from(ALL), max_size=3))
    def transaction(self, mode: str, body_fails: bool, extra) -> None:
        """bi.transaction: retire, re-import every retired module in the
        body, commit or roll back. "hinted" is mode "changed" given the
        files of the stale modules (deleted ones too) and of `extra`, as a
        watcher reports them: only those are checked, the closure is
        classified as it reaches modules (issue 13)."""
        begin = bi.transaction  # resolved first: its module is no change of the model's
        before = dict(sys.modules)
        files = None
        if mode == "hinted":
            mode = "changed"
            files = [self.path(self.root, n)
                     for n in sorted({n for n in self.loaded if self.stale(n)} | set(extra))]
        chosen = self.retiring(mode)
        run = _Run(self, without=chosen)
        fails = body_fails
        try:
            for rel in sorted(chosen):
                run.statement("import", rel)
        except Failure:
            fails = True
        reimported = {}
        try:
            with begin(self.package, mode=mode, files=files) as tx:
                assert set(tx.retired) == {self.full(n) for n in chosen}
                for full in tx.retired:
                    reimported[full] = importlib.import_module(full)
                if body_fails:
                    raise LookupError("the body fails")
        except (ImportError, RuntimeError, LookupError):
            assert fails
            assert tx.state == "rolled back"
            assert sys.modules == before  # every object as before it began
            # The records, like sys.modules, are what they were at begin().
            return
        assert not fails and tx.state == "committed"
        self.retired.extend(self.loaded[n] for n in chosen)
        self.adopt(run, fresh=chosen)
        for full, module in reimported.items():
            assert module is sys.modules[full]

    def retiring(self, mode: str) -> set:
        """What a transaction retires: every loaded module, or the changed
        ones, their recorded dependents and retired packages' subtrees."""
        candidates = set(self.loaded)
        if mode == "all":
            return candidates
        chosen = {n for n in candidates if self.stale(n)}
        while True:
            grown = chosen | (self.dependents_closure(chosen) & candidates)
            grown |= {n for n in candidates if parent_of(n) in grown}
            if grown == chosen:
                return chosen
            chosen = grown

    def dependents_closure(self, names: set) -> set:
        """Modules depending on one of names through the records (of loaded
        and evicted modules alike)."""
        seen, queue = set(), list(names)
        while queue:
            current = queue.pop()
            for user, deps in self.records.items():
                if current in deps and user not in seen:
                    seen.add(user)
                    queue.append(user)
        return seen

    @rule()
    def toggle_mount(self) -> None:
        """bi.unmount / bi.mount of the directory."""
        if self.mounted:
            bi.unmount(self.package)
        else:
            bi.mount(self.package, self.root)
        self.mounted = not self.mounted

    @rule(name=st.sampled_from(ALL))
    def evict(self, name: str) -> None:
        """`del sys.modules[name]` (and its subtree), and the parent's attribute."""
        if name not in self.loaded:
            return
        for rel in [n for n in self.loaded if n == name or parent_of(n) == name]:
            del sys.modules[self.full(rel)]
            del self.loaded[rel]
        parent = sys.modules[f"{self.package}.{parent_of(name)}".rstrip(".")]
        vars(parent).pop(name.rpartition(".")[2], None)

    # -- invariants ------------------------------------------------------

    @invariant()
    def one_object_per_name_running_the_newest_code(self) -> None:
        for name in ALL:
            full = self.full(name)
            if name in self.loaded:
                module, src = self.loaded[name]
                assert sys.modules[full] is module
                assert module.__spec__.name == full
                assert module.VALUE == f"{src.value:06d}"
                parent = sys.modules[f"{self.package}.{parent_of(name)}".rstrip(".")]
                attribute = vars(parent).get(name.rpartition(".")[2])
                assert attribute is module
            else:
                assert full not in sys.modules

    @invariant()
    def dependency_records_agree(self) -> None:
        for name in self.loaded:
            assert bi.dependencies(self.full(name)) == sorted(
                self.full(d) for d in self.records.get(name, ()))
            assert bi.dependents(self.full(name)) == sorted(
                self.full(u) for u, deps in self.records.items() if name in deps)

    @invariant()
    def retired_objects_keep_working(self) -> None:
        for module, src in self.retired:
            assert module.VALUE == f"{src.value:06d}"


BridgeFiles.TestCase.settings = MACHINE
test_bridge_files = BridgeFiles.TestCase


def test_failed_package_reload_keeps_submodule_attribute(tree, pkgname):
    """Found by the machine (issue 15): the parent attribute must agree with
    sys.modules after a failed package reload that first loaded a
    submodule, as stock CPython keeps it (loader/rollback.h,
    ReattachLoadedChildren)."""
    root = tree({"sub/__init__.py": "VALUE = 1\n", "sub/leaf.py": "VALUE = 2\n"})
    bi.mount(pkgname, str(root))
    sub = importlib.import_module(f"{pkgname}.sub")
    (root / "sub" / "__init__.py").write_text("from . import leaf\nraise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        bi.reload(sub)
    assert vars(sub).get("leaf") is sys.modules[f"{pkgname}.sub.leaf"]


def test_rolled_back_transaction_keeps_an_evicted_modules_record(tree, pkgname):
    """Found by the machine (issue 15): a module evicted from sys.modules keeps
    its dependency record; first loaded again in a transaction that rolls
    back, it must get that record back, not lose it (the record journal,
    loader/dependency_graph.h)."""
    root = tree({"c.py": "VALUE = 1\n", "b.py": "from . import c\nVALUE = 2\n"})
    bi.mount(pkgname, str(root))
    importlib.import_module(f"{pkgname}.b")
    del sys.modules[f"{pkgname}.b"]
    delattr(sys.modules[pkgname], "b")
    assert bi.dependents(f"{pkgname}.c") == [f"{pkgname}.b"]
    (root / "b.py").write_text("VALUE = 3\n")  # the fresh b imports nothing
    with pytest.raises(LookupError):
        with bi.transaction(pkgname, mode="all"):
            importlib.import_module(f"{pkgname}.b")
            assert bi.dependents(f"{pkgname}.c") == []
            raise LookupError("the body fails")
    assert bi.dependents(f"{pkgname}.c") == [f"{pkgname}.b"]
