# make test-matrix: the extension built as a wheel for each Python present
# (pyenv 3.9 .. 3.13, the free-threaded 3.13t of `make pythons`, Debian's
# /usr/bin/python3), and the whole pytest suite run against it in a venv of
# that interpreter (tools/test_matrix.sh).
#   make test-matrix                 every interpreter found
#   make test-matrix MATRIX="3.9 3.13"   just these (each must exist)
# Each wheel is built by that interpreter's pip with build isolation, from
# the pins of pyproject.toml; pytest is deps/test-requirements.txt's.
#
# make pythons: the interpreters built from pinned source into the cache
# outside the clone, once (tools/build_python.sh; about 3 minutes on two
# cores): today the free-threaded CPython 3.13.15.

MATRIX ?=
PYTHON_BUILD_PACKAGES := libssl-dev zlib1g-dev libffi-dev liblzma-dev libbz2-dev libsqlite3-dev

.PHONY: test-matrix pythons
test-matrix: deps venv sources
	JOBS=$(JOBS) tools/test_matrix.sh $(MATRIX)

pythons: DEBIAN_PACKAGES += $(PYTHON_BUILD_PACKAGES)
pythons: deps sources
	JOBS=$(JOBS) tools/build_python.sh python3.13 --disable-gil
