# make cpython-import-tests: CPython's own import-related regression tests,
# run twice in one venv holding only the wheel: without bridgeimport active
# (BRIDGEIMPORT_DISABLE=1: the .pth line then imports nothing), then with
# bridgeimport.pth mounting a probe directory (BRIDGEIMPORT_PATH).
# The two runs must pass, fail and skip the same test cases, else the target
# fails and prints the differences (tools/regrtest_compare.py). Each run first
# checks, in the process that runs the tests and in child interpreters, that
# the hook is active (or not) as expected (tools/regrtest_checked.py).
# Debian's test suite matches /usr/bin/python3 (3.11). Then the same for each
# interpreter of CPT_MATRIX (default 3.15, of the sid root of `make pythons`:
# its libpython3.15-testsuite is pinned there), through tools/test_matrix.sh
# --cpython-import-tests, which leaves out test modules a version lacks.

DEBIAN_PACKAGES += libpython3.11-testsuite
CPYTHON_TESTS ?= test_importlib test_import test_imp test_zipimport \
  test_zipimport_support test_zipapp test_pkgutil test_runpy test_pkg \
  test_frozen test_module test_modulefinder test_cmd_line_script test_site \
  test_py_compile test_compileall test_pydoc test_unittest
CPT_DIR := build/cpython-tests
CPT_PY := $(CPT_DIR)/venv/bin/python
# Bytecode writing stays on: the pyc tests must see CPython's real behaviour.
CPT_ENV := env -u PYTHONDONTWRITEBYTECODE -u BRIDGEIMPORT_PATH -u BRIDGEIMPORT_DISABLE -u PYTHONPATH

CPT_MATRIX ?= 3.15

.PHONY: cpython-import-tests
cpython-import-tests: wheel $(if $(CPT_MATRIX),sid-root)
	rm -rf $(CPT_DIR) && mkdir -p $(CPT_DIR)/bridges
	$(SYSTEM_PYTHON) -m venv --without-pip $(CPT_DIR)/venv
	$(PY) -m pip --python $(CPT_PY) install --no-index --no-deps --quiet $(WHEEL_DIR)/bridgeimport-*.whl
	printf 'MOUNTED = True\n' > $(CPT_DIR)/bridges/probe.py
	$(CPT_ENV) BRIDGEIMPORT_DISABLE=1 $(CPT_PY) tools/regrtest_checked.py --expect-no-hook \
	    --out $(CURDIR)/$(CPT_DIR)/without $(CPYTHON_TESTS) > $(CPT_DIR)/without.log 2>&1 \
	    || { tail -30 $(CPT_DIR)/without.log; exit 1; }
	$(CPT_ENV) BRIDGEIMPORT_PATH=bi_cpython_probe=$(CURDIR)/$(CPT_DIR)/bridges \
	    $(CPT_PY) tools/regrtest_checked.py --expect-hook bi_cpython_probe.probe \
	    --out $(CURDIR)/$(CPT_DIR)/with $(CPYTHON_TESTS) > $(CPT_DIR)/with.log 2>&1 \
	    || { tail -30 $(CPT_DIR)/with.log; exit 1; }
	$(SYSTEM_PYTHON) tools/regrtest_compare.py $(CPT_DIR)/without $(CPT_DIR)/with
	$(if $(CPT_MATRIX),CPYTHON_TESTS="$(CPYTHON_TESTS)" JOBS=$(JOBS) \
	    tools/test_matrix.sh --cpython-import-tests $(CPT_MATRIX))
