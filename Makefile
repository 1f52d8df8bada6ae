# Two entry points (see README): `make run` and `make test`. Both create .venv if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
WS     ?= .mlops

.PHONY: run test lint typecheck bench clean

$(BIN)/mlops-tui: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,compiled]'
	$(BIN)/python -m compileall -q mlops_tui screens store  # bytecode up front: start-up never compiles
	touch $@

run: $(BIN)/mlops-tui  ## set up, register the sample data, open the workbench
	$(BIN)/mlops-tui --workspace $(WS) init --sample
	$(BIN)/mlops-tui --workspace $(WS)

test: $(BIN)/mlops-tui  ## set up and run the whole test suite (the layer contract is tests/unit/test_layers.py)
	$(BIN)/ruff check .
	$(MAKE) typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The code is formatted by hand (ruff's lint rules, line length 110), not by `ruff format`, which
# would rewrite 211 of 250 files: lint is what CI runs (make test's first step), nothing stricter.
lint: $(BIN)/mlops-tui  ## ruff's lint rules, as make test and CI run them
	$(BIN)/ruff check .

# mypy sees the installed layout (store/ and screens/ are mlops_tui.store / mlops_tui.screens) through
# a tree of links in .typecheck/, since it cannot follow setuptools' package-dir mapping.
DOMAIN = data training evaluation registry serving monitoring pipelines
typecheck: $(BIN)/mlops-tui  ## mypy --strict on store/, the domain and screens/ (config in pyproject.toml)
	rm -rf .typecheck && mkdir -p .typecheck/mlops_tui
	for e in mlops_tui/*; do ln -s ../../$$e .typecheck/mlops_tui/; done
	ln -s ../../store .typecheck/mlops_tui/store
	ln -s ../../screens .typecheck/mlops_tui/screens
	ln -s ../../sample_data .typecheck/mlops_tui/sample_data
	cd .typecheck && ../$(BIN)/python -m mypy --config-file ../pyproject.toml --cache-dir ../.mypy_cache \
		-p mlops_tui.store -p mlops_tui.screens $(foreach p,$(DOMAIN),-p mlops_tui.$(p)) \
		-m mlops_tui.workspace -m mlops_tui.refs -m mlops_tui.errors -m mlops_tui.sql \
		-m mlops_tui.formatting -m mlops_tui.processes -m mlops_tui.extras -m mlops_tui.results -m mlops_tui.stats

bench: $(BIN)/mlops-tui
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(WS) .pytest_cache .ruff_cache .mypy_cache .typecheck *.egg-info
