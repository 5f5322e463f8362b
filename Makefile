# Two commands do all the set-up on a machine with only python3: `make tour` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: tour test test-notebooks lint notebooks lab dashboard clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[notebooks,dev]'
	touch $(STAMP)

tour: $(STAMP)                ## the end-to-end demo on the embedded default (DuckDB)
	$(BIN)/python -m eslib.tour

test: $(STAMP) lint browser   ## lint, type-check, then the whole test suite, then the notebooks
	$(BIN)/python -m pytest
	$(MAKE) test-notebooks

# The course as tests. Strict: every cell's output compared (text, not HTML) on the
# embedded default. Then each notebook must run without error in memory and on a fresh
# PostgreSQL database per notebook (found like the tests find one; skipped without a server
# unless ESLIB_REQUIRE_POSTGRES=1).
NBVAL := $(BIN)/python -m pytest -p no:cacheprovider --nbval-current-env
test-notebooks: $(STAMP)      ## nbval: strict on the embedded store, lax on memory and PostgreSQL
	env -u ESLIB_NOTEBOOK_URL $(NBVAL) --nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/
	ESLIB_NOTEBOOK_URL=memory:// $(NBVAL) --nbval-lax notebooks/
	env -u ESLIB_NOTEBOOK_URL $(NBVAL) --nbval-lax --nbval-postgres notebooks/

notebooks: $(STAMP)           ## re-execute notebooks/ in place: fresh outputs, clean metadata
	$(BIN)/python -m eslib.tour --in-place

lab: $(STAMP)                 ## JupyterLab on the course
	$(BIN)/jupyter lab notebooks/

dashboard: $(STAMP)           ## the stream explorer as a web page (Voila) on $ESLIB_URL; DEMO=1: demo data
	$(BIN)/python -m eslib.dashboard $(if $(DEMO),--demo)

# The widget tests drive a real Chromium. Debian's package works offline here;
# playwright's own browser download does not. Needs root (CI runs as root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing: install it (apt-get install chromium) for the browser tests"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check eslib tests
	$(BIN)/mypy

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
