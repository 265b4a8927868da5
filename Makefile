# costline: the team's habits as targets. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.deps-stamp

NODE_STAMP := node_modules/.deps-stamp
NODE_ADDON := npm/dist/costline.linux-x64-gnu.node

.PHONY: help demo test test-rust test-python test-node test-wheel bench lint prices build build-release build-node wheel clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

build: $(STAMP) ## build the Rust core into the venv (editable install of python/)
	cd python && ../$(VENV)/bin/maturin develop -q

$(NODE_STAMP): package.json package-lock.json npm/package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The release binaries are linked by zig against glibc 2.17 (manylinux2014), so they load on
# Amazon Linux 2, Lambda, Debian 11 and RHEL 8; zig, cargo-zigbuild and auditwheel come from
# requirements-dev.txt. The tests, the tarball and the benches all use this one build.
ZIG_PATH := PATH=$(abspath $(VENV))/bin:$$PATH
GLIBC_TARGET := $(shell uname -m)-unknown-linux-gnu.2.17

build-node: $(NODE_STAMP) $(STAMP) ## build the Node addon (release, glibc 2.17) and the npm package into npm/dist
	cd npm && $(ZIG_PATH) npx napi build --platform --release --cross-compile --target $(GLIBC_TARGET) --manifest-path ../bindings-node/Cargo.toml --output-dir dist --js native.js --dts native.d.ts
	cd npm && npx tsc -p tsconfig.json && node scripts/esm-entries.mjs

build-release: $(STAMP)
	cd python && ../$(VENV)/bin/maturin develop -q --release

demo: build build-node ## run the demo app (Python, then Node, one ledger) against the local mock provider, then `costline report`
	$(PY) examples/demo.py
	node examples/demo.mjs

test: test-rust test-python test-node test-wheel ## run every test (Rust core, Python and Node against the mock provider, the wheel)

test-rust:
	cargo test -p costline-core

test-python: build
	$(PY) -m pytest tests/python -q

test-node: build-node build
	cd tests/node/typecheck && ../../../node_modules/.bin/tsc -p tsconfig.json
	node --test --test-concurrency=2 tests/node/
	bash scripts/check_npm_pack.sh

test-wheel: wheel
	bash scripts/check_wheel.sh

bench: build-release build-node ## every bench side by side with the raw SDK; writes benches/RESULTS.md whole (benches/results.py)
	BENCH_PROFILE="release (Python extension: maturin develop --release; Node addon: napi --release; core: cargo bench)" $(PY) benches/results.py

lint: $(STAMP) ## rustfmt, clippy, ruff
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples scripts
	$(VENV)/bin/ruff format --check python tests benches examples scripts

prices: $(STAMP) ## regenerate core/data/prices.json from the public litellm price list
	$(PY) scripts/gen_prices.py

wheel: $(STAMP) ## build the release abi3 wheel (manylinux2014: glibc 2.17) into dist/
	rm -f dist/costline-*.whl
	cd python && $(ZIG_PATH) ../$(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 -o ../dist

clean:
	rm -rf target dist $(VENV) node_modules npm/dist
