"""Compares two runs of tools/regrtest_checked.py: the same test cases must
pass, fail, error and skip in both, and the same test modules must end the
same way. Prints a summary, or every difference and exits with status 1.

    python tools/regrtest_compare.py BASE_PREFIX HOOK_PREFIX
"""

from __future__ import annotations

import collections
import json
import sys
import xml.etree.ElementTree as ET

OUTCOMES = ("error", "failure", "skipped")


def case_outcomes(xml_path: str) -> collections.Counter:
    """{(test id, outcome): count} from a regrtest --junit-xml file."""
    outcomes: collections.Counter = collections.Counter()
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        outcome = next((o for o in OUTCOMES if o in tags), "passed")
        outcomes[(case.get("name"), outcome)] += 1
    return outcomes


def module_outcomes(json_path: str) -> dict:
    with open(json_path) as f:
        modules = json.load(f)["modules"]
    return {name: kind for kind, names in modules.items() for name in names}


def main(base: str, hook: str) -> int:
    differences = []
    base_cases, hook_cases = case_outcomes(base + ".xml"), case_outcomes(hook + ".xml")
    by_id = collections.defaultdict(lambda: ([], []))
    for (name, outcome), n in (base_cases - hook_cases).items():
        by_id[name][0].extend([outcome] * n)
    for (name, outcome), n in (hook_cases - base_cases).items():
        by_id[name][1].extend([outcome] * n)
    for name, (without, with_hook) in sorted(by_id.items()):
        differences.append(f"test case {name}: without hook {without or '-'}, "
                           f"with hook {with_hook or '-'}")
    base_mods, hook_mods = module_outcomes(base + ".json"), module_outcomes(hook + ".json")
    for name in sorted(set(base_mods) | set(hook_mods)):
        if base_mods.get(name) != hook_mods.get(name):
            differences.append(f"test module {name}: without hook {base_mods.get(name)}, "
                               f"with hook {hook_mods.get(name)}")
    if not base_cases:
        differences.append("the baseline run recorded no test case")

    totals = collections.Counter()
    for (_, outcome), n in base_cases.items():
        totals[outcome] += n
    summary = ", ".join(f"{totals[o]} {o}" for o in ("passed", *OUTCOMES))
    if differences:
        print(f"CPython import tests DIFFER with bridgeimport active "
              f"({len(differences)} differences):")
        print("\n".join("  " + d for d in differences))
        return 1
    print(f"CPython import tests: identical with and without bridgeimport active: "
          f"{sum(base_cases.values())} test cases ({summary}) in {len(base_mods)} modules "
          f"({sum(k == 'bad' for k in base_mods.values())} failing in both)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
