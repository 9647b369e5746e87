#!/usr/bin/env bash
# Builds a CPython from the source tarball pinned in deps/sources.lock into the
# cache outside the clone, once; prints the interpreter's path.
#
#   tools/build_python.sh NAME [--disable-gil]
#
# NAME is a lock entry (python3.13, ...). The build goes to
# $CACHE/pythons/VERSION[t]/ (t: free-threaded, PEP 703), where CACHE is
# tools/fetch_sources.py's cache directory; a stamp file naming the tarball's
# sha256 and the configure options marks a finished build, so a moved pin or
# other options rebuild and a finished one is reused. Plain ./configure with
# ensurepip (the matrix makes venvs with pip), no PGO/LTO: the point is to
# test against it, not to time it. Build-time libraries (ssl, zlib, ffi,
# lzma, bz2, sqlite3) come from Debian packages the Makefile installs.
# Environment: JOBS (make -j, default: all cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n 2,14p "$0"; exit 2; }
NAME=$1
shift
CONFIGURE_EXTRA=()
SUFFIX=""
for arg in "$@"; do
    case $arg in
        --disable-gil) CONFIGURE_EXTRA+=(--disable-gil); SUFFIX=t ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done

tarball=$(python3 "$ROOT/tools/fetch_sources.py" "$NAME")
sha256=$(awk -v n="$NAME" '$1 == n {print $4}' "$ROOT/deps/sources.lock")
version=$(basename "$tarball" | sed -E 's/^[^_]+_([0-9.]+)\.orig\.tar\..*$/\1/')
cache=$(dirname "$(dirname "$tarball")")
prefix=$cache/pythons/$version$SUFFIX
minor=${version%.*}
python=$prefix/bin/python$minor$SUFFIX
stamp=$prefix/.built
want="$sha256 ${CONFIGURE_EXTRA[*]:-}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$python" ]; then
    echo "$python"
    exit 0
fi

work=$cache/pythons/build-$version$SUFFIX
rm -rf "$work" "$prefix"
mkdir -p "$work"
start=$SECONDS
tar -xf "$tarball" -C "$work" --strip-components=1
(
    cd "$work"
    ./configure --prefix="$prefix" --with-ensurepip=install "${CONFIGURE_EXTRA[@]}" \
        > configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
    make -j"${JOBS:-$(nproc)}" > make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
    make install > install.log 2>&1 || { tail -40 install.log >&2; exit 1; }
) >&2
"$python" -c 'import ssl, zlib, ctypes, lzma, bz2, sqlite3' >&2
echo "$want" > "$stamp"
rm -rf "$work"
echo "built $python in $((SECONDS - start)) s" >&2
echo "$python"
