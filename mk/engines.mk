# make recipes: the Ray and the Spark recipe (issue 16, part 2), each run in
# local mode on this machine: benchmarks/recipe_ray.py (bi.env() in
# runtime_env's env_vars, plus worker_process_setup_hook) and
# benchmarks/recipe_spark.py (spark.executorEnv.* from bi.env() and the
# bridge directory shipped with spark.archives), tasks returning bridge
# objects to the driver, identity checked. Benchmark-style programs whose
# commands and output the docs quote; not part of `make test` or CI.
#   make recipes                                both programs
#   make recipe-ray / make recipe-spark         one of them
#   make recipes RECIPE_ARGS="--tasks 1000"     arguments (both take --tasks N)
# They run in a venv of their own, $(ENGINES_VENV) (Debian's /usr/bin/python3,
# no system site packages), made once, with the pins of
# deps/engines-requirements.txt (ray, pyspark and their closure) and the wheel
# `make install` builds, reinstalled whenever it changes. Spark needs Java:
# Debian's openjdk-17-jre-headless, which the deps target installs if missing.

ENGINES_VENV := build/engines/venv
ENGINES_PY := $(ENGINES_VENV)/bin/python
ENGINES_PACKAGES := openjdk-17-jre-headless
RECIPE_ARGS ?=

.PHONY: recipes recipe-ray recipe-spark engines-venv

$(ENGINES_PY): | deps
	$(SYSTEM_PYTHON) -m venv $(ENGINES_VENV)

$(ENGINES_VENV)/.pins: deps/engines-requirements.txt | $(ENGINES_PY)
	$(ENGINES_PY) -m pip install --quiet -r deps/engines-requirements.txt
	touch $@

# $(STAMP) is newer whenever `make install` put a rebuilt wheel into .venv.
$(ENGINES_VENV)/.wheel: $(STAMP) $(ENGINES_VENV)/.pins
	$(ENGINES_PY) -m pip install --quiet --force-reinstall --no-deps --no-index \
	    $(WHEEL_DIR)/bridgeimport-*.whl
	touch $@

engines-venv: DEBIAN_PACKAGES += $(ENGINES_PACKAGES)
engines-venv: install $(ENGINES_VENV)/.wheel

recipes: engines-venv
	$(ENGINES_PY) benchmarks/recipe_ray.py $(RECIPE_ARGS)
	$(ENGINES_PY) benchmarks/recipe_spark.py $(RECIPE_ARGS)

recipe-ray: engines-venv
	$(ENGINES_PY) benchmarks/recipe_ray.py $(RECIPE_ARGS)

recipe-spark: engines-venv
	$(ENGINES_PY) benchmarks/recipe_spark.py $(RECIPE_ARGS)
