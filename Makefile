# The front door. On a fresh machine with Python 3.11, make and git:
#   make run    set up, build the tiny hero if absent, start every service, open the Tavern
#   make test   set up, then every test (unit, contract, integration, slow, e2e)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test protos lint bench setup clean-venv images test-fleet

setup: $(STAMP)

# Re-install only when the dependency list changes: repeated runs are a no-op.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: this exact version resolves to the local CPU wheel instead of a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/realm play

test: $(STAMP)
	$(BIN)/python tools/protos.py check
	$(BIN)/python -m services.curriculum.evalsets
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

protos: $(STAMP)
	$(BIN)/python tools/protos.py generate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/protos.py check
	$(BIN)/python -m services.curriculum.evalsets

bench: $(STAMP)
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

# The four host-role images (docker/README.md). IMAGE_PROFILE=cpu: local debootstrap base + the local torch CPU
# wheel (no registry needed); IMAGE_PROFILE=cuda: the production build (CUDA torch, bitsandbytes, liger-kernel).
IMAGE_PROFILE ?= cpu
images:
	python3 docker/images.py build --profile $(IMAGE_PROFILE)

# The docker and fleet tests, including the container fleet test that `make test` leaves out (root + docker).
test-fleet: $(STAMP)
	REALM_FLEET_CONTAINERS=1 $(BIN)/python -m pytest -q -s -m "docker or fleet" tests/docker tests/fleet

clean-venv:
	rm -rf $(VENV)
