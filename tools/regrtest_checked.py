"""Runs CPython's regression tests (``test.regrtest``) in this very process,
after checking whether bridgeimport's start-up hook is active, as expected.

    python tools/regrtest_checked.py --expect-hook PKG.MOD --out PREFIX -- TESTS...
    python tools/regrtest_checked.py --expect-no-hook --out PREFIX -- TESTS...

With --expect-hook the interpreter must have been started with the wheel's
bridgeimport.pth active (BRIDGEIMPORT_PATH set): bridgeimport's Finder is
sys.meta_path[0] and PKG.MOD, a module of a mounted bridge directory, imports
through bridgeimport's loader, here and in child interpreters (plain and
``-I``, as test.support.script_helper starts them). After the run the finder
must still be first. With --expect-no-hook nothing of bridgeimport may be
loaded. Any failed check exits with status 3 before or after the tests.

Writes PREFIX.xml (regrtest --junit-xml: one outcome per test case) and
PREFIX.json (outcome per test module, and the checks made). The tests run
sequentially in this process (no -j), so the checked process is the one that
runs them; subprocesses the tests start inherit the environment.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

CHILD_CHECK = """
import sys
names = [(f if isinstance(f, type) else type(f)).__module__ + '.'
         + (f if isinstance(f, type) else type(f)).__qualname__ for f in sys.meta_path]
loaded = 'bridgeimport' in sys.modules
print(repr((names[0], loaded)))
"""


def hook_state(probe: str | None) -> dict:
    """What this process looks like: first finder, bridgeimport loaded, and
    (if probe is given) which loader imports the probe module."""
    first = sys.meta_path[0] if isinstance(sys.meta_path[0], type) else type(sys.meta_path[0])
    state = {
        "first_finder": f"{first.__module__}.{first.__qualname__}",
        "bridgeimport_loaded": "bridgeimport" in sys.modules,
        "bridgeimport_finders": sum(type(f).__module__.startswith("bridgeimport")
                                    for f in sys.meta_path),
    }
    if probe:
        sys.modules.pop(probe, None)
        try:
            module = importlib.import_module(probe)
        except ImportError as exc:
            state["probe_loader"] = f"none ({exc!r})"
        else:
            state["probe_loader"] = type(module.__spec__.loader).__module__
            state["probe_file"] = module.__file__
    return state


def child_states() -> list:
    states = []
    for flags in ([], ["-I"]):
        out = subprocess.run([sys.executable, *flags, "-c", CHILD_CHECK],
                             capture_output=True, text=True, check=True).stdout
        states.append({"flags": flags, "first_finder_and_loaded": out.strip()})
    return states


def check(expect_hook: bool, state: dict, children: list | None, when: str) -> list:
    problems = []
    if expect_hook:
        import bridgeimport

        if not isinstance(sys.meta_path[0], bridgeimport.Finder):
            problems.append(f"{when}: sys.meta_path[0] is {state['first_finder']}, "
                            "not bridgeimport.Finder")
        if state["bridgeimport_finders"] != 1:
            problems.append(f"{when}: {state['bridgeimport_finders']} bridgeimport finders "
                            "on sys.meta_path")
        if not state.get("probe_loader", "").startswith("bridgeimport"):
            problems.append(f"{when}: the mounted probe module was loaded by "
                            f"{state.get('probe_loader')}")
    else:
        if state["bridgeimport_loaded"] or state["bridgeimport_finders"]:
            problems.append(f"{when}: bridgeimport is active in the baseline run")
    for child in children or ():
        text = child["first_finder_and_loaded"]
        active = "bridgeimport" in text.split(",")[0] and text.endswith("True)")
        if active != expect_hook:
            problems.append(f"{when}: child interpreter {child['flags']} has the hook "
                            f"{'inactive' if expect_hook else 'active'}: {text}")
    return problems


def make_regrtest(argv: list):
    """A test.libregrtest Regrtest for these arguments: 3.11 parses sys.argv
    in main(); 3.12 on take the parsed namespace in the constructor."""
    import inspect
    # Not `from test.libregrtest import main`: 3.11's package binds the
    # function main over its submodule's name.
    regrtest_main = importlib.import_module("test.libregrtest.main")

    if "ns" in inspect.signature(regrtest_main.Regrtest).parameters:
        return regrtest_main.Regrtest(regrtest_main._parse_args(argv))
    sys.argv[1:] = argv  # regrtest reads sys.argv
    return regrtest_main.Regrtest()


# The outcome lists of one run, under the 3.11 names: 3.13 on keep them in
# regrtest.results and call two of them resource_denied and env_changed.
OUTCOMES = {"good": "good", "bad": "bad", "skipped": "skipped",
            "resource_denieds": "resource_denied", "environment_changed": "env_changed",
            "run_no_tests": "run_no_tests"}


def module_outcomes(regrtest) -> dict:
    results = getattr(regrtest, "results", None)
    if results is None:
        return {kind: sorted(getattr(regrtest, kind, ())) for kind in OUTCOMES}
    return {kind: sorted(getattr(results, new, ())) for kind, new in OUTCOMES.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--expect-hook", metavar="PKG.MOD",
                      help="a module of a mounted bridge directory")
    mode.add_argument("--expect-no-hook", action="store_true")
    parser.add_argument("--out", required=True, help="prefix of the .xml and .json results")
    parser.add_argument("tests", nargs="+")
    args = parser.parse_args()
    expect_hook = args.expect_hook is not None

    before = hook_state(args.expect_hook)
    children = child_states()
    problems = check(expect_hook, before, children, "before the tests")
    report = {"expect_hook": expect_hook, "before": before, "children": children}
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 3

    regrtest = make_regrtest(["--junit-xml", args.out + ".xml", *args.tests])
    try:
        regrtest.main()
        status = 0
    except SystemExit as exc:  # regrtest always ends with sys.exit()
        status = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()

    after = hook_state(args.expect_hook)
    problems = check(expect_hook, after, None, "after the tests")
    report.update(after=after, status=status, modules=module_outcomes(regrtest))
    with open(args.out + ".json", "w") as f:
        json.dump(report, f, indent=1)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
