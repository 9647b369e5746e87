# make test-deep: the generated-input tests (tests/python/test_properties.py)
# with 5,000 examples a test instead of make test's 150 (HYPOTHESIS_PROFILE
# deep; about two minutes here). hypothesis is pinned in
# deps/dev-requirements.txt.

.PHONY: test-deep

test-deep: install
	cd tests/python && HYPOTHESIS_PROFILE=deep ../../$(PY) -m pytest -q -p no:cacheprovider \
	    test_properties.py
