# Two commands do all setup on a fresh machine: `make demo` and `make test`.
# Everything else here is what they call, or a developer's convenience.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM    := $(shell command -v npm 2>/dev/null)

.PHONY: demo test install node contracts proto lint bench mutate chromium clean

demo: $(STAMP)
	$(PY) -m router.devtools.demo

test: $(STAMP) node
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Node tools (anvil, buf, solc-js) pinned by lockfiles; without npm the tests
# that need them skip with a reason. `npm ci` installs exactly the lock and
# never rewrites it: the committed locks are what npm itself writes (every
# platform's optional binary listed), so a run leaves the checkout clean
# (tests/test_checkout.py checks the locks match the commit).
NPM_INSTALL := npm ci --no-audit --no-fund --loglevel=error
node: node_modules/.installed contracts/node_modules/.installed

node_modules/.installed: package.json package-lock.json
ifdef NPM
	$(NPM_INSTALL)
	touch $@
else
	@echo "npm not found: tests needing anvil/buf will be skipped"
endif

contracts/node_modules/.installed: contracts/package.json contracts/package-lock.json
ifdef NPM
	cd contracts && $(NPM_INSTALL)
	touch $@
else
	@echo "npm not found: the contract artifact check will be skipped"
endif

contracts: $(STAMP) contracts/node_modules/.installed
	cd contracts && node build.mjs

proto: $(STAMP) node_modules/.installed
	$(PY) -m router.devtools.protogen

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Mutation testing of the critical modules (slow: not part of `make test`).
# MUTATE_ARGS picks targets, e.g. MUTATE_ARGS="money treaties".
mutate: $(STAMP)
	$(PY) -m tests.mutation --workers 2 $(MUTATE_ARGS)

bench: $(STAMP) node
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# Optional: Debian's Chromium for the test that renders the operator's report
# (it skips without it). Needs apt and the rights to install a package.
chromium:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium || \
		echo "install Debian's chromium package to run the report rendering test"

clean:
	rm -rf $(VENV) node_modules contracts/node_modules
