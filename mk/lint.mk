# make lint: the Python sources' static checks.
#   ruff check   python/, tests/, tools/*.py, benchmarks/*.py ([tool.ruff] in
#                pyproject.toml; ruff is pinned in deps/dev-requirements.txt
#                and installed into .venv with the other tools)
#   mypy         Debian's (python3-mypy, installed by this target as docs.mk
#                installs its packages), strict over the package ([tool.mypy])
#   test_typing  a user's program type-checks against the public API and
#                misuses fail where marked (tests/typing/); needs no build
# C++ is not linted here.

.PHONY: lint

LINT_PACKAGES := python3-mypy
RUFF_PATHS := python tests/python tests/typing $(wildcard tools/*.py) $(wildcard benchmarks/*.py)
lint: DEBIAN_PACKAGES += $(LINT_PACKAGES)
lint: venv
	$(VENV)/bin/ruff check $(RUFF_PATHS)
	$(SYSTEM_PYTHON) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider --noconftest tests/python/test_typing.py
