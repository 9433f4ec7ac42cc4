"""Accuracy on real genotypes: the workflow on wheat_599 and mice_1814 from ../shared (the VCF
path, each cohort's fixed test set and CV repeats), every model of the registry against GBLUP;
writes docs/benchmarks/real_genotypes.md. `make benchmark-real-genotypes` runs it.

    .venv/bin/python benchmarks/real_genotypes.py
"""

import os
import platform
import subprocess
import sys
import time

import psutil
import yaml
from model_tables import RECOMMENDED, REPO, accuracy_rows, average_rows, cost_rows, goal_rows, loci_rows, metrics

OUT = REPO / "benchmarks" / "out" / "real_genotypes"
COHORTS = {
    "wheat": (
        "599 CIMMYT wheat lines × 1,279 DArT markers (inbred, coded 0/2), grain yield in four environments "
        "(Crossa et al. 2010); test set 120 lines"
    ),
    "mice": (
        "1,814 heterogeneous-stock mice × 10,343 SNPs on 20 chromosomes (Valdar et al. 2006), four traits, sex "
        "(`GENDER`) as a covariate of every model; test set 363 mice"
    ),
}


def config_path(cohort):
    return REPO / "benchmarks" / f"real_genotypes_{cohort}.yaml"


def run(cohort):
    """The workflow on one cohort, timed; the CPU's load before it is recorded."""
    work = OUT / cohort
    work.mkdir(parents=True, exist_ok=True)
    busy = psutil.cpu_percent(interval=1.0) / 100
    if busy > 0.05:
        print(f"warning: CPU {busy:.0%} busy before {cohort}: the machine is not idle", flush=True)
    command = [
        str(REPO / ".venv/bin/snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config_path(cohort)),
        "--cores",
        "2",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start, busy


def section(cohort, wall, busy):
    config = yaml.safe_load(config_path(cohort).read_text())
    traits = config["input"]["traits"]
    run_dir = OUT / cohort
    repeats = metrics(run_dir, traits[0], RECOMMENDED)["cv_repeats"]
    return [
        f"## {cohort}",
        "",
        f"{COHORTS[cohort]}; {repeats} repeats of 5-fold CV of the other individuals"
        + (" (the first of the ten published: `split.cv_repeats`)." if repeats < 10 else "."),
        f"`benchmarks/real_genotypes_{cohort}.yaml`; the workflow took {wall / 60:.1f} min on 2 cores "
        f"(CPU {busy:.0%} busy before it).",
        "",
        *accuracy_rows(run_dir, traits),
        "",
        "Averaged over the traits:",
        "",
        *average_rows(run_dir, traits),
        "",
        "The recommended model against the better of GBLUP and RKHS, by CV r:",
        "",
        *goal_rows(run_dir, traits),
        "",
        "Markers GBLUP + loci took on all training individuals (effect: in its joint fit, beside the other",
        "markers; t: the marker's own scan, so the two may differ in sign between markers in LD):",
        "",
        *loci_rows(run_dir, traits),
        "",
        "Seconds each model's fits took in the trait's job (on all training individuals + in the CV; the",
        "GCN's first number is its search over `select.candidates` and the refit the stack is weighed on),",
        "one core per job, two jobs at a time:",
        "",
        *cost_rows(run_dir, traits),
        "",
    ]


def main():
    timings = {cohort: run(cohort) for cohort in COHORTS}
    cpu = metrics(OUT / "wheat", "yield_env1", RECOMMENDED)["cpu_model"]
    lines = [
        "# Real genotypes: wheat and mice",
        "",
        "Real genotypes with real phenotypes from `../shared/data` (R package BGLR's `wheat` and `mice`), through",
        "the VCF path (`input.mode: vcf`), every model of the pipeline with the settings of `config.yaml`.",
        f"Run on {platform.node()} ({cpu}, {os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.",
        "",
        "```sh",
        "make benchmark-real-genotypes   # both workflows into benchmarks/out/real_genotypes, then this page",
        "```",
        "",
        "Test r: Pearson r of predicted and observed on the fixed test set; the interval is a paired bootstrap",
        "of those individuals (2,000 resamples) of the difference to GBLUP. CV r: out-of-fold predictions of",
        "the training individuals pooled over the 5 folds, mean ± sd over the repeats; the difference to",
        "GBLUP is taken repeat by repeat on the same folds. Inside each outer fold every model is refitted on",
        "the other folds and makes its choices there (RKHS's bandwidth h, GBLUP + loci's marker count m, the",
        "stack's weights); the GCN's settings were chosen once on the folds of the first repeat of the same",
        "training individuals, so the GCN's CV r is not nested for that choice.",
        "",
        *(line for cohort, (wall, busy) in timings.items() for line in section(cohort, wall, busy)),
    ]
    path = REPO / "docs" / "benchmarks" / "real_genotypes.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
