"""The example budgets of the hypothesis tests (test_properties.py,
test_stateful.py), chosen by HYPOTHESIS_PROFILE: "ci" (the default, what
make test runs) or "deep" (make test-deep). No example database: a failure
found is kept as an explicit @example (or a regression test) instead."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=150, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("deep", max_examples=5000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# A state machine's example is a run of up to 40 steps: fewer of them.
MACHINE = settings(max_examples=60 if PROFILE == "ci" else 1000, stateful_step_count=40)

# An example of the threaded model starts up to four threads and sleeps in
# every module it executes: fewer again.
THREADS = settings(max_examples=25 if PROFILE == "ci" else 400)
