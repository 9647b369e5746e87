# make test-matrix: the extension built as a wheel for each Python present
# (pyenv 3.9 .. 3.13 and Debian's /usr/bin/python3), and the whole pytest
# suite run against it in a venv of that interpreter (tools/test_matrix.sh).
#   make test-matrix                 every interpreter found
#   make test-matrix MATRIX="3.9 3.13"   just these (each must exist)
# Pyenv interpreters get Debian's pure-Python setuptools/wheel/pytest from
# /usr/lib/python3/dist-packages; 3.9 and 3.10 also need these two for pytest.

DEBIAN_PACKAGES += python3-exceptiongroup python3-tomli
MATRIX ?=

.PHONY: test-matrix
test-matrix: deps
	JOBS=$(JOBS) tools/test_matrix.sh $(MATRIX)
