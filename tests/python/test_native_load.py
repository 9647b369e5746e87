"""bi.load()'s native path follows CPython's _find_and_load step by step."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import bridgeimport as bi


def test_native_load_builds_the_module_a_plain_import_builds(tree, pkgname):
    body = "X = 1\n"
    d = tree({"a.py": body, "b.py": body, "p/__init__.py": body, "q/__init__.py": body})
    bi.mount(pkgname, d)
    for plain_name, loaded_name in ((f"{pkgname}.a", f"{pkgname}.b"),
                                    (f"{pkgname}.p", f"{pkgname}.q")):
        plain = importlib.import_module(plain_name)
        loaded = bi.load(loaded_name)
        assert list(vars(loaded)) == list(vars(plain))  # same keys, same order
        assert loaded.__package__ == plain.__package__.replace(plain_name, loaded_name)
        if hasattr(plain, "__path__"):
            assert loaded.__path__ == [p.replace(plain_name, loaded_name) for p in plain.__path__]
        assert loaded.__spec__._initializing is False
        assert getattr(sys.modules[pkgname], loaded_name.rpartition(".")[2]) is loaded
        assert list(sys.modules)[-1] == loaded_name  # moved to the end, as CPython does


def test_native_load_raises_the_import_audit_event(tree, pkgname):
    d = tree({"audited.py": ""})
    code = (f"import sys, bridgeimport as bi\nseen = []\n"
            f"sys.addaudithook(lambda e, a: e == 'import' and seen.append(a[0]))\n"
            f"bi.mount({pkgname!r}, {str(d)!r})\nbi.load({pkgname + '.audited'!r})\n"
            f"print({pkgname + '.audited'!r} in seen)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_importtime_still_lists_loads(tree, pkgname):
    d = tree({"timed.py": ""})
    code = (f"import bridgeimport as bi\nbi.mount({pkgname!r}, {str(d)!r})\n"
            f"bi.load({pkgname + '.timed'!r})")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{pkgname}.timed" in r.stderr


def test_a_module_that_replaces_itself_is_replaced(tree, pkgname):
    bi.mount(pkgname, tree({"swap.py": (
        "import sys, types\n"
        "sys.modules[__name__] = types.SimpleNamespace(SWAPPED=True)\n")}))
    assert bi.load(f"{pkgname}.swap").SWAPPED is True
    assert sys.modules[f"{pkgname}.swap"].SWAPPED is True


def test_a_module_that_deletes_itself_fails_as_in_cpython(tree, pkgname, tmp_path):
    body = "import sys\ndel sys.modules[__name__]\n"
    stock_root = tmp_path / "stock"
    (stock_root / f"{pkgname}_s").mkdir(parents=True)
    (stock_root / f"{pkgname}_s" / "__init__.py").write_text("")
    (stock_root / f"{pkgname}_s" / "gone.py").write_text(body)
    sys.path.insert(0, str(stock_root))
    with pytest.raises(BaseException) as stock:
        importlib.import_module(f"{pkgname}_s.gone")
    bi.mount(pkgname, tree({"gone.py": body}))
    with pytest.raises(BaseException) as ours:
        bi.load(f"{pkgname}.gone")
    assert type(ours.value) is type(stock.value)
    assert f"{pkgname}.gone" not in sys.modules


def test_foreign_finder_ahead_of_ours_is_respected(tree, pkgname):
    bi.mount(pkgname, tree({"m.py": "WHO = 'bridge'\n"}))
    bi.load(pkgname)

    class Ahead:
        def find_spec(self, name, path, target=None):
            if name == f"{pkgname}.m":
                return importlib.util.spec_from_loader(name, loader=None, is_package=True)
            return None

    sys.meta_path.insert(0, Ahead())
    module = bi.load(f"{pkgname}.m")
    assert not hasattr(module, "WHO")  # what a plain import would have given
    assert module is sys.modules[f"{pkgname}.m"]


def test_parent_is_imported_first(tree, pkgname):
    bi.mount(pkgname, tree({"p/__init__.py": "import builtins\nbuiltins._bt_order = ['p']\n",
                            "p/c.py": "import builtins\nbuiltins._bt_order.append('c')\n"}))
    import builtins
    try:
        bi.load(f"{pkgname}.p.c")
        assert builtins._bt_order == ["p", "c"]
    finally:
        builtins.__dict__.pop("_bt_order", None)
