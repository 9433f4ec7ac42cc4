"""Accuracy on real genotypes: the workflow on wheat_599 and mice_1814 from ../shared (the VCF
path, each cohort's fixed test set and CV repeats), every model of the registry against GBLUP;
writes docs/benchmarks/real_genotypes.md. `make benchmark-real-genotypes` runs it.

    .venv/bin/python benchmarks/real_genotypes.py
"""

import os
import platform
import re
import subprocess
import sys
import time

import psutil
import yaml
from model_tables import (
    BEFORE_NESTED,
    RECOMMENDED,
    REPO,
    accuracy_rows,
    average_rows,
    cost_rows,
    cv_before,
    file_at,
    goal_rows,
    loci_rows,
    metrics,
    nested_rows,
    page_before,
)

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


def run(cohort, work=None, changes=None):
    """The workflow on one cohort (into `work`, OUT/cohort by default; `changes`: a config file
    laid over the cohort's), every job of it run and timed; the CPU's load before it is recorded."""
    work = work or OUT / cohort
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
        *([str(changes)] if changes else []),
        "--cores",
        "2",
        # Every job, whatever an earlier run left in `work`: Snakemake does not see a change of
        # src/gpgcn/, and a job it skips is time the page would not count.
        "--forceall",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start, busy


def wall_before(old_page, cohort):
    """The workflow's wall time on the cohort as the page at BEFORE_NESTED gives it."""
    found = re.search(r"the workflow took ([\d.]+ min)", old_page.split(f"## {cohort}\n", 1)[1])
    return found.group(1) if found else "–"


def last_run():
    """The commit of this page's last run and the page as it wrote it."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%h", "--", "docs/benchmarks/real_genotypes.md"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return commit, page_before("real_genotypes.md", commit)


def strategies_timed(commit, cohort):
    """The training strategies the cohort's config at `commit` timed beside its models (a run's
    wall time holds them)."""
    shown = file_at(config_path(cohort).relative_to(REPO), commit)
    return {name: counts for name, counts in yaml.safe_load(shown).get("strategies", {}).items() if counts}


def section(cohort, wall, busy, old_page, last):
    config = yaml.safe_load(config_path(cohort).read_text())
    traits = config["input"]["traits"]
    run_dir = OUT / cohort
    repeats = metrics(run_dir, traits[0], RECOMMENDED)["cv_repeats"]
    timed = strategies_timed(last[0], cohort)
    return [
        f"## {cohort}",
        "",
        f"{COHORTS[cohort]}; {repeats} repeats of 5-fold CV of the other individuals"
        + (" (the first of the ten published: `split.cv_repeats`)." if repeats < 10 else "."),
        f"`benchmarks/real_genotypes_{cohort}.yaml`; the workflow took {wall / 60:.1f} min on 2 cores "
        f"(CPU {busy:.0%} busy before it; {wall_before(last[1], cohort)} in this page's last run, at {last[0]}"
        + "".join(f", which also timed a training strategy, `strategies.{name}: {n}`" for name, n in timed.items())
        + "; "
        f"{wall_before(old_page, cohort)} at {BEFORE_NESTED}, before every choice was nested).",
        "",
        *accuracy_rows(run_dir, traits),
        "",
        "Averaged over the traits:",
        "",
        *average_rows(run_dir, traits),
        "",
        "The recommended model against the best single model, by CV r:",
        "",
        *goal_rows(run_dir, traits),
        "",
        f"Before every choice was nested (this page at {BEFORE_NESTED}: the GCN's settings chosen once among eight",
        "candidates on the first repeat's folds and kept for every repeat, the stack weighing the GCN by single",
        "members' out-of-fold predictions), against now:",
        "",
        *nested_rows(run_dir, traits, cv_before(old_page, cohort)),
        "",
        "Markers GBLUP + loci took on all training individuals (effect: in its joint fit, beside the other",
        "markers; t: the marker's own scan, so the two may differ in sign between markers in LD):",
        "",
        *loci_rows(run_dir, traits),
        "",
        "Seconds each model's fits took in the trait's jobs (on all training individuals + in the CV; the",
        "GCN's: every candidate's fold ensemble on all training individuals, then in every outer fold), one",
        "core per job, two jobs at a time; the last column sums the wall times of the trait's CV jobs",
        "(`split.cv_jobs`) and of the job that gathers them:",
        "",
        *cost_rows(run_dir, traits),
        "",
    ]


def main():
    old_page, last = page_before("real_genotypes.md"), last_run()
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
        "the other folds and makes every choice there (RKHS's bandwidth, GBLUP + loci's marker count, the GCN's",
        "candidates averaged, the stack's weights): every CV r is nested.",
        "",
        *(line for cohort, (wall, busy) in timings.items() for line in section(cohort, wall, busy, old_page, last)),
    ]
    path = REPO / "docs" / "benchmarks" / "real_genotypes.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
