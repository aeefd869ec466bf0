# townsquare: `make demo` and `make test` each set up .venv on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := -c constraints.txt
SRC := pyproject.toml constraints.txt

.PHONY: demo test test-all reproduce bench bench-10m lint format install install-dev clean

# ---------------------------------------------------------------- environment
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# stamps re-install only when pyproject.toml or constraints.txt change
$(VENV)/.stamp-base: $(BIN)/python $(SRC)
	$(PIP) install --quiet $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PIP) install --quiet $(CONSTRAINTS) -e ".[dev]"
	@touch $@

install: $(VENV)/.stamp-base
install-dev: $(VENV)/.stamp-dev

# ---------------------------------------------------------------- the two commands
demo: $(VENV)/.stamp-base
	$(BIN)/townsquare run default

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -n 2

# ---------------------------------------------------------------- the rest
test-all: $(VENV)/.stamp-dev
	TOWNSQUARE_FUZZ=long $(BIN)/python -m pytest -n 2 -m ""

reproduce: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -m slow -v
	$(BIN)/townsquare reproduce meylahn2024 --out runs/meylahn2024
	$(BIN)/townsquare reproduce jin2024 --out runs/jin2024
	$(BIN)/townsquare reproduce cicero2022 --out runs/cicero2022
	$(BIN)/townsquare reproduce deepseek2025 --out runs/deepseek2025
	$(BIN)/townsquare reproduce acorn2022 --out runs/acorn2022
	$(BIN)/townsquare reproduce guess2023 --out runs/guess2023
	for net in gunsense ff; do $(BIN)/townsquare calibrate default --target $$net \
	    --param roles.citizen.repost_rate=0.002:0.05 --param feed.out_of_network=0:1 \
	    --param opinion.epsilon=0.1:0.6 --budget 1000 --out runs/calibrate-$$net || exit 1; done

bench: $(VENV)/.stamp-dev
	$(BIN)/python benchmarks/bench_world.py
	$(BIN)/python benchmarks/bench_realism.py
	$(BIN)/python benchmarks/bench_opinion.py
	$(BIN)/python benchmarks/bench_text.py
	$(BIN)/python benchmarks/bench_envs.py
	$(BIN)/python benchmarks/bench_fork.py
	$(BIN)/python benchmarks/bench_population.py
	$(BIN)/python benchmarks/bench_planner.py
	$(BIN)/python benchmarks/bench_grpo.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_feeds.py

# the ten-million-user rows (issue 17), against 10^6 in the same invocation: about 25 min
# on 2 cores, peaks near 9 GB (the `all` run at 10^7)
bench-10m: $(VENV)/.stamp-dev
	for ev in sample all; do $(BIN)/python benchmarks/bench_world.py --sizes 1000000,10000000 \
	    --reference 1000000 --events $$ev --out benchmarks/results/world_1e7_$$ev.json || exit 1; done

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(VENV)/.stamp-dev
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
