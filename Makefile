# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LABELOP_DATA_DIR ?= $(CURDIR)/labelop-data

.PHONY: run test check bench openapi clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/labelop serve --host 127.0.0.1 --port 8000

# Browser tests drive Debian's Chromium: Playwright cannot download its own browser here.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 2
	@if [ -n "$$LABELOP_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$LABELOP_TEST_DATABASE_URL) =="; \
	  LABELOP_DATABASE_URL="$$LABELOP_TEST_DATABASE_URL" $(BIN)/python -m pytest -q -n 2; \
	fi

check: $(STAMP)
	$(BIN)/ruff check labelop tests bench
	$(BIN)/mypy labelop

# Benchmarks take minutes; they write docs/benchmarks.md. wrk drives the serving benchmark.
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/serve.py

openapi: $(STAMP)
	$(BIN)/python -m labelop openapi > openapi.json

clean:
	rm -rf $(VENV) build *.egg-info
