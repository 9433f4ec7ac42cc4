"""How long the GCN's members wait for a better validation loss, and what a shorter wait costs: the
per-trait models with `train.patience` 80 and 40 on every validation fold
(`train.patience_accessions: 0`), every other setting config.yaml's, on every trait of the shared
cohorts and of default_cost's simulated 162-accession cohort; each cohort's runs on the same data
stage and folds (the first two published CV repeats), 80 first. Per cohort, the size of its members'
validation folds and the patience config.yaml gives them (`TrainSettings.patience_for`), and where
that is less than 80, a third run with config.yaml's.
Needs ../shared beside the checkout and default_cost's cohort (`make benchmark-default-cost`).
Writes docs/benchmarks/patience.md.

    .venv/bin/python benchmarks/patience.py [--page-only]
"""

import json
import platform
import sys
from datetime import date

import psutil
import yaml
from precision import (
    COHORTS,
    REPEATS,
    REPO,
    cohort_config,
    differences,
    first_repeats,
    measured,
    run,
    runs_then_page,
    table,
    with_train,
)

from gpgcn.gcn.training import TrainSettings
from gpgcn.records import cpu_model

OUT = REPO / "benchmarks" / "out" / "patience"
PAGE = REPO / "docs" / "benchmarks" / "patience.md"
DEFAULT_COST = REPO / "benchmarks" / "out" / "default_cost"
ARMS = {"80": {"patience": 80, "patience_accessions": 0}, "40": {"patience": 40, "patience_accessions": 0}}
DEFAULT = "config.yaml"  # the third run, config.yaml's patience: only where its folds get less than 80
FOLDS = 5
# The shared cohorts of precision.py (its simulated one has no CV repeats) and default_cost's.
COHORTS_HERE = ["default_cost", *(cohort for cohort, where in COHORTS.items() if where is not None)]


def config_of(cohort):
    """The cohort's config with absolute inputs, its first REPEATS CV repeats, no strategy."""
    if cohort != "default_cost":
        return cohort_config(cohort)
    config = yaml.safe_load((DEFAULT_COST / "config.yaml").read_text())
    config["split"] = {key: str(DEFAULT_COST / value) for key, value in config["split"].items()}
    return first_repeats(config)


def fold_sizes(work, trait):
    """The members' validation folds: about a fifth of the training accessions, and in an outer CV
    fold a fifth of its four fifths."""
    n_train = json.loads((work / f"results/models/{trait}/gcn/metrics.json").read_text())["n_train"]
    return round(n_train / FOLDS), round(n_train * (FOLDS - 1) / FOLDS**2), n_train


def configured():
    """config.yaml's `train:` settings."""
    return TrainSettings(**yaml.safe_load((REPO / "config.yaml").read_text())["train"])


def section(cohort):
    traits = config_of(cohort)["input"]["traits"]
    rows = [(trait, *(measured(OUT / cohort / arm, trait) for arm in ARMS)) for trait in traits]
    whole, outer, n_train = fold_sizes(OUT / cohort / "80", traits[0])
    default = configured()
    walls = {
        arm: json.loads((OUT / cohort / arm / "run.json").read_text())["wall"]
        for arm in (*ARMS, DEFAULT)
        if (OUT / cohort / arm / "run.json").exists()
    }
    lines = [
        f"## {cohort}",
        "",
        f"{n_train} training accessions: members' validation folds of some {whole} (on every training "
        f"accession) and {outer} (in an outer CV fold), where config.yaml's patience is "
        f"{default.patience_for(whole)} and {default.patience_for(outer)}. Workflow wall time: "
        + ", ".join(
            f"{arm if arm == DEFAULT else 'patience ' + arm} {wall / 60:.1f} min" for arm, wall in walls.items()
        )
        + " (the data stage in the first).",
        "",
        *table(rows, labels=tuple(f"patience {arm}" for arm in ARMS)),
        "",
    ]
    if DEFAULT in walls:
        own = [
            (trait, measured(OUT / cohort / "80", trait), measured(OUT / cohort / DEFAULT, trait)) for trait in traits
        ]
        lines += ["config.yaml's patience against 80:", "", *table(own, labels=("patience 80", DEFAULT)), ""]
    else:
        lines += ["config.yaml's patience is 80 on these folds: its run is the first one.", ""]
    return rows, lines


def write_page(busy):
    default = configured()
    everything, sections = [], []
    for cohort in COHORTS_HERE:
        rows, lines = section(cohort)
        everything += rows
        sections += lines
    header = [
        "# Early stopping's patience: 80 epochs against 40",
        "",
        "The per-trait models with every GCN member waiting 80 epochs for a better validation loss, and 40",
        "(`train.patience`, `train.patience_accessions: 0`), every other setting config.yaml's. Each cohort's",
        f"workflow ran once per patience on the same data stage and folds: the first {REPEATS} published CV",
        "repeats of 5-fold CV; CV r is nested as on the other pages, mean over the repeats. config.yaml waits",
        f"{default.patience} epochs on validation folds of up to `train.patience_accessions` "
        f"({default.patience_accessions}) accessions and less on larger ones (half at "
        f"{4 * default.patience_accessions} and more): each section gives its cohort's fold sizes and what",
        "they get, and where that is less than 80, config.yaml's run against the first on the same folds.",
        f"Run on {platform.node()} ({cpu_model()}, {psutil.cpu_count()} cores), {date.today()}, "
        f"CPU {busy:.0%} busy before it.",
        "",
        "```sh",
        "make benchmark-default-cost   # default_cost's cohort, where it is missing",
        ".venv/bin/python benchmarks/patience.py",
        "```",
        "",
        differences(everything, "patience 40 minus 80", score="CV r"),
        "",
    ]
    PAGE.write_text("\n".join(header + sections))


def run_all():
    if not (DEFAULT_COST / "config.yaml").exists():
        sys.exit(f"needs default_cost's cohort in {DEFAULT_COST}: make benchmark-default-cost")
    default = configured()
    for cohort in COHORTS_HERE:
        config, previous = config_of(cohort), None
        for arm, changes in ARMS.items():
            wall = run(OUT / cohort / arm, with_train(config, **changes), previous)
            print(cohort, arm, f"{wall / 60:.1f} min", flush=True)
            previous = OUT / cohort / arm
        whole, outer, _ = fold_sizes(OUT / cohort / "80", config["input"]["traits"][0])
        if {default.patience_for(whole), default.patience_for(outer)} != {ARMS["80"]["patience"]}:
            wall = run(OUT / cohort / DEFAULT, config, previous)
            print(cohort, DEFAULT, f"{wall / 60:.1f} min", flush=True)


def main():
    runs_then_page(OUT, run_all, write_page)


if __name__ == "__main__":
    main()
