# tools.mk: Debian packages the "works with your tools" tests use
# (tests/python/test_tools.py). coverage.py is measured on bridge imports; the
# test is skipped, not failed, on a machine without it.
DEBIAN_PACKAGES += python3-coverage
