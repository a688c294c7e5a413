# entra-lp: every target creates .venv and installs what it needs (package registries only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: demo test bench lint typecheck browser clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,graph,notebooks]'
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/entra-lp demo

# Chromium (Debian package) renders the HTML report in the browser tests.
browser:
	@bash scripts/ensure-chromium.sh

test: $(STAMP) browser
	$(VENV)/bin/ruff check entra_lp permission_catalog tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check entra_lp permission_catalog tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) entra-lp-out build *.egg-info
