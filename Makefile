# bridgeimport: the two commands a new user needs.
#   make demo   set everything up, then run the walk-through on examples/
#   make test   set everything up, then run the C++ (ctest) and Python (pytest) tests
# Both install missing Debian packages with apt-get (as root, or through sudo).

SHELL := /bin/bash
DEBIAN_PACKAGES := cmake g++ make pybind11-dev python3-pybind11 libabsl-dev \
  libgtest-dev libbenchmark-dev python3-dev python3-venv python3-pytest \
  python3-setuptools python3-wheel python3-pip
SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
CMAKE_BUILD := build/cmake
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := build/.installed

.PHONY: demo test deps venv install wheel cpp-test py-test bench bench-core clean

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

$(PY): | deps
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)

venv: deps $(PY)

# The wheel is rebuilt whenever a source file is newer; .venv gets that very
# wheel, and the .pth tests install it again into a fresh venv.
SOURCES := $(shell find finders loader python examples -type f -not -path '*/__pycache__/*' 2>/dev/null) CMakeLists.txt setup.py pyproject.toml
WHEEL_DIR := build/wheel
$(WHEEL_DIR)/.built: $(SOURCES) | venv
	rm -rf $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pip wheel --no-build-isolation --no-deps --quiet -w $(WHEEL_DIR) .
	touch $@

$(STAMP): $(WHEEL_DIR)/.built
	$(PY) -m pip install --force-reinstall --no-deps --no-index --quiet $(WHEEL_DIR)/bridgeimport-*.whl
	touch $@

wheel: deps venv $(WHEEL_DIR)/.built
install: deps venv $(STAMP)

cpp-test: deps
	cmake -S . -B $(CMAKE_BUILD) -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=ON >/dev/null
	cmake --build $(CMAKE_BUILD) --parallel $(JOBS)
	cd $(CMAKE_BUILD) && ctest --output-on-failure

py-test: install
	cd tests/python && BRIDGEIMPORT_WHEEL=$$(ls $(CURDIR)/$(WHEEL_DIR)/bridgeimport-*.whl) \
	    ../../$(PY) -m pytest -q -p no:cacheprovider

# Benchmarks (not part of test): ratios against stock importlib, and the core.
bench: install
	$(PY) benchmarks/bench_imports.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_transaction.py $(BENCH_TX_ARGS)

bench-core: deps
	cmake -S . -B build/bench -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=OFF -DBRIDGEIMPORT_BUILD_BENCHMARKS=ON >/dev/null
	cmake --build build/bench --parallel $(JOBS) --target core_bench
	build/bench/core_bench

clean:
	rm -rf build $(VENV) *.egg-info python/*.egg-info

# Further targets (sanitizers, fuzzing, the interpreter matrix, ...) live in
# mk/*.mk, one file per job; they may add to DEBIAN_PACKAGES.
include $(sort $(wildcard mk/*.mk))
