# Two entry points (see README): `make run` and `make test`. Both create .venv if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
WS     ?= .mlops

.PHONY: run test lint bench clean

$(BIN)/mlops-tui: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q mlops_tui screens store  # bytecode up front: start-up never compiles
	touch $@

run: $(BIN)/mlops-tui  ## set up, register the sample data, open the workbench
	$(BIN)/mlops-tui --workspace $(WS) init --sample
	$(BIN)/mlops-tui --workspace $(WS)

test: $(BIN)/mlops-tui  ## set up and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(BIN)/mlops-tui
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/mlops-tui
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(WS) .pytest_cache .ruff_cache *.egg-info
