# The two front-door commands: `make demo` and `make test`. Both bootstrap .venv themselves.
# Every install comes from the hashed lock files in requirements/ (`make lock` refreshes them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The images: built and smoke-tested with podman (deploy/images/podman_images.py).
IMAGE ?= localhost/log-indexer:ci
APP_BASE_IMAGE ?= localhost/log-pipeline/app-base-debian:ci
export CONTAINERS_CONF ?= $(CURDIR)/deploy/images/containers.conf
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet
SCRIPTS := deploy/images

.PHONY: demo test lint typecheck unit cluster e2e venv clean lock image image-smoke core \
  core-check core-fuzz core-wheel

$(BIN)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/.installed $(BIN)/.core

# The native core (rust/indexer-core, docs/native-core.md): built by the machine's cargo and
# maturin into a wheel and installed into .venv. Without them the project runs on the Python
# reference core (`core: auto` falls back; `core: native` refuses to start).
CARGO ?= cargo
MATURIN ?= maturin
CORE := rust/indexer-core
CORE_SOURCES := $(wildcard $(CORE)/src/*.rs $(CORE)/python/indexer_core/*) \
  $(CORE)/Cargo.toml $(CORE)/Cargo.lock $(CORE)/pyproject.toml
CORE_ENV := PYO3_PYTHON=$(CURDIR)/$(BIN)/python

$(BIN)/.core: $(BIN)/.installed $(CORE_SOURCES)
	@if command -v $(CARGO) >/dev/null 2>&1 && command -v $(MATURIN) >/dev/null 2>&1; then \
	  rm -rf $(CORE)/target/wheels && \
	  $(CORE_ENV) $(MATURIN) build --quiet --release --locked -i $(BIN)/python \
	    -m $(CORE)/Cargo.toml -o $(CORE)/target/wheels && \
	  $(BIN)/python -m pip install --quiet --no-deps --force-reinstall \
	    $(CORE)/target/wheels/indexer_core-*.whl; \
	else \
	  echo "SKIP native core: cargo or maturin not found; the Python reference core runs"; \
	fi
	touch $@

core: $(BIN)/.core

# The wheel the image installs (Dockerfile): the one `core` built with this machine's toolchain
# for .venv's Python (3.11, as the image's), copied into dist/core/ (the only part of the build
# context besides the package). No wheel (no cargo or maturin here) is an error: the image runs
# with INDEXER_CORE=native.
core-wheel: $(BIN)/.core
	@rm -rf dist/core && mkdir -p dist/core
	@cp $(CORE)/target/wheels/indexer_core-*.whl dist/core/ 2>/dev/null || { \
	  echo "no native core wheel: the image needs cargo and maturin to build it (docs/operations.md)"; \
	  exit 1; }
	@echo "core wheel: $$(ls dist/core)"

# The crate's own gates: formatting, clippy with warnings as errors, its unit tests.
core-check: $(BIN)/.installed
	@if command -v $(CARGO) >/dev/null 2>&1; then \
	  cd $(CORE) && $(CARGO) fmt --check && \
	  $(CORE_ENV) $(CARGO) clippy --quiet --locked --all-targets -- -D warnings && \
	  $(CORE_ENV) $(CARGO) test --quiet --locked; \
	else \
	  echo "SKIP native core checks: cargo not found"; \
	fi

# The coverage-guided fuzz target (rust/indexer-core/fuzz, docs/native-core.md "Fuzzing"): built on
# stable with libFuzzer, run for FUZZ_SECONDS; its corpus is kept between runs.
FUZZ_SECONDS ?= 60
core-fuzz: $(BIN)/.installed
	@if command -v $(CARGO) >/dev/null 2>&1; then \
	  $(CORE_ENV) $(CORE)/fuzz/run $(FUZZ_SECONDS); \
	else \
	  echo "SKIP native core fuzzing: cargo not found"; \
	fi

# Re-resolve every lock file against PyPI (the runtime one first: dev is constrained to it, so
# both install the same versions). uv comes from the dev lock itself.
lock: $(BIN)/.installed
	UV_NATIVE_TLS=1 $(BIN)/uv pip compile $(LOCK_FLAGS) --upgrade pyproject.toml \
	  -o requirements/runtime.txt
	UV_NATIVE_TLS=1 $(BIN)/uv pip compile $(LOCK_FLAGS) --upgrade requirements/build.in \
	  -o requirements/build.txt
	UV_NATIVE_TLS=1 $(BIN)/uv pip compile $(LOCK_FLAGS) --upgrade pyproject.toml --extra dev \
	  requirements/build.in requirements/tools.in \
	  -c requirements/runtime.txt -c requirements/build.txt -o requirements/dev.txt

demo: $(BIN)/.installed $(BIN)/.core
	$(BIN)/indexer demo

lint: $(BIN)/.installed
	$(BIN)/ruff check indexer tests bench $(SCRIPTS)
	$(BIN)/ruff format --check indexer tests bench $(SCRIPTS)

typecheck: $(BIN)/.installed
	$(BIN)/mypy
	$(BIN)/mypy $(SCRIPTS)

# Tests run in parallel workers (pytest-xdist): each test starts its own servers on free ports
# and its own processes, and most of a test's time is spent waiting on them (two workers kept
# a two-core machine at a load of about 1), so there are more workers than cores. `worksteal`:
# a worker that runs out takes half of another's queue, so the long end-to-end tests (collected
# first) never end up queued behind one worker while the other idles (`load` never takes back
# what it sent: a fresh-clone run spent its last 15 minutes on one worker).
TEST_WORKERS ?= 4
PYTEST_DIST := -n $(TEST_WORKERS) --dist worksteal

test: lint typecheck core-check core-fuzz $(BIN)/.core
	$(BIN)/indexer templates validate
	$(BIN)/pytest $(PYTEST_DIST)

# The lanes, each on its own (README "Development"; `make test` runs them all in one pytest run,
# so the workers stay busy to the end). unit: no servers, no sleeping. cluster: in-process
# against the real servers, both products. e2e: `indexer` as a process (marked `slow`).
unit: $(BIN)/.installed
	$(BIN)/pytest -q $(PYTEST_DIST) tests/unit

cluster: $(BIN)/.installed $(BIN)/.core
	$(BIN)/pytest -q $(PYTEST_DIST) -m "not slow" --ignore=tests/unit

e2e: $(BIN)/.installed $(BIN)/.core
	$(BIN)/pytest -q $(PYTEST_DIST) -m slow

# Build the indexer image from the Dockerfile (on a locally bootstrapped Debian base when the
# upstream Python image is not present and PULL_PYTHON_IMAGE is not 1) and print its size. The
# native core's wheel is built first (core-wheel): the image installs it.
image: $(BIN)/.installed core-wheel
	$(BIN)/python deploy/images/podman_images.py build --image $(IMAGE)

# Build both images and run their smoke tests (tests/deploy/test_images.py).
image-smoke: $(BIN)/.installed core-wheel
	$(BIN)/python deploy/images/podman_images.py smoke --image $(IMAGE) \
	  --app-base-image $(APP_BASE_IMAGE)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
