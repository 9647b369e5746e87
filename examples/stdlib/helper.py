"""Not a bridge: the mount's glob '*_bridge.py' excludes this file."""

SECRET = "never served by the mount"
