# Two commands do all the set-up on a machine with only python3: `make tour` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: tour test lint notebooks lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[notebooks,dev]'
	touch $(STAMP)

tour: $(STAMP)                ## the end-to-end demo on the embedded default (DuckDB)
	$(BIN)/python -m eslib.tour

test: $(STAMP) lint           ## lint, type-check, then the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check eslib tests
	$(BIN)/mypy

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
