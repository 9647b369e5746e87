# make lint: the static checks of the Python and C++ sources.
#   ruff check   python/, tests/, tools/*.py, benchmarks/*.py ([tool.ruff] in
#                pyproject.toml; ruff is pinned in deps/dev-requirements.txt
#                and installed into .venv with the other tools)
#   mypy         Debian's (python3-mypy, installed by this target as docs.mk
#                installs its packages), strict over the package ([tool.mypy])
#   test_typing  a user's program type-checks against the public API and
#                misuses fail where marked (tests/typing/); needs no build
#   clang-format the C++ sources (.clang-format), checked, never rewritten
#                here: `clang-format -i` on a file applies the style

.PHONY: lint

LINT_PACKAGES := python3-mypy clang-format
RUFF_PATHS := python tests/python tests/typing $(wildcard tools/*.py) $(wildcard benchmarks/*.py)
lint: DEBIAN_PACKAGES += $(LINT_PACKAGES)
CPP_SOURCES := $(wildcard finders/*.cc finders/*.h loader/*.cc loader/*.h tests/cpp/*.cc \
  tests/cpp/*.h fuzz/*.cc fuzz/*.h benchmarks/*.cc)
lint: venv
	$(VENV)/bin/ruff check $(RUFF_PATHS)
	clang-format --dry-run --Werror --style=file $(CPP_SOURCES)
	$(SYSTEM_PYTHON) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider --noconftest tests/python/test_typing.py
