# The README's two commands: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# schemathesis in a venv of its own: it only talks HTTP to the server, and its releases need a
# jsonschema-rs that langgraph-api (langgraph dev, in the dev extra) forbids
FUZZ   := .venv-fuzz/bin/schemathesis

.PHONY: install run test lint typecheck bench fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Sanji 需要 Python 3.11 或更高版本 (needs Python 3.11+)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Set up, load demo data into the embedded SQLite store, start the server (prints the URL).
run: install
	$(BIN)/sanji serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

$(FUZZ):
	test -x .venv-fuzz/bin/python || $(PYTHON) -m venv .venv-fuzz
	.venv-fuzz/bin/python -m pip install --quiet 'schemathesis>=4.30,<5'

## Set up and pass the tests (lint, types, unit and integration).
test: lint typecheck $(FUZZ)
	$(BIN)/pytest

## The bounded schemathesis pass over the HTTP API on both stores (loopback only; reports)
fuzz: install $(FUZZ)
	$(BIN)/python -m evals.fuzz_api --store sqlite --seconds 240 --max-examples 20 --out data/fuzz
	$(BIN)/python -m evals.fuzz_api --store postgresql --seconds 240 --max-examples 20 --out data/fuzz

clean:
	rm -rf $(VENV) .venv-fuzz data .pytest_cache .mypy_cache .ruff_cache

## Benchmarks (report figures; need PostgreSQL for the third line)
bench: install
	$(BIN)/python -m evals.bench.startup --out data/bench/startup.json
	$(BIN)/python -m evals.bench_store --url sqlite:///data/bench.db --events 1000000 --out data/bench
	$(BIN)/python -m evals.bench_store --url postgresql://postgres@127.0.0.1:5432/sanji_bench --events 1000000 --out data/bench
