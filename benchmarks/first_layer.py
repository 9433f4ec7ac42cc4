"""The per-trait models' first layer through a low-rank factor of the node features
(`train.first_layer_variance`): on each shared cohort, how many directions its features need for
the share config.yaml asks and what the first layer's product then costs against X·W; one batched
training epoch of 25 members with the factor and without it (alternating rounds, one thread); and,
where the factor is used (wheat_599 and mice_1814), what it moved: every trait's CV r of the GCN
and of the recommended model in the workflow's runs with it (benchmarks/out/real_genotypes, from
`make benchmark-real-genotypes`) against the same runs with `train.first_layer_variance: 1`
(benchmarks/out/first_layer/off, run here where missing). Writes docs/benchmarks/first_layer.md.

    .venv/bin/python benchmarks/first_layer.py [--rounds 3]
"""

import argparse
import platform
import subprocess
import sys
import time
from datetime import date

import numpy as np
import psutil
import real_genotypes
import torch
import yaml
from batched_job import member_epochs
from batched_members import members_of
from model_tables import GRAPH_MODEL, RECOMMENDED, REPO, metrics

from gpgcn.data.genotypes import load_features  # model_tables puts the package on the path
from gpgcn.data.kinship import read_kinship
from gpgcn.gcn.batched import fit_members
from gpgcn.gcn.first_layer import directions, factor_cost, factored
from gpgcn.gcn.problem import kinship_features
from gpgcn.gcn.strategies import Serial
from gpgcn.models.gcn_candidates import CandidateProblems, candidates
from gpgcn.models.inputs import TraitInputs
from gpgcn.records import cpu_model

OUT = REPO / "benchmarks" / "out"
OFF = OUT / "first_layer" / "off"
PAGE = REPO / "docs" / "benchmarks" / "first_layer.md"
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
VARIANCE = CONFIG["train"]["first_layer_variance"]
SHARES = (0.99, 0.999, 0.9999)
# cohort: its relationship matrix, as the accuracy benchmarks' runs (or ../shared) hold it.
KINSHIP = {
    "simulated (config.yaml's)": OUT / "simulated/polygenic_GRM_rows/results/kinship/grm.tsv",
    "ft10_383": REPO.parent / "shared/data/ft10_383/SNP_383_accessions_kinship.csv_training.csv",
    "default_cost (simulated)": OUT / "default_cost/results/kinship/grm.tsv",
    "wheat_599": OUT / "real_genotypes/wheat/results/kinship/grm.tsv",
    "mice_1814": OUT / "real_genotypes/mice/results/kinship/grm.tsv",
}
REAL_GENOTYPES = {"wheat_599": "wheat", "mice_1814": "mice"}
MEMBERS, EPOCHS = 25, 20


def feature_rows():
    """Per cohort and kind of node features: its size, the directions each share needs, and the
    first layer's product through the configured share's factor against X·W."""
    features = {f"{cohort}, GRM rows": path for cohort, path in KINSHIP.items()}
    features["wheat_599, SNP dosages"] = OUT / "real_genotypes/wheat/results/genotypes/Un.npy"
    lines = [
        "| features | accessions × columns | "
        + " | ".join(f"directions for {share:.2%}" for share in SHARES)
        + f" | product through the factor at {VARIANCE:.1%} / X·W |",
        "| --- | --- | " + " | ".join("---" for _ in SHARES) + " | --- |",
    ]
    for name, path in features.items():
        if not path.exists():
            lines.append(f"| {name} | not run: {path.relative_to(REPO.parent)} is missing | |")
            continue
        if path.suffix == ".npy":
            x = load_features([path], "centred")[0]
        else:
            x = kinship_features(read_kinship(path), "centred")[1]
        n, m = x.shape
        singular = np.linalg.svd(x.astype(float), compute_uv=False)
        needed = {share: directions(singular, share) for share in SHARES}
        cost = factor_cost(n, m, directions(singular, VARIANCE))
        used = f"{cost:.2f}" if cost < 1 else f"{cost:.2f}: not used"
        lines.append(f"| {name} | {n:,} × {m:,} | " + " | ".join(f"{needed[s]:,}" for s in SHARES) + f" | {used} |")
    return lines


def job_problem(cohort):
    """A GRM-row candidate's problem as the first trait's job of the cohort's run builds it."""
    run = OUT / "real_genotypes" / REAL_GENOTYPES[cohort]
    trait = traits(REAL_GENOTYPES[cohort])[0]
    inputs = TraitInputs(trait, run / f"results/split/{trait}/split.tsv", run / "results/kinship/grm.tsv")
    candidate = candidates({**CONFIG["train"], "first_layer_variance": 1.0}, CONFIG["graph"], [{}])[0]
    return CandidateProblems(inputs, 0).problem(candidate), candidate.settings


def epoch_seconds(problem, settings):
    """Seconds of one epoch of MEMBERS batched members (every inner fold's, repeated), one thread."""
    settings = type(settings)(**{**vars(settings), "max_epochs": EPOCHS, "patience": 10**6, "patience_accessions": 0})
    build = Serial(1, settings)
    folds, members = members_of(problem, MEMBERS // len(problem.folds) * len(problem.folds))
    start = time.perf_counter()
    fit_members(build.build_model(problem, settings), members, folds, settings)
    return (time.perf_counter() - start) / EPOCHS


def timing_rows(rounds):
    torch.set_num_threads(1)
    lines = [
        f"| cohort | directions / columns | seconds per epoch of {MEMBERS} members, X·W | through the factor | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cohort in REAL_GENOTYPES:
        if not (OUT / "real_genotypes" / REAL_GENOTYPES[cohort] / "results/kinship/grm.tsv").exists():
            continue
        plain, settings = job_problem(cohort)
        through = factored(plain, VARIANCE)
        seconds = {"plain": [], "factor": []}
        for round_ in range(rounds):
            order = ("plain", "factor") if round_ % 2 == 0 else ("factor", "plain")
            for which in order:
                seconds[which].append(epoch_seconds(plain if which == "plain" else through, settings))
        a, b = np.median(seconds["plain"]), np.median(seconds["factor"])
        lines.append(f"| {cohort} | {through.x.shape[1]:,} / {plain.x.shape[1]:,} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    return lines


def run_off(cohort):
    """The cohort's workflow as `make benchmark-real-genotypes` runs it, with the factor off."""
    work = OFF / REAL_GENOTYPES[cohort]
    work.mkdir(parents=True, exist_ok=True)
    (work / "off.yaml").write_text(yaml.safe_dump({"train": {"first_layer_variance": 1.0}}))
    real_genotypes.run(REAL_GENOTYPES[cohort], work, work / "off.yaml")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    (work / "made_by.txt").write_text(f"benchmarks/first_layer.py at {commit.stdout.strip()}\n")


def traits(folder):
    return yaml.safe_load(real_genotypes.config_path(folder).read_text())["input"]["traits"]


def accuracy_rows():
    lines = [
        "| cohort | trait | GCN CV r, factor off | on | difference | recommended CV r, off | on | difference "
        "| GCN member-epochs on / off |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    differences = []
    for cohort, folder in REAL_GENOTYPES.items():
        on, off = OUT / "real_genotypes" / folder, OFF / folder
        if not (off / "results/summary/accuracy.tsv").exists():
            run_off(cohort)
        for trait in traits(folder):
            cells = []
            for model in (GRAPH_MODEL, RECOMMENDED):
                a, b = (metrics(run, trait, model)["cv_pearson_r_mean"] for run in (off, on))
                cells += [f"{a:.3f}", f"{b:.3f}", f"{b - a:+.3f}"]
                differences.append((model, b - a))
            epochs = [member_epochs(metrics(run, trait, GRAPH_MODEL)) for run in (off, on)]
            lines.append(f"| {cohort} | {trait} | " + " | ".join(cells) + f" | {epochs[1] / epochs[0]:.2f} |")
    made_by = {cohort: (OFF / folder / "made_by.txt").read_text().strip() for cohort, folder in REAL_GENOTYPES.items()}
    lines += ["", "The runs with the factor off: " + "; ".join(f"{c}, {how}" for c, how in made_by.items()) + "."]
    return lines, differences


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    busy = psutil.cpu_percent(interval=1.0) / 100
    if busy > 0.05:
        print(f"warning: CPU {busy:.0%} busy before the run: the machine is not idle", flush=True)
    features, timings = feature_rows(), timing_rows(args.rounds)
    accuracy, differences = accuracy_rows()
    mean = {model: np.mean([d for m, d in differences if m == model]) for model in (GRAPH_MODEL, RECOMMENDED)}
    lines = [
        "# The first layer through a low-rank factor of the node features",
        "",
        "`train.first_layer_variance` takes the per-trait models' dominant product, the node features X",
        "times every GCN member's first weights W, as (X·V)·(Vᵀ·W): V the fewest right singular vectors of",
        f"X that hold that share of its sum of squares ({VARIANCE:g} in config.yaml), wherever that costs",
        "less than X·W. The members' weights, their start and Adam's steps stay X·W's.",
        f"Run on {platform.node()} ({cpu_model()}, {psutil.cpu_count()} cores), {date.today()}, "
        f"CPU {busy:.0%} busy before it.",
        "",
        "```sh",
        "make benchmark-real-traits benchmark-default-cost benchmark-real-genotypes   # the cohorts' runs",
        ".venv/bin/python benchmarks/simulated_traits.py   # config.yaml's simulated cohort",
        ".venv/bin/python benchmarks/first_layer.py   # the runs with the factor off, where missing; this page",
        "```",
        "",
        "## The features' directions",
        "",
        "Each cohort's node features as the per-trait job builds them (centred; the GRM rows of every",
        "accession), the directions each share of their sum of squares needs, and the multiply-adds of",
        "the first layer's product through the factor, (accessions + columns) × directions, against X·W's",
        "accessions × columns (at 1 or more the factor is not used):",
        "",
        *features,
        "",
        "## One batched epoch",
        "",
        f"Seconds of one training epoch (forward, backward, Adam) of {MEMBERS} batched members on the",
        "first trait's GRM-row features, X·W and through the factor, one thread, median of "
        f"{args.rounds} alternating rounds of {EPOCHS} epochs:",
        "",
        *timings,
        "",
        "## What it moved",
        "",
        "The workflow's runs on the cohorts where the factor is used, all ten CV repeats, the factor on",
        "(config.yaml) and off (`train.first_layer_variance: 1`), every other setting and the folds the",
        f"same. Mean difference, on minus off: GCN CV r {mean[GRAPH_MODEL]:+.4f}, the recommended model's "
        f"{mean[RECOMMENDED]:+.4f}.",
        "",
        *accuracy,
        "",
    ]
    PAGE.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
