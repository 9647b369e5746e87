"""Every interleaving of edits, loads, reloads, transactions, evictions and
mount changes, against a model (issue 15, part 2).

A hypothesis RuleBasedStateMachine drives one mounted directory of five
module files. Its rules write a file (a value, or code that raises; the
value lines all have one size, so rewrites within one second keep size and
whole-second mtime: only bridgeimport's racy-pyc rule keeps them apart),
delete one, rename one over another (an editor's save), load or import it
(bi.load, import_module, __import__, a from-import statement), reload it,
run a transaction over the package (mode "changed" or "all"; committing, or
failing in its body), evict a module from sys.modules, and unmount or mount
the directory again. The model says
what must be true after each step, and the invariants check it:

* one module object per name: what sys.modules holds is the very object the
  first successful load gave, until an eviction;
* the code that ran is the newest source: VALUE is what the file said when
  the module last executed successfully (never a stale pyc's);
* a failed load leaves the name out of sys.modules; a failed reload leaves
  the module's namespace exactly as it was; a failed transaction leaves
  every module object, and sys.modules, exactly as before it began;
* a transaction retires exactly the modules whose source changed (mode
  "changed") or every loaded one (mode "all"), and each retired object keeps
  working, with the value it last ran;
* where stock CPython defines the answer, it is the same: every load and
  reload is done again by importlib on a mirror of the files in a package on
  sys.path (no pyc there, so stock always reads the source), and the outcome
  (the value, or the exception type) must match.

Threads: test_stateful_threads.py. Examples: hypothesis_profiles.py.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

hypothesis = pytest.importorskip("hypothesis")  # deps/dev-requirements.txt (3.11+)
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

import bridgeimport as bi  # noqa: E402
from hypothesis_profiles import MACHINE  # noqa: E402

NAMES = [f"m{i}" for i in range(5)]
VALUES = st.integers(min_value=0, max_value=999_999)


def _from_import(full: str):
    """`from package import name`, as a statement runs it."""
    package, _, name = full.rpartition(".")
    scope: dict = {}
    exec(f"from {package} import {name} as module", scope)
    return scope["module"]


# Every way a program reaches a module: the returned object must be the one.
STYLES = {
    "load": bi.load,
    "import_module": importlib.import_module,
    "__import__": lambda full: __import__(full, fromlist=["*"]),
    "from_import": _from_import,
}


class BridgeFiles(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.root = tempfile.mkdtemp(prefix="bi-stateful-")
        self.package = f"stateful_{os.getpid()}_{id(self)}"
        bi.mount(self.package, self.root)
        self.mounted = True
        # The stock mirror: the same files in a plain package on sys.path.
        self.mirror_root = tempfile.mkdtemp(prefix="bi-stateful-mirror-")
        self.mirror = f"mirror_{os.getpid()}_{id(self)}"
        os.mkdir(os.path.join(self.mirror_root, self.mirror))
        open(os.path.join(self.mirror_root, self.mirror, "__init__.py"), "w").close()
        sys.path.insert(0, self.mirror_root)
        self.files = {}     # name -> (value, fails) on disk
        self.loaded = {}    # name -> (module object, value it executed)
        self.retired = []   # (module object, value it executed): kept alive, still working
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
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.mirror_root, ignore_errors=True)

    def full(self, name: str) -> str:
        return f"{self.package}.{name}"

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

    def stock_load(self, name: str) -> object:
        return self.stock(lambda: importlib.import_module(f"{self.mirror}.{name}"))

    def stock_reload(self, name: str) -> object:
        full = f"{self.mirror}.{name}"
        module = sys.modules.get(full)
        if module is None:
            return self.stock_load(name)
        return self.stock(lambda: importlib.reload(module))

    def stale(self, name: str) -> bool:
        """The loaded module's file no longer says what it ran."""
        on_disk = self.files.get(name)
        return on_disk is None or on_disk != (self.loaded[name][1], False)

    # -- rules -----------------------------------------------------------

    @rule(name=st.sampled_from(NAMES), value=VALUES, fails=st.booleans())
    def write(self, name: str, value: int, fails: bool) -> None:
        body = (f"raise RuntimeError('{value:06d}')\n" if fails
                else f"VALUE = '{value:06d}'\n")
        for root in (self.root, os.path.join(self.mirror_root, self.mirror)):
            with open(os.path.join(root, name + ".py"), "w") as fh:  # in place: same inode
                fh.write(body)
        self.files[name] = (value, fails)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        if name in self.files:
            os.unlink(os.path.join(self.root, name + ".py"))
            os.unlink(os.path.join(self.mirror_root, self.mirror, name + ".py"))
            del self.files[name]

    @rule(source=st.sampled_from(NAMES), over=st.sampled_from(NAMES))
    def rename(self, source: str, over: str) -> None:
        """An editor's save by rename: `over` gets a new inode and the
        source's mtime (often the same second and size as its own)."""
        if source == over or source not in self.files:
            return
        for root in (self.root, os.path.join(self.mirror_root, self.mirror)):
            os.replace(os.path.join(root, source + ".py"), os.path.join(root, over + ".py"))
        self.files[over] = self.files.pop(source)

    @rule(name=st.sampled_from(NAMES), how=st.sampled_from(list(STYLES)))
    def load(self, name: str, how: str) -> None:
        full = self.full(name)
        call = STYLES[how]
        if name in self.loaded:
            assert call(full) is self.loaded[name][0]  # loaded: no re-execution
            return
        on_disk = self.files.get(name)
        if on_disk is None or not self.mounted:
            # A from-import statement turns it into "cannot import name", as stock does.
            missing = ImportError if how == "from_import" else ModuleNotFoundError
            with pytest.raises(missing):
                call(full)
        elif on_disk[1]:
            with pytest.raises(RuntimeError, match=f"{on_disk[0]:06d}"):
                call(full)
        else:
            module = call(full)
            assert module.VALUE == f"{on_disk[0]:06d}"
            self.loaded[name] = (module, on_disk[0])
        if self.mounted:  # stock imports the mirror alike
            expected = (("ok", f"{on_disk[0]:06d}") if on_disk and not on_disk[1]
                        else ModuleNotFoundError if on_disk is None else RuntimeError)
            assert self.stock_load(name) == expected

    @rule(name=st.sampled_from(NAMES))
    def reload(self, name: str) -> None:
        if name not in self.loaded:
            return
        module, value = self.loaded[name]
        before = dict(module.__dict__)
        on_disk = self.files.get(name)
        if on_disk is None or on_disk[1] or not self.mounted:
            with pytest.raises((ImportError, RuntimeError)) as raised:
                bi.reload(module)
            assert module.__dict__ == before  # restored exactly
            assert all(module.__dict__[k] is v for k, v in before.items())
            if self.mounted:  # stock raises the same type (and keeps a half-run namespace)
                assert self.stock_reload(name) is raised.type
        else:
            assert bi.reload(module) is module
            self.loaded[name] = (module, on_disk[0])
            assert self.stock_reload(name) == ("ok", f"{on_disk[0]:06d}")

    @rule(mode=st.sampled_from(["changed", "all"]), body_fails=st.booleans())
    def transaction(self, mode: str, body_fails: bool) -> None:
        begin = bi.transaction  # resolved first: its module is no change of the model's
        before = dict(sys.modules)
        expected = {self.full(n) for n in self.loaded if mode == "all" or self.stale(n)}
        reimported = {}
        fails = body_fails or any(  # a retired module's fresh import raises
            not self.mounted or self.files.get(n, (0, True))[1]
            for n in self.loaded if self.full(n) in expected)
        try:
            with begin(self.package, mode=mode) as tx:
                assert set(tx.retired) == expected
                for full in tx.retired:
                    reimported[full] = importlib.import_module(full)
                if body_fails:
                    raise LookupError("the body fails")
        except (ImportError, RuntimeError, LookupError):
            assert fails
            assert tx.state == "rolled back"
            assert sys.modules == before  # every object as before it began
            return
        assert not fails and tx.state == "committed"
        for name in list(self.loaded):
            if self.full(name) in expected:
                self.retired.append(self.loaded[name])
                self.loaded[name] = (reimported[self.full(name)], self.files[name][0])

    @rule()
    def toggle_mount(self) -> None:
        if self.mounted:
            bi.unmount(self.package)
        else:
            bi.mount(self.package, self.root)
        self.mounted = not self.mounted

    @rule(name=st.sampled_from(NAMES))
    def evict(self, name: str) -> None:
        if name in self.loaded:
            del sys.modules[self.full(name)]
            delattr(sys.modules[self.package], name)
            del self.loaded[name]
            sys.modules.pop(f"{self.mirror}.{name}", None)  # and stock's copy

    # -- invariants ------------------------------------------------------

    @invariant()
    def one_object_per_name_running_the_newest_code(self) -> None:
        for name in NAMES:
            full = self.full(name)
            if name in self.loaded:
                module, value = self.loaded[name]
                assert sys.modules[full] is module
                assert module.__spec__.name == full
                assert module.VALUE == f"{value:06d}"
                assert getattr(sys.modules[self.package], name) is module
            else:
                assert full not in sys.modules

    @invariant()
    def retired_objects_keep_working(self) -> None:
        for module, value in self.retired:
            assert module.VALUE == f"{value:06d}"


BridgeFiles.TestCase.settings = MACHINE
test_bridge_files = BridgeFiles.TestCase
