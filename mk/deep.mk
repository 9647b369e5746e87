# make test-deep: the hypothesis tests with many more examples than make
# test runs (tests/python/hypothesis_profiles.py: 5,000 a property instead of
# 150, 1,000 state-machine runs instead of 60, 400 threaded plans instead
# of 25; a few minutes here).
# hypothesis is pinned in deps/dev-requirements.txt.

.PHONY: test-deep

test-deep: install
	cd tests/python && HYPOTHESIS_PROFILE=deep ../../$(PY) -m pytest -q -p no:cacheprovider \
	    test_properties.py test_stateful.py test_stateful_threads.py
