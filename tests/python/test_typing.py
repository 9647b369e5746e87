"""The typed public API, checked with Debian's mypy (python3-mypy) in strict mode.

* the package itself passes ``mypy --strict`` (pyproject.toml's [tool.mypy]);
* tests/typing/good.py, a user's program over the documented API, passes;
* tests/typing/misuse.py fails with exactly the error codes its ``# E:``
  comments name, on exactly those lines (so a signature loosened to Any, or
  a misspelt name that type checkers stop seeing, fails the test).

mypy runs from the system interpreter, not the venv (it is not a venv
package); it reads pyproject.toml, whose mypy_path finds the package in
python/. ``make lint`` installs python3-mypy when it is missing.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPING = ROOT / "tests" / "typing"
SYSTEM_PYTHON = "/usr/bin/python3"
MYPY = [SYSTEM_PYTHON, "-m", "mypy"]


def _mypy_version():
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return None
    r = subprocess.run(MYPY + ["--version"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


MYPY_VERSION = _mypy_version()
pytestmark = pytest.mark.skipif(
    MYPY_VERSION is None,
    reason=f"mypy is not available as `{' '.join(MYPY)}` (Debian package python3-mypy; "
           "`make lint` installs it)")

ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*?)"
                   r"(?:  \[(?P<code>[a-z0-9-]+)\])?$")
EXPECTED = re.compile(r"#\s*E:\s*(?P<codes>[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy_cache")


def mypy(cache_dir, *args):
    """(exit status, [(file, line, code, message)] of its errors, output)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    r = subprocess.run(MYPY + ["--config-file", str(ROOT / "pyproject.toml"),
                               "--cache-dir", str(cache_dir), "--show-error-codes",
                               "--no-color-output", "--no-error-summary", *args],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    errors = []
    for line in r.stdout.splitlines():
        m = ERROR.match(line)
        if m:
            errors.append((Path(m["file"]).as_posix(), int(m["line"]), m["code"], m["message"]))
    return r.returncode, errors, r.stdout + r.stderr


def expected_errors(path):
    """{line: sorted codes} from the file's ``# E: code[, code]`` comments."""
    out = {}
    for number, text in enumerate(path.read_text().splitlines(), 1):
        m = EXPECTED.search(text)
        if m:
            out[number] = sorted(c.strip() for c in m["codes"].split(","))
    return out


def test_the_package_passes_mypy_strict(cache_dir):
    status, errors, output = mypy(cache_dir)  # the files of [tool.mypy]
    assert errors == [] and status == 0, output


def test_a_correct_program_passes(cache_dir):
    # Errors inside the package are the test above's: here only the program's.
    status, errors, output = mypy(cache_dir, "--follow-imports=silent",
                                  "tests/typing/good.py")
    assert errors == [] and status == 0, output


def test_misuses_fail_exactly_where_marked(cache_dir):
    expected = expected_errors(TYPING / "misuse.py")
    assert len(expected) >= 10  # the file still holds its cases
    status, errors, output = mypy(cache_dir, "--follow-imports=silent",
                                  "tests/typing/misuse.py")
    assert status == 1, output
    assert {f for f, *_ in errors} == {"tests/typing/misuse.py"}, output
    found = {}
    for _file, line, code, _message in errors:
        found.setdefault(line, []).append(code)
    assert {line: sorted(codes) for line, codes in found.items()} == expected, output


def test_the_comparison_can_fail():
    """The expectations parser reads what the misuse file says (a test that can fail)."""
    parsed = expected_errors(TYPING / "misuse.py")
    assert parsed[min(parsed)] == ["arg-type"]
    m = ERROR.match('a.py:3: error: Module has no attribute "mout"  [attr-defined]')
    assert m is not None and (m["line"], m["code"]) == ("3", "attr-defined")
