# fireline's two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test check install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,embeddings]'

## Install fireline and run the provider-outage drill on the embedded default.
demo: install
	$(BIN)/fireline drill provider-outage

## Install everything and run lint, types and the whole test suite.
test: install-dev
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/check

clean:
	rm -rf $(VENV) .fireline .mypy_cache .ruff_cache .pytest_cache
