# One command each: `make demo` runs the pipeline on the shipped tiny corpus, `make test` the
# suite. Both create .venv from pyproject.toml first (re-done when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast test-slurm lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,launchers,mlflow,search]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dtl run

test: $(STAMP)
	$(BIN)/ruff check dtl_cli tests scripts
	$(BIN)/ruff format --check dtl_cli tests scripts
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# A one-node Slurm cluster on this machine (root, apt) and a 2-job sweep through sbatch.
test-slurm: $(STAMP)
	bash scripts/slurm_cluster.sh test

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check dtl_cli tests scripts

format: $(STAMP)
	$(BIN)/ruff format dtl_cli tests scripts
	$(BIN)/ruff check --fix dtl_cli tests scripts

bench: $(STAMP)
	$(BIN)/python scripts/bench_cli.py
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_mapping.py
	$(BIN)/python scripts/bench_vectors.py

clean:
	rm -rf $(VENV) .dtl outputs multirun
