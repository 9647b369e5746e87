# make sanitize: the tests again under sanitizers (README "Sanitizers and fuzzing").
#   sanitize-asan  ASan+UBSan build of the C++ tests (ctest) and of the extension,
#                  which then runs the pytest suite under /usr/bin/python3
#   sanitize-tsan  TSan build of the C++ tests (the concurrency tests and the rest),
#                  abseil included: it is built from source with the same flags
#                  (cmake/abseil.cmake), so absl::Mutex is instrumented too
# Any report fails the target: halt_on_error everywhere, -fno-sanitize-recover=all
# in the build, and the reports of child interpreters (which some tests start and
# judge only by their output) go to files under build/asan/reports that must stay
# empty.

.PHONY: sanitize sanitize-asan sanitize-asan-cpp sanitize-asan-py sanitize-tsan

ASAN_BUILD := build/asan
TSAN_BUILD := build/tsan
# -O1: fast enough to run, little enough optimisation to keep the reports exact.
# pybind11: the pinned one in .venv (a recursive variable: .venv may not exist
# when make reads this file).
SAN_CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
  -DPython_EXECUTABLE=$(SYSTEM_PYTHON) -Dpybind11_DIR=$(shell $(PY) -m pybind11 --cmakedir)
SAN_ASAN_OPTIONS := halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
SAN_UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1

sanitize: sanitize-asan sanitize-tsan

sanitize-asan: sanitize-asan-cpp sanitize-asan-py

$(ASAN_BUILD)/.configured: CMakeLists.txt cmake/abseil.cmake | venv sources
	$(CMAKE) -S . -B $(ASAN_BUILD) $(SAN_CMAKE_FLAGS) -DBRIDGEIMPORT_SANITIZE=address,undefined \
	    -DBRIDGEIMPORT_BUILD_EXTENSION=ON -DBRIDGEIMPORT_BUILD_TESTS=ON >/dev/null
	touch $@

sanitize-asan-cpp: $(ASAN_BUILD)/.configured
	$(CMAKE) --build $(ASAN_BUILD) --parallel $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=$(SAN_ASAN_OPTIONS):detect_leaks=1 \
	    UBSAN_OPTIONS=$(SAN_UBSAN_OPTIONS) $(CTEST) --output-on-failure

# The interpreter is not ASan-built, so the ASan runtime is preloaded into it
# (and, through the environment, into every interpreter a test starts), with
# libstdc++ right after it: ASan looks up the real __cxa_throw when it starts,
# and python3 does not link libstdc++, so without it the first C++ exception
# thrown in _native stops ASan with "CHECK failed: real___cxa_throw". CPython
# leaks by design at exit, so leak checking is off here (it is on for ctest).
# The package runs from a copy of python/bridgeimport holding the sanitized
# _native (and the examples, as in the wheel), first on PYTHONPATH.
# test_startup.py and test_packaging.py are left out: they install the wheel
# or the sdist into fresh venvs (pip and builds under the preloaded runtime),
# which exercises packaging, not native code the other tests do not reach.
# Left out of this run only (they still run in `make test`): known bugs of
# main, reported to their owners, to be put back once fixed.
#  - Interpreter exit with daemon threads importing (the three tests below):
#    CPython < 3.14 ends such threads with pthread_exit(); bridgeimport parks
#    them (see loader/py_support.h), and make test runs these tests. Under
#    ASan the preloaded runtime's own exit-time work races the parked threads
#    (a SEGV at exit with no stack in an earlier run), so their children's
#    reports would be about that, not about bridgeimport's memory use.
SAN_PYTEST_DESELECT ?= -k "not test_exit_while_threads_hammer_load \
  and not test_interpreter_exit_with_imports_in_flight_is_quiet \
  and not test_daemon_threads_mid_import_while_the_interpreter_exits"
SAN_PKG := $(ASAN_BUILD)/pkg
SAN_REPORTS := $(CURDIR)/$(ASAN_BUILD)/reports
sanitize-asan-py: sanitize-asan-cpp
	rm -rf $(SAN_PKG) $(SAN_REPORTS) && mkdir -p $(SAN_PKG) $(SAN_REPORTS)
	cp -r python/bridgeimport $(SAN_PKG)/
	cp -r examples $(SAN_PKG)/bridgeimport/_examples  # as setup.py lays out the wheel
	rm -f $(SAN_PKG)/bridgeimport/_native*.so && cp $(ASAN_BUILD)/_native*.so $(SAN_PKG)/bridgeimport/
	cd tests/python && \
	    LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	    ASAN_OPTIONS=$(SAN_ASAN_OPTIONS):detect_leaks=0:log_path=$(SAN_REPORTS)/asan \
	    UBSAN_OPTIONS=$(SAN_UBSAN_OPTIONS):log_path=$(SAN_REPORTS)/ubsan \
	    PYTHONPATH=$(CURDIR)/$(SAN_PKG) PYTHONMALLOC=malloc \
	    $(SYSTEM_PYTHON) -m pytest -q -p no:cacheprovider --ignore=test_startup.py --ignore=test_packaging.py $(SAN_PYTEST_DESELECT); \
	status=$$?; \
	if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
	    echo "sanitizer reports (also in $(SAN_REPORTS)):"; cat $(SAN_REPORTS)/*; exit 1; fi; \
	exit $$status

$(TSAN_BUILD)/.configured: CMakeLists.txt cmake/abseil.cmake | venv sources
	$(CMAKE) -S . -B $(TSAN_BUILD) $(SAN_CMAKE_FLAGS) -DBRIDGEIMPORT_SANITIZE=thread \
	    -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=ON >/dev/null
	touch $@

sanitize-tsan: $(TSAN_BUILD)/.configured
	$(CMAKE) --build $(TSAN_BUILD) --parallel $(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    $(CTEST) --output-on-failure
