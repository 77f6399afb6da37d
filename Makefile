# Quick start: `make demo` and `make test` on a fresh machine (Python >= 3.11, root for apt).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv system-deps demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch==2.13.0 is the CPU wheel on this disk; any other spec downloads a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,vision,dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/setup-system.sh

DATA ?= ../shared/data

# The bearing diagnosis module the demo runs, trained on CWRU when the data is at hand.
# 'strict' prior: defect-frequency energy counts only for its own fault, so the rig's own
# normal recording is not learned as "healthy" (it generalises to the simulated bearings).
artifacts/diagnosis.zip: | venv
	@mkdir -p artifacts
	@if [ -d "$(DATA)/cwru" ]; then \
	  $(BIN)/edgetwin pdm train-diagnosis --data $(DATA)/cwru --out $@ --prior strict --no-protocols; \
	else echo "no CWRU data at $(DATA)/cwru: the demo runs without bearing diagnosis"; fi

# The demo's inspection module, trained on good parts of the simulated station (under a minute).
artifacts/inspection.zip: | venv
	@mkdir -p artifacts
	$(BIN)/python -c "from edgetwin.vision.synthetic import InspectionStation, write_mvtec_layout; write_mvtec_layout(InspectionStation(seed=1), 'artifacts/station')"
	$(BIN)/edgetwin vision train --data artifacts/station --out $@

demo: venv artifacts/diagnosis.zip artifacts/inspection.zip
	$(BIN)/edgetwin demo

lint: venv
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples

typecheck: venv
	$(BIN)/mypy src

unit: venv
	$(BIN)/pytest $(PYTEST_ARGS)

test: venv system-deps lint typecheck unit

bench: venv
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
