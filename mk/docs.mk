# make docs: the Sphinx documentation in docs/ (MyST Markdown) as HTML in
# build/docs, warnings as errors (-W --keep-going) and every cross-reference
# checked (-n). Sphinx and MyST-Parser are Debian packages, installed by this
# target only (the deps target, with DOCS_PACKAGES added), and seen from
# .venv through its system site packages. The API page is autodoc of the
# bridgeimport package installed in .venv, so the docs depend on $(STAMP).
# The examples of README.md and docs/ run in tests/python/test_docs.py.

.PHONY: docs

DOCS_PACKAGES := python3-sphinx python3-myst-parser
DOCS_OUT := build/docs
docs: DEBIAN_PACKAGES += $(DOCS_PACKAGES)
docs: install
	rm -rf $(DOCS_OUT)
	$(PY) -m sphinx -b html -W --keep-going -n -q -d build/docs-doctrees docs $(DOCS_OUT)
	@echo "docs: $(DOCS_OUT)/index.html"
