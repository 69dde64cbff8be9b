# Two commands do all set-up on a fresh machine (Python 3.11, npm on PATH):
#   make run    installs, fetches and verifies MNIST, serves the dashboard on localhost
#   make test   installs (with the test tools), fetches MNIST, runs the whole suite
# Both are idempotent: a second run reuses .venv and the cache and takes seconds.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
ARGS   ?=

CHROMIUM ?= $(shell command -v chromium || echo /usr/bin/chromium)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test data browser lint bench clean-venv
.DEFAULT_GOAL := run

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps record that the venv matches the requirement files; editing one reinstalls.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	@echo "Installing requirements.txt into $(VENV) (first time: about 2 minutes)…"
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) -r requirements-dev.txt
	@touch $@

data: $(VENV)/.runtime
	$(BIN)/python -m core fetch

# The same as `mnist-explorer dashboard` (the console script this install provides).
run: data
	$(BIN)/python -m core dashboard $(ARGS)

# The end-to-end test drives Debian's chromium (the browser Playwright would download is
# out of reach offline); installed with apt when it is missing.
browser:
	@[ -x "$(CHROMIUM)" ] || { echo "Installing Debian's chromium for the end-to-end test…"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# Three pytest-xdist workers on two cores: many tests wait on a subprocess, a server or a
# page, and the others use the time. The browser tests keep to one worker
# (tests/conftest.py groups them). `make test WORKERS=0` runs everything in one process.
WORKERS ?= 3

test: $(VENV)/.dev data browser
	MNIST_EXPLORER_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
