# `make run` and `make test` work on a fresh machine: each makes .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/xuetangx-kddcup2015-dropout

.PHONY: run test lint unit demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/kizuna run

# The browser tests drive Debian's chromium: Playwright's own browser download needs the internet.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium

test: lint $(CHROMIUM)
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not integration"

# Replays the XuetangX dataset into a running stack (`make run` in another terminal).
demo: $(VENV)/.installed-run
	$(BIN)/kizuna replay xuetangx $(DATA)

# Benchmarks, not part of `make test`: each starts its own stack on free ports, writes
# bench/results/<name>.json, and bench-report turns them into docs/benchmarks.md and its plots.
.PHONY: bench bench-ingest bench-consumer bench-e2e bench-queries bench-report
$(VENV)/.installed-bench: $(VENV)/.installed-run
	$(BIN)/pip install --quiet matplotlib
	touch $@

bench: bench-ingest bench-consumer bench-e2e bench-queries
	$(MAKE) bench-report

# wrk drives the peak load: a Python client cannot saturate a uvicorn worker.
bench-ingest: $(VENV)/.installed-run
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.ingest

bench-consumer: $(VENV)/.installed-run
	$(BIN)/python -m bench.consumer

bench-e2e: $(VENV)/.installed-run
	$(BIN)/python -m bench.replay_e2e --data $(DATA)

bench-queries: $(VENV)/.installed-bench
	$(BIN)/python -m bench.queries --data $(DATA)

bench-report: $(VENV)/.installed-bench
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
