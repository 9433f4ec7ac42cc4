# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test gpu-check benchmark-data-stage benchmark-real-traits benchmark-real-genotypes benchmark-default-cost benchmark-batched benchmark-precision clean

# Reinstall only when the pinned dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/snakemake --cores all --configfile config/demo.yaml
	$(BIN)/snakemake --configfile config/demo.yaml --report results/report.html
	@echo "Report: $(CURDIR)/results/report.html (tables: results/summary/, plots: results/plots/)"

test: setup
	$(BIN)/python -m pytest

# Every GPU path once, on the demo cohort and a 1M-SNP one, against CPU runs of the same models
# (docs/benchmarks/gpu.md); on a host without CUDA it stops at once and says so.
gpu-check: setup
	$(BIN)/python benchmarks/gpu_check.py

# The data stage against plink2 (docs/benchmarks/data_stage.md); needs plink2 and GNU time.
benchmark-data-stage: setup
	@command -v plink2 >/dev/null && test -x /usr/bin/time || { echo "needs plink2 and GNU time: apt-get install plink2 time"; exit 1; }
	$(BIN)/python benchmarks/data_stage.py

# Six real traits, every model against GBLUP, and what one GCN candidate costs at 1M SNPs
# (docs/benchmarks/real_traits.md); needs ../shared.
REAL_TRAITS := benchmarks/out/real_traits
benchmark-real-traits: setup
	@test -d ../shared/data/ft10_383 || { echo "needs ../shared/data/ft10_383 beside the checkout"; exit 1; }
	mkdir -p $(REAL_TRAITS)
	start=$$(date +%s); $(BIN)/snakemake --configfile benchmarks/real_traits.yaml --directory $(REAL_TRAITS) --cores all --forceall \
		&& echo $$(( $$(date +%s) - start )) > $(REAL_TRAITS)/wall_seconds
	$(BIN)/python benchmarks/candidate_cost.py
	$(BIN)/python benchmarks/real_traits_table.py

# Wheat and mice genotypes through the VCF path, every model against GBLUP
# (docs/benchmarks/real_genotypes.md); needs ../shared.
benchmark-real-genotypes: setup
	@test -d ../shared/data/wheat_599 -a -d ../shared/data/mice_1814 || { echo "needs ../shared/data/{wheat_599,mice_1814} beside the checkout"; exit 1; }
	$(BIN)/python benchmarks/real_genotypes.py

# The default settings at a real cohort's size: 162 accessions x ~50k SNPs, four traits, ten CV
# repeats (docs/benchmarks/default_cost.md).
benchmark-default-cost: setup
	$(BIN)/python benchmarks/default_cost.py

# Batched GCN members against one at a time: member fits on one core (docs/benchmarks/batched_members.md)
# and one real trait's per-trait job at B = 1-250 with its cost model (docs/benchmarks/batched_job.md;
# needs ../shared, and the cost model the six traits' jobs of `make benchmark-real-traits`).
benchmark-batched: setup
	$(BIN)/python benchmarks/batched_members.py
	$(BIN)/python benchmarks/batched_job.py

# The per-trait models' first layer in float32 against bfloat16 on every shared trait and the
# simulated one (docs/benchmarks/precision.md); needs ../shared.
benchmark-precision: setup
	$(BIN)/python benchmarks/precision.py

clean:
	rm -rf results logs .snakemake
