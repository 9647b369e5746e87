# make fuzz: libFuzzer targets in fuzz/ (README "Sanitizers and fuzzing").
# Each target first runs its seed corpus fuzz/corpus/<target>/ (a regression
# test), then fuzzes for FUZZ_SECONDS with ASan and UBSan. New inputs go to
# build/fuzz/corpus/<target> (not into the tree); a failing input is saved as
# build/fuzz/artifacts/<target>-crash-* and fails the target.
#   make fuzz                          every target, FUZZ_SECONDS each
#   make fuzz FUZZ_TARGETS=glob FUZZ_SECONDS=3600
#   make fuzz-run FUZZ_TARGETS=glob FUZZ_ARGS=build/fuzz/artifacts/glob-crash-...

.PHONY: fuzz fuzz-build fuzz-run

FUZZ_BUILD := build/fuzz

# clang and libFuzzer (llvm-14 for llvm-symbolizer): only for these targets,
# so `make test` and `make demo` do not install a second compiler.
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev llvm-14
$(FUZZ_BUILD)/.configured: DEBIAN_PACKAGES += $(FUZZ_PACKAGES)
FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= module_name glob mount_resolve pyc_header
# -max_len keeps inputs small (names, globs and headers are short; the tree
# description needs a few lines); -timeout catches a hang on one input.
FUZZ_FLAGS ?= -max_len=1024 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

$(FUZZ_BUILD)/.configured: CMakeLists.txt cmake/abseil.cmake | venv sources
	$(CMAKE) -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRIDGEIMPORT_BUILD_FUZZERS=ON \
	    -DBRIDGEIMPORT_BUILD_EXTENSION=OFF -DBRIDGEIMPORT_BUILD_TESTS=OFF >/dev/null
	touch $@

fuzz-build: $(FUZZ_BUILD)/.configured
	$(CMAKE) --build $(FUZZ_BUILD) --parallel $(JOBS) \
	    $(foreach t,$(FUZZ_TARGETS),--target fuzz_$(t))

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t 2>$(FUZZ_BUILD)/$$t.log \
	    || { tail -n 60 $(FUZZ_BUILD)/$$t.log; echo "fuzz_$$t failed; input in $(FUZZ_BUILD)/artifacts/"; exit 1; }; \
	    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs)' $(FUZZ_BUILD)/$$t.log || true; \
	done

# Runs targets on given inputs only (reproduce a crash, replay a corpus).
fuzz-run: fuzz-build
	@for t in $(FUZZ_TARGETS); do $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_ARGS) || exit 1; done
