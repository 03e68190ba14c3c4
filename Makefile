# The two commands (README): `make run` sets up and runs the flow on the bundled sample;
# `make test` sets up (Python packages and the real servers the tests start) and runs the tests.
# The first interpreter that really runs and is a version bytewax ships wheels for (3.11, 3.12).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup services lint bench console console-build

# The web console (docs/console.md): built into web/dist when a source is newer, then served by
# the API with the flow replaying the sample (paced, stamped with the current time). A new admin
# key is printed first: paste it into the sign-in page at http://127.0.0.1:8000.
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json \
	web/vite.config.ts $(wildcard operators/enrich/data/labels/*)

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

lint: setup $(WEB_DEPS)
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd web && npm run --silent lint

$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run build

console-build: web/dist/index.html

console: setup web/dist/index.html
	$(BIN)/scorpius api-keys create --role admin --name console
	SCORPIUS_SOURCE_REPLAY_REBASE=true SCORPIUS_OUTPUT_ARCHIVE_ROLL_SECONDS=5 $(BIN)/scorpius serve --flow
