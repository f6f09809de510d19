# The two commands: `make run` and `make test`. Both install into .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED := ../shared/seed/000_b4c0d37c8ab855e5.txt

.PHONY: run test bench lint install clean container-test preview

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/earnings-bot run

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The seed transcript's digest in the terminal, without starting the service.
preview: $(STAMP)
	$(BIN)/earnings-bot extract $(SEED)

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/mypy

# Extraction (interpreted, then the mypyc-compiled build the image ships: needs gcc), Slack and sources.
bench: $(STAMP)
	$(BIN)/python -m bench

# Build the Docker image with podman and run it under chroot (see scripts/container-test.sh). Needs root.
container-test:
	bash scripts/container-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
