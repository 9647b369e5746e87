#!/usr/bin/env bash
# Runs a command inside the Debian sid root of tools/build_sid_root.sh, from
# the same working directory, with this clone and the source cache visible at
# their own paths (so a path means the same thing inside and out).
#
#   tools/in_sid_root.sh ROOT COMMAND [ARG...]
#
# The mounts (proc, dev, sys and the two binds) live in a private mount
# namespace (unshare) and vanish with the command: nothing is left mounted on
# the machine. Root only, like chroot itself. The environment is passed on,
# with PATH set to the root's own.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,11p "$0" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$(dirname "$(python3 "$REPO/tools/fetch_sources.py" --path abseil)")
root=$1
shift
[ -x "$root/usr/bin/env" ] || { echo "in_sid_root: $root is not a built root" >&2; exit 2; }
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec unshare --mount --propagation private -- /bin/bash -c '
    set -e
    root=$1 cwd=$2 repo=$3 sources=$4
    shift 4
    # The root a mount point of its own, so that unshare -m works inside.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    for dir in "$repo" "$sources"; do
        mkdir -p "$root$dir"
        mount --bind "$dir" "$root$dir"
    done
    exec chroot "$root" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
' in_sid_root "$root" "$PWD" "$REPO" "$CACHE" "$@"
