"""A module inside the formats subpackage."""

import json


def dump(obj) -> str:
    return json.dumps(obj, sort_keys=True)
