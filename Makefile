# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test benchmark-data-stage clean

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

# The data stage against plink2 (docs/benchmarks/data_stage.md); needs plink2 and GNU time.
benchmark-data-stage: setup
	@command -v plink2 >/dev/null && test -x /usr/bin/time || { echo "needs plink2 and GNU time: apt-get install plink2 time"; exit 1; }
	$(BIN)/python benchmarks/data_stage.py

clean:
	rm -rf results logs .snakemake
