# make demo / make test work as the first command on a fresh clone: each (re)creates the
# virtualenv when pyproject.toml changed, then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench bench-quick lint docs up clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "linkflow needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/linkflow demo

# Two pytest processes (pytest-xdist), each test file whole on one of them (its module fixtures, such
# as the aws-sam-cli install, never run twice at once): most tests wait on a local stack, so two
# overlap on CI's 2 cores. `pytest tests/...` alone still runs in one process.
test: setup lint
	$(BIN)/pytest -q -n 2 --dist loadfile

# The tests that need no local stack (unit and contract): a minute, for the edit-test loop.
test-fast: setup
	$(BIN)/pytest -q tests/unit tests/contract

lint: setup
	$(BIN)/ruff check src functions tests bench
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

docs: setup
	$(BIN)/python -m linkflow.docs_tables

up: setup
	$(BIN)/linkflow local up --wait-time-scale 0.01

bench: setup
	$(BIN)/python -m bench.run

bench-quick: setup
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .linkflow .pytest_cache .hypothesis
