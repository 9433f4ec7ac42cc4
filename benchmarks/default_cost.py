"""What the default settings cost at a real cohort's size: 162 accessions × about 50,000 SNPs, four
traits, a fixed test set and ten repeats of 5-fold CV, every model of the registry with the
settings of `config.yaml`, on this machine's cores. The cohort is the pipeline's own simulation
(mode simulate) at that size; its test set and CV repeats are drawn here, seeded, as a paper
publishes them. Runs the workflow into benchmarks/out/default_cost/ (the per-trait models only:
no strategy is timed) and writes docs/benchmarks/default_cost.md.

    .venv/bin/python benchmarks/default_cost.py
"""

import os
import platform
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psutil
import yaml
from model_tables import (
    BEFORE_NESTED,
    GRAPH_MODEL,
    RECOMMENDED,
    REPO,
    average_rows,
    cost_rows,
    goal_rows,
    metrics,
    page_before,
)

from gpgcn.gcn.strategies import STRATEGIES  # model_tables puts the package on the path

OUT = REPO / "benchmarks" / "out" / "default_cost"
TRAITS = ["trait_1", "trait_2", "trait_3", "trait_4"]
N_STUDY, N_TEST, FOLDS, REPEATS = 162, 32, 5, 10
COHORT = {
    # 4.2 % of each TAIR10 chromosome (5 Mb in all): about 50,000 SNPs among 162 accessions after
    # the default MAF and missingness filters.
    "simulate": {"n_accessions": 400, "n_study": N_STUDY, "length_scale": 0.042, "seed": 7},
    "input": {"traits": TRAITS},
}
NO_STRATEGIES = dict.fromkeys(STRATEGIES, [])  # predictions only: no strategy is timed


def snakemake(config_path, *targets, cores):
    command = [
        str(REPO / ".venv/bin/snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(OUT),
        "--configfile",
        str(config_path),
        "--cores",
        str(cores),
        *targets,
    ]
    subprocess.run(command, check=True, capture_output=True)


def published_split():
    """A seeded test set and ten repeats of 5-fold CV over the rest, as files a paper would give."""
    study = (OUT / "results/cohort/study_accessions.txt").read_text().split()
    rng = np.random.default_rng(11)
    test = sorted(rng.choice(study, N_TEST, replace=False).tolist())
    training = [a for a in study if a not in set(test)]
    folds = pd.DataFrame({"ID": training})
    for repeat in range(1, REPEATS + 1):
        folds[f"cv_{repeat}"] = 1 + rng.permutation(len(training)) % FOLDS
    (OUT / "test_ids.txt").write_text("\n".join(test) + "\n")
    folds.to_csv(OUT / "cv_folds.csv", index=False)


def main():
    # A fresh folder: Snakemake does not see a change of src/gpgcn/, and a job it skipped would be
    # time the page does not count.
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    config = {**COHORT, "strategies": NO_STRATEGIES}
    (OUT / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(OUT / "config.yaml", "results/cohort/study_accessions.txt", cores=1)
    published_split()
    config["split"] = {"test_ids": "test_ids.txt", "cv_folds_file": "cv_folds.csv"}
    (OUT / "config.yaml").write_text(yaml.safe_dump(config))
    busy = psutil.cpu_percent(interval=1.0) / 100
    if busy > 0.05:
        print(f"warning: CPU {busy:.0%} busy before the run: the machine is not idle", flush=True)
    cores = os.cpu_count()
    start = time.perf_counter()
    snakemake(OUT / "config.yaml", cores=cores)
    wall = time.perf_counter() - start
    first = metrics(OUT, TRAITS[0], RECOMMENDED)
    old_page = page_before("default_cost.md")

    def now_cv(model):
        return np.mean([metrics(OUT, trait, model)["cv_pearson_r_mean"] for trait in TRAITS])

    before_wall = re.search(r"--cores \d+`: ([\d.]+ min)", old_page).group(1)
    before_cv = {
        model: re.search(rf"\| {re.escape(model)} \| [\d.-]+ \| ([\d.-]+) \|", old_page).group(1)
        for model in ("GCN", "stack (recommended)")
    }
    n_snps = sum(len(pd.read_csv(path, sep="\t")) for path in (OUT / "results/genotypes").glob("*.snps.tsv"))
    jobs = pd.concat(
        pd.read_csv(path, sep="\t").assign(models=path.parent.parent.name == "models")
        for path in (OUT / "results/benchmarks").rglob("*.tsv")
    )
    data_seconds = jobs.loc[~jobs["models"], "s"].sum()
    lines = [
        "# The default settings at a real cohort's size",
        "",
        f"Run on {platform.node()} ({first['cpu_model']}, {cores} cores), {time.strftime('%Y-%m-%d')}; "
        f"CPU {busy:.0%} busy before the run.",
        "",
        "```sh",
        ".venv/bin/python benchmarks/default_cost.py",
        "```",
        "",
        f"The pipeline's simulated cohort at the size of a real one: {N_STUDY} study accessions (of 400 simulated),",
        f"{n_snps:,} SNPs after the default filters, four traits (h² 0.6, 100 causal SNPs each), a fixed",
        f"test set of {N_TEST} and ten repeats of 5-fold CV over the other {N_STUDY - N_TEST} (drawn by the script,",
        "seeded). Every setting is `config.yaml`'s: the GCN on GRM rows, its candidate settings trained on all",
        "training accessions and again in every outer fold (nested), the fold ensemble, every model",
        "cross-validated on all ten repeats. No training strategy is timed.",
        "GRM-row features make an epoch cost accessions² × hidden units whatever the SNP count; on the",
        "simulated cohorts they are as accurate as the dosages ([simulated_traits.md](simulated_traits.md)).",
        "",
        f"**Wall time of the whole four-trait run, `--cores {cores}`: {wall / 60:.1f} min** (the simulation",
        f"excluded; VCF to GRM included: {data_seconds:.0f} s of job time). At {BEFORE_NESTED}, before every",
        f"choice was nested (the GCN's settings chosen once among six candidates and kept for the CV): {before_wall}.",
        "",
        "Seconds each model's fits took in its trait's jobs, on the training accessions + in the CV",
        "(the GCN's: every candidate's fold ensemble on all training accessions, then in every outer fold);",
        "the last column sums the wall times of the trait's CV jobs and of the job that gathers them:",
        "",
        *cost_rows(OUT, TRAITS),
        "",
        "Accuracy, averaged over the four traits (test r on the fixed test set, CV r over the ten repeats):",
        "",
        *average_rows(OUT, TRAITS),
        "",
        "The recommended model against the best single model, per trait (CV r):",
        "",
        *goal_rows(OUT, TRAITS),
        "",
        f"CV r averaged over the traits before every choice was nested (this page at {BEFORE_NESTED}) and now: GCN",
        f"{before_cv['GCN']} and {now_cv(GRAPH_MODEL):.3f}, stack {before_cv['stack (recommended)']} and "
        f"{now_cv(RECOMMENDED):.3f}.",
        "",
    ]
    path = REPO / "docs" / "benchmarks" / "default_cost.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
