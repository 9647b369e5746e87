#!/usr/bin/env python3
"""Fetches the third-party sources pinned in deps/sources.lock into the cache
outside the clone, and prints the path of each verified file.

    tools/fetch_sources.py NAME...      fetch (if missing), verify, print paths
    tools/fetch_sources.py --path NAME  print where NAME goes (no fetch)
    tools/fetch_sources.py --debs PREFIX
                                        the same for every binary package pin
                                        whose NAME starts with PREFIX
    tools/fetch_sources.py --archive    print the archive URI and keyring the
                                        private configuration uses

The cache is $BRIDGEIMPORT_CACHE, else $XDG_CACHE_HOME/bridgeimport, else
~/.cache/bridgeimport; files land in its sources/ folder. A file already there
with the pinned sha256 is used as it is; any other is fetched again.

Where from: Debian's source archive, suite sid, through a private apt
configuration under the cache (apt's -o Dir::Etc::SourceList, SourceParts and
State::Lists options), so nothing system-wide changes. Its deb-src entry takes
the archive URIs and keyring of the machine's own apt sources
(/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list): this script names
no host. apt checks the signed index and the file's checksums; this script
then checks the sha256 pinned in the repository, so a moved pin or a changed
archive fails loudly instead of building something else.

A pin whose source field reads deb:PACKAGE=VERSION is a binary package of
the same suite (`apt-get download`), for the Debian sid root that holds the
interpreters no source tarball can be had for (tools/build_sid_root.sh).

Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "deps", "sources.lock")
SUITE = "sid"


class FetchError(Exception):
    pass


def cache_dir() -> str:
    explicit = os.environ.get("BRIDGEIMPORT_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bridgeimport")


def read_lock(path: str = LOCK) -> dict:
    """{NAME: (debian_source, version, file, sha256, upstream_url)}."""
    pins = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 5 or "=" not in fields[1]:
                raise FetchError(f"{path}:{number}: expected NAME SOURCE=VERSION FILE SHA256 URL")
            name, source_version, filename, sha256, url = fields
            source, _, version = source_version.partition("=")
            pins[name] = (source, version, filename, sha256.lower(), url)
    return pins


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _machine_archives() -> list:
    """[(uris, signed_by)] of the machine's Debian archive entries (deb822 or
    one-line), security and backports suites left out."""
    found = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path, encoding="utf-8") as f:
            for stanza in f.read().split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "").split() and suites and not any(
                        "security" in s or "backports" in s for s in suites):
                    found.append((fields.get("uris", ""), fields.get("signed-by", "")))
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "deb" and "security" not in words[-2] \
                    and "debian" in line:
                uri = next((w for w in words[1:] if "://" in w), "")
                found.append((uri, ""))
    return [(u, s) for u, s in found if "debian" in u]


def _apt_options(apt_dir: str) -> list:
    return ["-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={apt_dir}/sources.list.d",
            "-o", f"Dir::State::Lists={apt_dir}/lists",
            "-o", f"Dir::Cache={apt_dir}/cache",
            "-o", "Debug::NoLocking=1"]


def _prepare_apt(apt_dir: str, binary: bool = False) -> list:
    archives = _machine_archives()
    if not archives:
        raise FetchError("no Debian archive among this machine's apt sources "
                         "(/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list)")
    os.makedirs(f"{apt_dir}/sources.list.d", exist_ok=True)
    os.makedirs(f"{apt_dir}/lists/partial", exist_ok=True)
    os.makedirs(f"{apt_dir}/cache/archives/partial", exist_ok=True)
    stanzas = []
    for uris, signed_by in archives:
        types = "deb deb-src" if binary else "deb-src"
        stanza = f"Types: {types}\nURIs: {uris}\nSuites: {SUITE}\nComponents: main\n"
        if signed_by:
            stanza += f"Signed-By: {signed_by}\n"
        if stanza not in stanzas:
            stanzas.append(stanza)
    with open(f"{apt_dir}/sources.list.d/bridgeimport-src.sources", "w", encoding="utf-8") as f:
        f.write("\n".join(stanzas))
    options = _apt_options(apt_dir)
    result = subprocess.run(["apt-get", *options, "update"], capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"apt-get update of the {SUITE} source index failed:\n{result.stderr}")
    return options


def fetch(name: str, pins: dict) -> str:
    """The path of NAME's verified file in the cache, fetching it if needed."""
    if name not in pins:
        raise FetchError(f"{name!r} is not pinned in {LOCK} (pinned: {', '.join(sorted(pins))})")
    source, version, filename, sha256, _url = pins[name]
    target_dir = os.path.join(cache_dir(), "sources")
    target = os.path.join(target_dir, filename)
    if os.path.isfile(target) and sha256_of(target) == sha256:
        return target
    os.makedirs(target_dir, exist_ok=True)
    binary = source.startswith("deb:")
    options = _prepare_apt(os.path.join(cache_dir(), "apt"), binary)
    command = (["download", f"{source[4:]}={version}"] if binary
               else ["source", "--download-only", f"{source}={version}"])
    with tempfile.TemporaryDirectory(dir=target_dir) as work:
        os.chmod(work, 0o755)
        result = subprocess.run(["apt-get", *options, *command],
                                cwd=work, capture_output=True, text=True)
        got = os.path.join(work, filename)
        if result.returncode != 0 or not os.path.isfile(got):
            raise FetchError(
                f"cannot fetch {filename} (Debian {source} {version}, suite {SUITE}):\n"
                f"{result.stderr.strip()}\nIf Debian has moved on, pin the new version in "
                f"{LOCK}; if the archive is unreachable, put the file in {target_dir} by hand.")
        actual = sha256_of(got)
        if actual != sha256:
            raise FetchError(f"{filename}: sha256 {actual}, pinned {sha256} in {LOCK}; "
                             "refusing it")
        os.replace(got, target)
    return target


def main(argv: list) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        pins = read_lock()
        if argv[0] == "--archive":
            uris, signed_by = _machine_archives()[0]
            print(uris.split()[0], signed_by or "/usr/share/keyrings/debian-archive-keyring.gpg")
            return 0
        if argv[0] == "--debs":
            argv = [n for n in pins if pins[n][0].startswith("deb:")
                    and n.startswith(argv[1] if len(argv) > 1 else "")]
        elif argv[0] == "--path":
            for name in argv[1:]:
                print(os.path.join(cache_dir(), "sources", pins[name][2]))
            return 0
        for name in argv:
            print(fetch(name, pins))
    except (FetchError, KeyError, OSError) as exc:
        print(f"fetch_sources: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
