VENV := .venv
PYTHON := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install run test lint audit bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PYTHON) -m crm.stack

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy crm workers vendor_simulator

test: lint
	$(BIN)/pytest

# Known vulnerabilities in the pinned runtime dependencies (asks PyPI's advisory data).
audit: install
	$(BIN)/pip-audit --vulnerability-service pypi -r requirements.txt

bench: install
	$(PYTHON) -m bench.preview
	$(PYTHON) -m bench.send
	$(PYTHON) -m bench.ingest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
