# Two entry points for people: `make demo` and `make test` (CI runs the latter via .ci/run).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SRC    := bin-packing scheduler simulations

.PHONY: demo install test lint typecheck contracts unit browser e2e benchmarks clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Install, then replay the shipped default trace under every policy and print the comparison.
demo: $(STAMP)
	$(BIN)/snugfit simulate

## Every check: lint, types, layer contracts, unit/property/service tests, end-to-end tests.
test: lint typecheck contracts unit e2e

lint: $(STAMP)
	$(BIN)/ruff check $(SRC) tests
	$(BIN)/ruff format --check $(SRC) tests

typecheck: $(STAMP)
	$(BIN)/mypy $(SRC)

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) browser
	$(BIN)/pytest -q -m "not e2e" tests

## The report test opens plans in Debian's headless Chromium; install it when missing.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the report test"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >/dev/null \
	  || { echo "error: chromium is missing and could not be installed (needs root and apt)" >&2; exit 1; }; }

e2e: $(STAMP)
	bash tests/e2e/kubernetes/build.sh
	$(BIN)/pytest -q -m e2e tests/e2e

benchmarks: $(STAMP)
	$(BIN)/python tests/benchmarks/reproduce_published.py
	$(BIN)/python tests/benchmarks/simulator_speed.py

clean:
	rm -rf $(VENV) snugfit-out snugfit-plan .mypy_cache .ruff_cache .hypothesis
