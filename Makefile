VENV := .venv
PYTHON := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install install-dev run test lint browser audit bench bench-million clean

$(PYTHON):
	python3 -m venv $(VENV)

# `make run` installs what runs locally (the image's requirements and the embedded servers);
# `make test` adds the development tools. Each has its own stamp.
$(VENV)/.installed-local: requirements.txt requirements-local.txt build-constraints.txt | $(PYTHON)
	PIP_CONSTRAINT=build-constraints.txt $(PYTHON) -m pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local requirements-dev.txt
	PIP_CONSTRAINT=build-constraints.txt $(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed-local

install-dev: $(VENV)/.installed-dev

run: install
	$(PYTHON) -m devstack

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy crm workers vendor_simulator devstack

# The browser tests drive Debian's chromium: Playwright's own browser download cannot work here.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

test: lint browser
	$(BIN)/pytest

# Known vulnerabilities in the pinned runtime dependencies (asks PyPI's advisory data).
# --strict: a package it could not look up fails the audit; it never passes unchecked.
audit: install-dev
	$(BIN)/pip-audit --strict --vulnerability-service pypi -r requirements.txt

bench: install-dev
	$(PYTHON) -m bench.preview
	$(PYTHON) -m bench.send
	$(PYTHON) -m bench.ingest
	$(PYTHON) -m bench.soak
	$(PYTHON) -m bench.crash
	$(PYTHON) -m bench.load
	$(PYTHON) -m bench.dashboard

# Hours on a small machine: 1,000,000 customers and 2,000,000 orders through the bulk import.
bench-million: install-dev
	$(PYTHON) -m bench.million

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
