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

# WORKERS pytest-xdist workers (0: one process). On two cores the suite is CPU-bound
# (user + system time 1.8 times its wall time when run on 3 workers, and no faster than
# in one process), so the default is one process; on a machine with more cores,
# `make test WORKERS=4`. The browser tests keep to one worker (tests/conftest.py).
WORKERS ?= 0

test: $(VENV)/.dev data browser
	MNIST_EXPLORER_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
