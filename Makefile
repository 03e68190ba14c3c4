# The two commands (README): `make run` sets up and runs the flow on the bundled sample;
# `make test` sets up (Python packages and the real servers the tests start) and runs the tests.
# The first interpreter that really runs and is a version bytewax ships wheels for (3.11, 3.12).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup services lint bench

$(BIN)/scorpius: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/scorpius

run: setup
	$(BIN)/scorpius run

services:
	bash tests/services/install.sh

test: setup services lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
