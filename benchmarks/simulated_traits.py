"""Every model on the simulated cohort (the demo's), for a polygenic trait
(`simulate.n_causal` 100, the default) and an oligogenic one (5 causal SNPs), with the per-trait
models on SNP features or on GRM rows (`select.node_features`). Runs the workflow once per case
into benchmarks/out/simulated/{case}/ (only the models: no strategy is timed) and writes
docs/benchmarks/simulated_traits.md.

    .venv/bin/python benchmarks/simulated_traits.py
"""

import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from model_tables import BEFORE_NESTED, MODELS, RECOMMENDED, page_before, what_it_chose  # noqa: E402

from gpgcn.gcn.strategies import STRATEGIES  # noqa: E402

OUT = REPO / "benchmarks" / "out" / "simulated"
CASES = {
    "polygenic, SNP features": {"select": {"node_features": "genotypes"}},
    "polygenic, GRM rows": {"select": {"node_features": "kinship"}},
    "oligogenic, SNP features": {"simulate": {"n_causal": 5}, "select": {"node_features": "genotypes"}},
    "oligogenic, GRM rows": {"simulate": {"n_causal": 5}, "select": {"node_features": "kinship"}},
}
NO_STRATEGIES = dict.fromkeys(STRATEGIES, [])  # predictions only: no strategy is timed
TARGETS = ["results/predictions/FT10_mean.tsv"]  # every model of the trait's job with it


def directory(case):
    return OUT / case.replace(", ", "_").replace(" ", "_")


def run(case):
    work = directory(case)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump({**CASES[case], "strategies": NO_STRATEGIES}))
    snakemake = [str(REPO / ".venv/bin/snakemake"), "--snakefile", str(REPO / "Snakefile")]
    command = [*snakemake, "--directory", str(work), "--configfile", str(work / "config.yaml"), "--cores", "1"]
    subprocess.run([*command, *TARGETS], check=True, capture_output=True)


def rows(case):
    results = directory(case) / "results"
    truth = pd.read_csv(results / "cohort/genetic_values.tsv", sep="\t", dtype={"ID": str}).set_index("ID")
    for model in MODELS:
        metrics = json.loads((results / f"models/FT10_mean/{model}/metrics.json").read_text())
        predictions = pd.read_csv(results / f"models/FT10_mean/{model}/predictions.tsv", sep="\t", dtype={"ID": str})
        test = predictions[predictions["set"] == "test"]
        truth_r = np.corrcoef(test["predicted"], truth["FT10_mean"].reindex(test["ID"]))[0, 1]
        yield (
            f"| {case} | {MODELS[model].display} | {metrics['test_pearson_r']:.3f} | {truth_r:.3f} | "
            f"{what_it_chose(metrics)} |"
        )


def main():
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(run, CASES))
    wall = time.perf_counter() - start
    before = re.search(r"([\d.]+ min) for the four cases", page_before("simulated_traits.md")).group(1)
    cpu = json.loads(
        (directory(next(iter(CASES))) / f"results/models/FT10_mean/{RECOMMENDED}/metrics.json").read_text()
    )
    lines = [
        "# The simulated cohort: polygenic and oligogenic traits, SNP features and GRM rows",
        "",
        "The demo's simulated cohort (`config.yaml`: 383 study accessions, about 12k SNPs after filters,",
        "306 training and 77 test accessions, h² 0.6), its trait drawn from 100 causal SNPs (polygenic, the",
        "default) or from 5 (oligogenic, `simulate.n_causal: 5`); the per-trait models on the SNPs or on",
        "each accession's GRM row (`select.node_features: kinship`). Everything else is `config.yaml`.",
        f"Run on {platform.node()} ({cpu['cpu_model']}, {os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}: "
        f"{wall / 60:.1f} min for the four cases, {os.cpu_count()} at a time ({before} on this page at",
        f"{BEFORE_NESTED}, with eight candidate settings where the GCN now has three).",
        "",
        "```sh",
        ".venv/bin/python benchmarks/simulated_traits.py",
        "```",
        "",
        "r(true g): Pearson r of the test accessions' predictions with their true genetic values (what a",
        "perfect predictor would reach 1.0 on); chosen: what each model chose inside the 306 training",
        "accessions (RKHS's bandwidth h, GBLUP + loci's marker count m, the GCN's settings, the stack's",
        "weights). The split has no CV repeats, so there is no CV r here.",
        "",
        "| case | model | test r | r(true g) | chosen on the training accessions |",
        "| --- | --- | --- | --- | --- |",
        *(line for case in CASES for line in rows(case)),
        "",
    ]
    (REPO / "docs" / "benchmarks" / "simulated_traits.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
