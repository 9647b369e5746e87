# bridgeimport: the two commands a new user needs.
#   make demo   set everything up, then run the walk-through on examples/
#   make test   set everything up, then run the C++ (ctest) and Python (pytest) tests
# Both install what is missing: Debian packages with apt-get (as root, or
# through sudo), the pinned Python build tools from PyPI into .venv, and the
# pinned abseil source (deps/sources.lock) into the cache outside the clone.

SHELL := /bin/bash
# python3-ipython and python3-werkzeug: the hot-reload tests' notebook and
# dev server (tests/python/test_hot_reload.py).
DEBIAN_PACKAGES := g++ make ccache libgtest-dev libbenchmark-dev python3-dev \
  python3-venv python3-pytest python3-setuptools python3-wheel python3-pip binutils \
  python3-ipython python3-werkzeug
SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
CMAKE := $(CURDIR)/$(VENV)/bin/cmake
CTEST := $(CURDIR)/$(VENV)/bin/ctest
CMAKE_BUILD := build/cmake
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := build/.installed
# ccache, when present, makes the many CMake build trees (tests, wheel,
# sanitizers, matrix) compile the same abseil files once.
export CMAKE_CXX_COMPILER_LAUNCHER := $(shell command -v ccache 2>/dev/null)

# The pinned abseil tarball, fetched and verified by tools/fetch_sources.py;
# cmake/abseil.cmake reads this variable.
export BRIDGEIMPORT_ABSEIL_ARCHIVE := $(shell $(SYSTEM_PYTHON) tools/fetch_sources.py --path abseil 2>/dev/null)
# The build requirements pyproject.toml pins, and the tools only the
# Makefile and tests use (deps/dev-requirements.txt).
BUILD_REQUIRES := $(shell $(SYSTEM_PYTHON) -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' 2>/dev/null)

.PHONY: demo test deps sources venv install wheel sdist cpp-test py-test bench bench-core clean

demo: install
	$(PY) -m bridgeimport demo

test: cpp-test py-test

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Verifies the cached file on every run (a sha256 of 2 MB), fetches it if missing.
sources: deps
	@$(SYSTEM_PYTHON) tools/fetch_sources.py abseil >/dev/null

$(PY): | deps
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)

$(VENV)/.tools: pyproject.toml deps/dev-requirements.txt | $(PY)
	$(PY) -m pip install --quiet $(BUILD_REQUIRES) -r deps/dev-requirements.txt
	touch $@

venv: deps $(PY) $(VENV)/.tools

# The wheel is rebuilt whenever a source file is newer; .venv gets that very
# wheel, and the .pth tests install it again into a fresh venv.
SOURCES := $(shell find finders loader python examples -type f -not -path '*/__pycache__/*' 2>/dev/null) \
  CMakeLists.txt setup.py pyproject.toml MANIFEST.in $(wildcard cmake/*.cmake) deps/sources.lock
WHEEL_DIR := build/wheel
# pip builds a linux_x86_64 wheel; auditwheel repair gives it the manylinux
# tag its symbol versions allow (it grafts nothing: _native needs only libc,
# libm and libgcc_s), and the wheel in $(WHEEL_DIR) is its output.
$(WHEEL_DIR)/.built: $(SOURCES) | venv sources
	rm -rf $(WHEEL_DIR) build/plain-wheel && mkdir -p $(WHEEL_DIR) build/plain-wheel
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pip wheel --no-build-isolation --no-deps --quiet -w build/plain-wheel .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m auditwheel --verbose repair --only-plat --plat auto \
	    -w $(WHEEL_DIR) build/plain-wheel/bridgeimport-*.whl > build/plain-wheel/auditwheel.log 2>&1 \
	    || { cat build/plain-wheel/auditwheel.log; exit 1; }
	touch $@

$(STAMP): $(WHEEL_DIR)/.built
	$(PY) -m pip install --force-reinstall --no-deps --no-index --quiet $(WHEEL_DIR)/bridgeimport-*.whl
	touch $@

# The sdist a release uploads next to the wheels; test_packaging.py installs
# it with pip into a fresh venv, as a user would.
SDIST_DIR := build/sdist
$(SDIST_DIR)/.built: $(SOURCES) | venv
	rm -rf $(SDIST_DIR) && mkdir -p $(SDIST_DIR)
	$(PY) -m build --sdist --no-isolation -o $(SDIST_DIR) . > $(SDIST_DIR)/build.log 2>&1 \
	    || { cat $(SDIST_DIR)/build.log; exit 1; }
	touch $@

wheel: deps venv $(WHEEL_DIR)/.built
install: deps venv $(STAMP)
sdist: deps venv $(SDIST_DIR)/.built

cpp-test: venv | sources
	$(CMAKE) -S . -B $(CMAKE_BUILD) -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=ON >/dev/null
	$(CMAKE) --build $(CMAKE_BUILD) --parallel $(JOBS)
	cd $(CMAKE_BUILD) && $(CTEST) --output-on-failure

py-test: install $(SDIST_DIR)/.built | sources
	cd tests/python && BRIDGEIMPORT_WHEEL=$$(ls $(CURDIR)/$(WHEEL_DIR)/bridgeimport-*.whl) \
	    BRIDGEIMPORT_SDIST=$$(ls $(CURDIR)/$(SDIST_DIR)/bridgeimport-*.tar.gz) \
	    ../../$(PY) -m pytest -q -p no:cacheprovider

# Benchmarks (not part of test): ratios against stock importlib, and the core.
bench: install
	$(PY) benchmarks/bench_imports.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_transaction.py $(BENCH_TX_ARGS)

bench-core: venv | sources
	$(CMAKE) -S . -B build/bench -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=OFF -DBRIDGEIMPORT_BUILD_BENCHMARKS=ON >/dev/null
	$(CMAKE) --build build/bench --parallel $(JOBS) --target core_bench
	build/bench/core_bench

clean:
	rm -rf build $(VENV) *.egg-info python/*.egg-info

# Further targets (sanitizers, fuzzing, the interpreter matrix, ...) live in
# mk/*.mk, one file per job; they may add to DEBIAN_PACKAGES.
include $(sort $(wildcard mk/*.mk))
