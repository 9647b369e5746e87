#!/usr/bin/env bash
# Builds, once, the Debian sid root that holds CPython 3.14 and 3.15 for the
# test matrix, and prints its path.
#
#   tools/build_sid_root.sh           build if need be; print the root
#   tools/build_sid_root.sh --path    print it only if it is built
#
# Why a root: no source tarball of 3.14 or 3.15 can be fetched here (sid's
# Sources index lists python3.14 and python3.15, the archive answers 404 for
# their files), and sid's binary packages need sid's libc, newer than the
# machine's. So: debootstrap a minimal sid into the cache outside the clone
# ($CACHE/pythons/sid-root-KEY), with a compiler for the wheel builds, then
# install the interpreter packages pinned by sha256 in deps/sources.lock
# (NAME sid-*; tools/fetch_sources.py --debs fetches and checks them). KEY is
# a hash of those pins and of the root's tool list, so moving a pin builds a
# new root and an unchanged one is reused; the root's other packages are sid's of the day it was built.
# tools/in_sid_root.sh runs commands inside it. Root only (debootstrap and
# chroot); about 2 minutes and 900 MB. Debian's debootstrap package is
# installed by the Makefile.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LOCK=$REPO/deps/sources.lock
# The root's own tools: what a wheel build needs besides the pinned Python.
TOOLS=ca-certificates,g++,make,ccache
key=$({ grep '^sid-' "$LOCK"; echo "$TOOLS"; } | sha256sum | cut -c1-12)
cache=$(dirname "$(dirname "$(python3 "$REPO/tools/fetch_sources.py" --path abseil)")")
root=$cache/pythons/sid-root-$key
stamp=$root/.built

if [ -f "$stamp" ]; then
    echo "$root"
    exit 0
fi
[ "${1:-}" != --path ] || exit 1

debs=$(python3 "$REPO/tools/fetch_sources.py" --debs sid-)
[ -n "$debs" ] || { echo "build_sid_root: no sid-* pins in $LOCK" >&2; exit 1; }
start=$SECONDS
read -r mirror keyring < <(python3 "$REPO/tools/fetch_sources.py" --archive)
work=$root.partial
rm -rf "$work" "$root"
mkdir -p "$work"
echo "build_sid_root: debootstrap sid into $work" >&2
debootstrap --variant=minbase --keyring="$keyring" \
    --include="$TOOLS" sid "$work" "$mirror" > "$work.log" 2>&1 ||
    { tail -30 "$work.log" >&2; exit 1; }
# What reaching the registries takes on this machine: its name servers, its
# pip configuration and the certificate authorities it adds.
cp /etc/resolv.conf "$work/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$work/etc/pip.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$work/usr/local/share/ca-certificates/"
fi
mkdir -p "$work/tmp/debs"
# shellcheck disable=SC2086
cp $debs "$work/tmp/debs/"
"$REPO/tools/in_sid_root.sh" "$work" /bin/sh -c '
    update-ca-certificates > /dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        /tmp/debs/*.deb > /tmp/debs/install.log 2>&1 || { tail -30 /tmp/debs/install.log; exit 1; }
    for v in 3.14 3.15; do
        python$v -c "import ssl, zlib, ctypes, venv, ensurepip, test.support" || exit 1
    done
    rm -rf /tmp/debs' >&2
echo "$key $(date -u +%F)" > "$work/.built"
mv "$work" "$root"
rm -f "$work.log"
echo "built $root in $((SECONDS - start)) s" >&2
echo "$root"
