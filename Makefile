# Two commands matter: `make demo` and `make test`. Both create .venv when missing (only Python 3.11+ needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= dev
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test lint typecheck layers pytest install install-dev browser oidc-provider axe-core bench-smoke clean

help:
	@echo "make demo   - install and run the demo at http://127.0.0.1:8000"
	@echo "make test   - install dev tools, then lint, type-check, check layering and run the tests"

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Chorus needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes (the stamp is older than it).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

# llama.cpp (the local-llm extra) is compiled for portable x86-64 with AVX2, not -march=native: on a virtual machine
# whose CPU reports AMX but does not let a process use it (seen here), native code dies at its first AMX instruction
# (ldtilecfg, a general protection fault) on the first prompt. A wheel pip cached from a native build must be removed
# (pip cache remove llama_cpp_python) before this takes effect.
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON)

$(STAMP): pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(STAMP)

demo: install
	$(BIN)/chorus demo

# The real OpenID Provider for the SSO tests (npm's oidc-provider); skipped quietly when npm is absent,
# and the OIDC tests then skip with a reason (CI requires them: see .ci/run).
oidc-provider:
	@if [ -f tests/sso/oidc_op/package.json ] && command -v npm >/dev/null 2>&1 && \
	   [ ! -d tests/sso/oidc_op/node_modules/oidc-provider ]; then \
	  echo "installing npm's oidc-provider for the SSO tests"; \
	  (cd tests/sso/oidc_op && npm ci --no-audit --no-fund --loglevel=error); \
	fi

# Debian's chromium (and node/npm) for the browser tests, installed when missing on a Debian machine where we may
# (root with apt-get, as in CI); elsewhere the browser tests skip with a reason (CI requires them: see .ci/run).
browser:
	@missing="$$(command -v chromium >/dev/null 2>&1 || echo chromium) $$(command -v npm >/dev/null 2>&1 || echo nodejs npm)"; \
	if [ -n "$$(echo $$missing)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's $$(echo $$missing) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "$$(echo $$missing) missing: the browser tests will skip (apt-get install $$(echo $$missing))"; \
	  fi; \
	fi

# npm's axe-core for the accessibility check of every page (tests/ui/test_accessibility.py); same rules as
# oidc-provider: skipped quietly without npm, and then that test skips with a reason (CI requires it).
axe-core:
	@if [ -f tests/ui/axe/package.json ] && command -v npm >/dev/null 2>&1 && \
	   [ ! -f tests/ui/axe/node_modules/axe-core/axe.min.js ]; then \
	  echo "installing npm's axe-core for the accessibility checks"; \
	  (cd tests/ui/axe && npm ci --no-audit --no-fund --loglevel=error); \
	fi

lint: install-dev
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy workspace sso channels personas insights tests

layers: install-dev
	$(BIN)/lint-imports

pytest: install-dev browser oidc-provider axe-core
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; exit $$rc

test: lint typecheck layers pytest

bench-smoke: install-dev
	@for b in tests/bench/*.py; do \
	  name=$$(basename $$b .py); [ "$$name" = "__init__" ] && continue; \
	  echo "== smoke: tests.bench.$$name"; $(BIN)/python -m tests.bench.$$name --smoke || exit 1; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
