# make test-matrix: the extension built as a wheel for each Python present
# (pyenv 3.9 .. 3.13, 3.14 and 3.15 from the Debian sid root of `make
# pythons`, the free-threaded 3.13t of `make pythons`, Debian's
# /usr/bin/python3), and the whole pytest suite run against it in a venv of
# that interpreter (tools/test_matrix.sh).
#   make test-matrix                 every interpreter found
#   make test-matrix MATRIX="3.9 3.15"   just these (each must exist)
# Each wheel is built by that interpreter's pip with build isolation, from
# the pins of pyproject.toml; pytest is deps/test-requirements.txt's.
#
# make pythons: the interpreters the matrix needs beyond pyenv's, each made
# once into the cache outside the clone:
#   sid-root    CPython 3.14.10 and 3.15.2, Debian sid's packages pinned in
#               deps/sources.lock, in a debootstrapped sid root
#               (tools/build_sid_root.sh; about 1 minute);
#   python-ft   the free-threaded CPython 3.13.15 built from its pinned
#               source (tools/build_python.sh; about 3 minutes on two cores).

MATRIX ?=
PYTHON_BUILD_PACKAGES := libssl-dev zlib1g-dev libffi-dev liblzma-dev libbz2-dev libsqlite3-dev

.PHONY: test-matrix pythons sid-root python-ft
test-matrix: deps venv sources
	JOBS=$(JOBS) tools/test_matrix.sh $(MATRIX)

pythons: sid-root python-ft

sid-root: DEBIAN_PACKAGES += debootstrap
sid-root: deps
	tools/build_sid_root.sh > /dev/null

python-ft: DEBIAN_PACKAGES += $(PYTHON_BUILD_PACKAGES)
python-ft: deps sources
	JOBS=$(JOBS) tools/build_python.sh python3.13 --disable-gil
