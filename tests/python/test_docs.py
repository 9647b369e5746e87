"""Every runnable code example of README.md and docs/ runs, and does what it says.

Convention (for whoever writes docs):

* A fenced block whose info string is exactly ``python`` (```` ```python ````)
  is an example and runs here. Every other language tag is shown, not run:
  ``sh`` for shell commands, ``toml``, ``text`` for output and schemas, and
  ``py`` for a Python fragment that cannot run on its own (it names a
  directory of the reader's, say). MyST directives (```` ```{eval-rst} ````)
  are not examples either.
* Each example runs alone, in a fresh interpreter (``sys.executable``, so the
  bridgeimport this suite tests), with a fresh empty temporary directory as
  its working directory and no ``BRIDGEIMPORT_*`` variables in its
  environment. An example makes the bridge files it needs itself (a few
  ``write_text`` lines into ``tempfile.mkdtemp()``), so a reader can paste it
  anywhere too. Nothing is shared between examples.
* An example whose child processes need bridgeimport's start-up (a
  ``BRIDGEIMPORT_PATH`` child, a ``spawn`` worker) is preceded by the hidden
  line ``<!-- docs-test: needs-pth -->``; it is skipped where this
  interpreter's site-packages holds no ``bridgeimport.pth`` (the sanitizer
  run puts the package on ``PYTHONPATH`` instead of installing it).
  ``needs-dask`` (comma-separated after it) skips where ``distributed`` is
  not installed, ``needs-gil`` where the GIL is off (patching is refused).
* An example states what it shows with ``assert``; a failed assert, any
  exception or a non-zero exit status fails the test. The script is padded so
  that its line numbers are the document's: a traceback's line N is line N of
  the document.

The test id, and the failure message, is ``FILE:LINE`` of the block's opening
fence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARK = re.compile(r"^\s*<!-- docs-test: (?P<needs>[\w, -]+) -->\s*$")
RUNNABLE = "python"


def code_blocks(path: Path):
    """(line of the opening fence, info string, code with its first line at
    line + 1, the set of needs its docs-test mark names) for each fenced
    block of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    needs = set()
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            mark = MARK.match(lines[i])
            if mark is not None:
                needs = {n.strip() for n in mark.group("needs").split(",")}
            elif lines[i].strip():
                needs = set()
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
        start = i + 1  # 1-based line number of the fence
        body = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        else:
            raise AssertionError(f"{path.relative_to(ROOT)}:{start}: unclosed code fence")
        i += 1
        yield start, info, "\n".join(body) + "\n", needs
        needs = set()


def start_up_installed() -> bool:
    """Whether this interpreter's start-up runs bridgeimport.pth."""
    import site

    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return any(Path(d, "bridgeimport.pth").is_file() for d in dirs)


def dask_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def gil_enabled() -> bool:
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())


NEEDS = {"needs-pth": start_up_installed, "needs-dask": dask_installed,
         "needs-gil": gil_enabled}
REASONS = {"needs-pth": "bridgeimport.pth is not installed in this interpreter's site-packages",
           "needs-dask": "dask.distributed is not installed (deps/dev-requirements.txt)",
           "needs-gil": "patch=True is refused with the GIL disabled"}


def examples():
    found = []
    for path in DOCUMENTS:
        if not path.is_file():
            continue
        for line, info, code, needs in code_blocks(path):
            if info == RUNNABLE:
                unknown = needs - set(NEEDS)
                assert not unknown, f"{path.relative_to(ROOT)}:{line}: unknown need {unknown}"
                marks = [pytest.mark.skipif(not NEEDS[n](), reason=REASONS[n])
                         for n in sorted(needs)]
                found.append(pytest.param(path, line, code, marks=marks,
                                          id=f"{path.relative_to(ROOT)}:{line}"))
    return found


EXAMPLES = examples()


def test_there_are_examples_to_run():
    """The README's quick start and migration recipe are examples, so a
    change that stops this file from finding blocks fails here."""
    readme = [p for p in EXAMPLES if p.values[0].name == "README.md"]
    assert len(readme) >= 2, "README.md has fewer than two ```python examples"
    assert any(p.values[0].parent.name == "docs" for p in EXAMPLES), "no examples under docs/"


def test_block_parser_sees_languages_and_lines(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("text\n```python\nx = 1\n```\n\n- item\n\n  ```sh\n  make test\n  ```\n"
                   "````py\n```\nnot a fence end\n````\n"
                   "<!-- docs-test: needs-pth -->\n```python\ny = 2\n```\n", encoding="utf-8")
    assert list(code_blocks(doc)) == [
        (2, "python", "x = 1\n", set()),
        (8, "sh", "make test\n", set()),
        (11, "py", "```\nnot a fence end\n", set()),
        (16, "python", "y = 2\n", {"needs-pth"}),
    ]


def clean_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ left in temporary trees
    return env


@pytest.mark.parametrize("path,line,code", EXAMPLES)
def test_example_runs(path, line, code, tmp_path):
    where = f"{path.relative_to(ROOT)}:{line}"
    script = tmp_path / "example.py"
    # Padding: line k of the block is line `line + k` of the document.
    script.write_text("\n" * line + code, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    try:
        result = subprocess.run([sys.executable, str(script)], cwd=work, env=clean_environment(),
                                capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: example did not finish in 120 s", pytrace=False)
    if result.returncode != 0:
        stderr = result.stderr.replace(str(script), str(path.relative_to(ROOT)))
        pytest.fail(f"{where}: example failed (exit status {result.returncode})\n"
                    f"--- stdout\n{result.stdout}--- stderr\n{stderr}", pytrace=False)
