# costline: the team's habits as targets. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.deps-stamp

.PHONY: help demo test test-rust test-python test-wheel bench lint prices build build-release wheel clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

build: $(STAMP) ## build the Rust core into the venv (editable install of python/)
	cd python && ../$(VENV)/bin/maturin develop -q

build-release: $(STAMP)
	cd python && ../$(VENV)/bin/maturin develop -q --release

demo: build ## run the demo app against the local mock provider, then `costline report`
	$(PY) examples/demo.py

test: test-rust test-python test-wheel ## run every test (Rust core, Python against the mock provider, the wheel)

test-rust:
	cargo test -p costline-core

test-python: build
	$(PY) -m pytest tests/python -q

test-wheel: $(STAMP)
	bash scripts/check_wheel.sh

bench: build-release ## overhead vs the raw SDK, cost() and token counting, side by side
	$(PY) benches/bench_python.py
	cargo bench -p costline-core --bench tokens

lint: $(STAMP) ## rustfmt, clippy, ruff
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples scripts
	$(VENV)/bin/ruff format --check python tests benches examples scripts

prices: $(STAMP) ## regenerate core/data/prices.json from the public litellm price list
	$(PY) scripts/gen_prices.py

wheel: $(STAMP) ## build an abi3 wheel into dist/
	cd python && ../$(VENV)/bin/maturin build --release -o ../dist

clean:
	rm -rf target dist $(VENV)
