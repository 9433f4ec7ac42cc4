"""A trait's CV dealt over `split.cv_jobs` jobs: the workflow on wheat_599 (four traits, ten CV
repeats, ../shared) with each of CV_JOBS, on 2 cores, in ROUNDS rounds (the order reversed every
other round, so a machine that slows over the runs favours neither); writes
docs/benchmarks/cv_jobs.md. A run whose folder holds a finished workflow is read, not run again
(remove benchmarks/out/cv_jobs to measure anew).

    .venv/bin/python benchmarks/cv_jobs.py
"""

import platform
import re
import time
from datetime import datetime
from statistics import median

import pandas as pd
import yaml
from model_tables import REPO, job_seconds, metrics, model_job_seconds, write_page
from real_genotypes import run

OUT = REPO / "benchmarks" / "out" / "cv_jobs"
PAGE = REPO / "docs" / "benchmarks" / "cv_jobs.md"
CV_JOBS = (2, 1)
ROUNDS = 2
COHORT = "wheat"
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$", re.MULTILINE)


def workflow_seconds(work):
    """The workflow's wall time from its log's first and last timestamps (the data stage included)."""
    log = max((work / ".snakemake" / "log").glob("*.snakemake.log"))
    stamps = [datetime.strptime(" ".join(s.split()), "%a %b %d %H:%M:%S %Y") for s in STAMP.findall(log.read_text())]
    return (stamps[-1] - stamps[0]).total_seconds()


def rows(works, traits):
    lines = [
        "| round | `cv_jobs` | workflow wall time | model jobs summed | GCN seconds (CV) | GCN member-epochs (CV) "
        "| a trait's jobs side by side (median over traits) | GCN CV r (mean over traits) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for round_, jobs, work in works:
        every = {trait: job_seconds(work, trait) for trait in traits}
        summed = sum(model_job_seconds(work, trait) for trait in traits)
        gcn = [metrics(work, trait, "gcn") for trait in traits]
        gcn_seconds = sum(m["seconds_by_model"]["gcn"]["cross_validation"] for m in gcn)
        epochs = sum(sum(map(sum, m["by_outer_fold"]["gcn_member_epochs"].values())) for m in gcn)
        waits = [
            max(s for job, s in spent.items() if job != "trait_models") + spent["trait_models"]
            for spent in every.values()
        ]
        side_by_side = pd.Series(waits).median()
        cv_r = pd.Series([m["cv_pearson_r_mean"] for m in gcn]).mean()
        lines.append(
            f"| {round_} | {jobs} | {workflow_seconds(work) / 60:.1f} min | {summed / 60:.1f} min "
            f"| {gcn_seconds:.0f} s | {epochs:,} | {side_by_side / 60:.1f} min | {cv_r:.4f} |"
        )
    return lines


def summary(works, traits):
    """The wall time and GCN seconds of each job count against one job's, medians over the rounds."""
    by_jobs = {}
    for _, jobs, work in works:
        gcn = sum(metrics(work, trait, "gcn")["seconds_by_model"]["gcn"]["cross_validation"] for trait in traits)
        by_jobs.setdefault(jobs, []).append((workflow_seconds(work), gcn))
    wall = {jobs: median(w for w, _ in runs) for jobs, runs in by_jobs.items()}
    gcn = {jobs: median(g for _, g in runs) for jobs, runs in by_jobs.items()}
    return [
        f"`cv_jobs: {jobs}` took {wall[jobs] / wall[1]:.2f}× the wall time of `cv_jobs: 1` and its GCN fits "
        f"{gcn[jobs] / gcn[1]:.2f}× the seconds (medians over the rounds); the GCN's CV r is the same to four "
        "decimals, its members batched by job (the member-epochs differ where early stopping turned on a "
        "rounding-level difference)."
        for jobs in sorted(by_jobs)
        if jobs != 1
    ]


def main():
    works = []
    for round_ in range(1, ROUNDS + 1):
        for jobs in CV_JOBS if round_ % 2 else CV_JOBS[::-1]:
            work = OUT / f"{COHORT}_{jobs}_round{round_}"  # the depth the config's relative paths expect
            if not (work / "results/summary/accuracy.tsv").exists():
                changes = OUT / f"cv_jobs_{jobs}.yaml"
                OUT.mkdir(parents=True, exist_ok=True)
                changes.write_text(yaml.safe_dump({"split": {"cv_jobs": jobs}}))
                run(COHORT, work, changes)
            works.append((round_, jobs, work))
    config = yaml.safe_load((REPO / "benchmarks" / f"real_genotypes_{COHORT}.yaml").read_text())
    traits = config["input"]["traits"]
    first = metrics(works[0][2], traits[0], "gcn")
    lines = [
        "# A trait's cross-validation over several jobs",
        "",
        f"Run on {platform.node()} ({first['cpu_model']}, 2 cores), {time.strftime('%Y-%m-%d')}: {ROUNDS} rounds, in",
        "each one run per `split.cv_jobs` from a fresh folder (the data stage included), one after the other,",
        "the order reversed in every other round.",
        "",
        "```sh",
        ".venv/bin/python benchmarks/cv_jobs.py",
        "```",
        "",
        "wheat_599 as [real_genotypes.md](real_genotypes.md) runs it (four traits, ten repeats of 5-fold CV:",
        "50 outer folds a trait), `--cores 2`, with the trait's outer folds dealt over `split.cv_jobs` jobs",
        "(each fits every model on its share of the folds, its GCN members in shared batches) and one job",
        "that fits every model on the training accessions and gathers them. Model jobs summed: the wall",
        "times of every trait's jobs added up (each ran on one thread, two jobs at a time). A trait's jobs",
        "side by side: its longest CV job plus the gathering job, what a trait waits where every job has a",
        "node of its own (computed from the jobs' measured times, not run on a cluster).",
        "",
        *rows(works, traits),
        "",
        *summary(works, traits),
        "",
    ]
    write_page(PAGE, lines)


if __name__ == "__main__":
    main()
