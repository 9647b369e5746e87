"""Every interleaving of edits, loads, reloads and evictions, against a model
(issue 15, part 2: the first machine).

A hypothesis RuleBasedStateMachine drives one mounted directory of five
module files. Its rules write a file (a value, or code that raises; the
value lines all have one size, so rewrites within one second keep size and
whole-second mtime: only bridgeimport's racy-pyc rule keeps them apart),
delete one, load or import it, reload it, and evict it from sys.modules. The
model says what must be true after each step, and the invariants check it:

* one module object per name: what sys.modules holds is the very object the
  first successful load gave, until an eviction;
* the code that ran is the newest source: VALUE is what the file said when
  the module last executed successfully (never a stale pyc's);
* a failed load leaves the name out of sys.modules; a failed reload leaves
  the module's namespace exactly as it was.

Transactions, mounts changing under loads and threads are the next rules
(issue 15 parts 2 and 3). Examples: hypothesis_profiles.py.
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


class BridgeFiles(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.root = tempfile.mkdtemp(prefix="bi-stateful-")
        self.package = f"stateful_{os.getpid()}_{id(self)}"
        bi.mount(self.package, self.root)
        self.files = {}     # name -> (value, fails) on disk
        self.loaded = {}    # name -> (module object, value it executed)
        self.dont_write_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = False  # the pyc cache on: stale pycs are the point

    def teardown(self) -> None:
        sys.dont_write_bytecode = self.dont_write_bytecode
        bi.unmount(self.package)
        for key in [k for k in sys.modules if k == self.package or
                    k.startswith(self.package + ".")]:
            del sys.modules[key]
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)

    def full(self, name: str) -> str:
        return f"{self.package}.{name}"

    # -- rules -----------------------------------------------------------

    @rule(name=st.sampled_from(NAMES), value=VALUES, fails=st.booleans())
    def write(self, name: str, value: int, fails: bool) -> None:
        body = (f"raise RuntimeError('{value:06d}')\n" if fails
                else f"VALUE = '{value:06d}'\n")
        path = os.path.join(self.root, name + ".py")
        with open(path, "w") as fh:  # in place: same inode, as an editor without backup
            fh.write(body)
        self.files[name] = (value, fails)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        if name in self.files:
            os.unlink(os.path.join(self.root, name + ".py"))
            del self.files[name]

    @rule(name=st.sampled_from(NAMES), how=st.sampled_from(["load", "import_module"]))
    def load(self, name: str, how: str) -> None:
        full = self.full(name)
        call = bi.load if how == "load" else importlib.import_module
        if name in self.loaded:
            assert call(full) is self.loaded[name][0]  # loaded: no re-execution
            return
        on_disk = self.files.get(name)
        if on_disk is None:
            with pytest.raises(ModuleNotFoundError):
                call(full)
        elif on_disk[1]:
            with pytest.raises(RuntimeError, match=f"{on_disk[0]:06d}"):
                call(full)
        else:
            module = call(full)
            assert module.VALUE == f"{on_disk[0]:06d}"
            self.loaded[name] = (module, on_disk[0])

    @rule(name=st.sampled_from(NAMES))
    def reload(self, name: str) -> None:
        if name not in self.loaded:
            return
        module, value = self.loaded[name]
        before = dict(module.__dict__)
        on_disk = self.files.get(name)
        if on_disk is None or on_disk[1]:
            with pytest.raises((ImportError, RuntimeError)):
                bi.reload(module)
            assert module.__dict__ == before  # restored exactly
            assert all(module.__dict__[k] is v for k, v in before.items())
        else:
            assert bi.reload(module) is module
            self.loaded[name] = (module, on_disk[0])

    @rule(name=st.sampled_from(NAMES))
    def evict(self, name: str) -> None:
        if name in self.loaded:
            del sys.modules[self.full(name)]
            delattr(sys.modules[self.package], name)
            del self.loaded[name]

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


BridgeFiles.TestCase.settings = MACHINE
test_bridge_files = BridgeFiles.TestCase
