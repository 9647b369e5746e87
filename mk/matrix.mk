# make test-matrix: the extension built as a wheel for each Python present
# (pyenv 3.9 .. 3.13 and Debian's /usr/bin/python3), and the whole pytest
# suite run against it in a venv of that interpreter (tools/test_matrix.sh).
#   make test-matrix                 every interpreter found
#   make test-matrix MATRIX="3.9 3.13"   just these (each must exist)
# Each wheel is built by that interpreter's pip with build isolation, from
# the pins of pyproject.toml; pytest is deps/test-requirements.txt's.

MATRIX ?=

.PHONY: test-matrix
test-matrix: deps venv sources
	JOBS=$(JOBS) tools/test_matrix.sh $(MATRIX)
