# Manifold: one MCP endpoint in front of many MCP servers.
# `make run` and `make test` work on a fresh clone: they install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CHAT_PORT ?= 8001

# The venv's programs come first on PATH for every recipe. (servers.toml does not need it: its
# example servers run with the proxy's own interpreter, `module = "..."`.)
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYRIGHT_PYTHON_IGNORE_WARNINGS := 1

.PHONY: install system-deps web run test lint fmt clean conformance screenshots bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,otel]'
	touch $(STAMP)

# The web UI, built by npm from the lockfile when its sources change (the build is not committed).
WEB := chat_api/web
WEB_SOURCES := $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(shell find $(WEB)/src -type f 2>/dev/null)

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

$(WEB)/dist/index.html: $(WEB)/node_modules/.installed $(WEB_SOURCES)
	cd $(WEB) && npm run build

web: $(WEB)/dist/index.html

# Programs some tests drive for real: a browser for the UI tests, HAProxy for sticky routing, Redis
# for the shared token store.
SYSTEM_PACKAGES := chromium haproxy redis-server
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (tests that need them will not run)"; fi; \
	fi

# The proxy over HTTP with the example servers, and the chat service (API + UI) in front of it.
# Ctrl-C stops both, and the proxy stops its children.
run: install web
	@trap 'kill $$proxy $$chat 2>/dev/null; wait' INT TERM EXIT; \
	$(BIN)/mcp-proxy serve --transport http --host $(HOST) --port $(PORT) & proxy=$$!; \
	MCP_SERVER_URL=http://$(HOST):$(PORT)/mcp CHAT_API_HOST=$(HOST) CHAT_API_PORT=$(CHAT_PORT) \
		$(BIN)/python -m chat_api & chat=$$!; \
	echo "proxy: http://$(HOST):$(PORT)/mcp   chat: http://$(HOST):$(CHAT_PORT)/"; \
	wait

# Format, lint, strict types, and the size ceiling (no module of the packages over 500 lines).
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pyright
	$(BIN)/python tools/check_module_sizes.py

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install system-deps lint web
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest -p no:playwright -p no:base_url --ignore=tests/e2e --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)
	cd $(WEB) && npm test
	E2E_REQUIRED=1 $(BIN)/python -m pytest tests/e2e --output test-results/playwright
	$(BIN)/python -m tests.conformance.run $(CONFORMANCE_ARGS)
	$(BIN)/python -m tests.conformance.run --fast-path off --results .conformance/results/sdk-path $(CONFORMANCE_ARGS)
	$(BIN)/python -m tests.conformance.auth_clients --quiet

# The benchmark suite: the proxy and its peers against direct connections (writes bench/results/latest.*),
# then one call with five upstreams against one, and memory over 100,000 calls (bench/results/*.md).
bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.upstream_count --out bench/results/upstream_count.md
	$(BIN)/python -m bench.soak --out bench/results/soak.md

# Refresh the screenshots under docs/screenshots from an end-to-end run.
screenshots: install system-deps web
	E2E_UPDATE_DOCS=1 $(BIN)/python -m pytest tests/e2e --output test-results/playwright

# The official MCP conformance suite (0.1.16, and the 2025-11-25 and 2026-07-28 requirement sets),
# directly against the fixtures and through the proxy on every front and upstream transport
# (tests/conformance/README.md); CONFORMANCE_ARGS passes options, e.g. --setup NAME. Then the
# client authorization scenarios with the proxy as the client.
conformance: install
	$(BIN)/python -m tests.conformance.run $(CONFORMANCE_ARGS)
	$(BIN)/python -m tests.conformance.auth_clients --quiet

clean:
	rm -rf $(VENV) .coverage .coverage.* .pytest_cache .ruff_cache build *.egg-info examples/data/*.db .conformance/results $(WEB)/dist $(WEB)/node_modules test-results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
