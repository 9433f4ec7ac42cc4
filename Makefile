# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test clean

# Reinstall only when the pinned dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/snakemake --cores all
	$(BIN)/snakemake --report results/report.html
	@echo "Report: $(CURDIR)/results/report.html (tables: results/summary/, plots: results/plots/)"

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf results logs .snakemake
