# The two commands (README): `make run` sets up and runs the flow on the bundled sample;
# `make test` sets up (Python packages and the real servers the tests start) and runs the tests.
# Every step prints one line first, so a long step is never a silent one.
# The first interpreter that really runs and is a version bytewax ships wheels for (3.11, 3.12).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# uv resolves and installs in parallel: a fresh setup takes about a third of pip's time.
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python

.PHONY: run test setup setup-dev services lint bench python console console-build

# The web console (docs/console.md): built into web/dist when a source is newer, then served by
# the API with the flow replaying the sample (paced, stamped with the current time). A new admin
# key is printed first: paste it into the sign-in page at http://127.0.0.1:8000.
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json \
	web/vite.config.ts $(wildcard operators/enrich/data/labels/*)

python:
	@[ -n "$(PYTHON)" ] || { echo "scorpius needs Python 3.11 or 3.12 (python3.11 or python3.12 on PATH; see docs/install.md)" >&2; exit 1; }

$(BIN)/scorpius: pyproject.toml constraints.txt | python
	@echo "setup 1/3: virtual environment $(VENV) ($(PYTHON))"
	@$(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: the installer (uv, pinned in constraints.txt)"
	@$(BIN)/pip install --quiet -c constraints.txt uv
	@echo "setup 3/3: installing scorpius and its dependencies (constraints.txt; about 20 s the first time)"
	@$(UV) -c constraints.txt -e .
	@touch $@
	@echo "setup: done ($(BIN)/scorpius)"

# The tests' and linters' own packages (pytest, ruff, mypy, moto, playwright, ...): `make run`
# does not wait for them.
$(VENV)/.dev: $(BIN)/scorpius
	@echo "setup (tests): installing the test and lint tools (the [dev] extra)"
	@$(UV) -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(BIN)/scorpius

setup-dev: $(VENV)/.dev

run: setup
	@echo "run: scorpius run (the bundled sample -> ./out)"
	@$(BIN)/scorpius run

services:
	@bash tests/services/install.sh

test: setup-dev services lint
	@echo "test: pytest (the real servers start inside the session)"
	@$(BIN)/python -m pytest

lint: setup-dev $(WEB_DEPS)
	@echo "lint 1/3: ruff"
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .
	@echo "lint 2/3: mypy"
	@$(BIN)/mypy
	@echo "lint 3/3: web (tsc)"
	@cd web && npm run --silent lint

$(WEB_DEPS): web/package-lock.json
	@echo "web: installing the console's npm packages (web/package-lock.json)"
	@cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	@echo "web: building the console into web/dist"
	@cd web && npm run --silent build

console-build: web/dist/index.html

console: setup web/dist/index.html
	@echo "console: a new admin API key (paste it into http://127.0.0.1:8000)"
	@$(BIN)/scorpius api-keys create --role admin --name console
	@echo "console: scorpius serve --flow (the API and the flow replaying the sample; Ctrl-C stops)"
	@SCORPIUS_SOURCE_REPLAY_REBASE=true SCORPIUS_OUTPUT_ARCHIVE_ROLL_SECONDS=5 $(BIN)/scorpius serve --flow
