"""Markdown tables of a finished workflow run's per-trait models, for the accuracy benchmark pages
(real_genotypes.py, real_traits_table.py): every model of the registry against GBLUP."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gpgcn.models import MODELS, RECOMMENDED  # noqa: E402

BASELINES = ("gblup", "rkhs")  # what the recommended model is held against on every trait


def metrics(run, trait, model):
    return json.loads((run / f"results/models/{trait}/{model}/metrics.json").read_text())


def cv_difference(record, reference):
    """Mean and sd over the CV repeats of the paired difference in r to a reference model."""
    difference = np.subtract(record["cv_pearson_r"], reference["cv_pearson_r"])
    return difference.mean(), difference.std()


def what_it_chose(record):
    """The choices a model made on all training accessions, in a few words."""
    if record["model"] == RECOMMENDED:
        weights = {name: record.get(f"weight_{name}", 0) for name in MODELS}
        return ", ".join(f"{MODELS[n].display} {w:.2f}" for n, w in weights.items() if w)
    if "loci_m" in record:
        return f"m = {record['loci_m']}"
    if "rkhs_bandwidth" in record:
        return f"h = {record['rkhs_bandwidth']:g}"
    if record["model"] == "gcn":
        return record["selection"]["chosen"]
    return ""


def accuracy_rows(run, traits):
    """Per trait and model: test r, its difference to GBLUP with the paired-bootstrap interval,
    CV r and its paired difference to GBLUP, and what the model chose."""
    accuracy = pd.read_csv(run / "results/summary/accuracy.tsv", sep="\t")
    lines = [
        "| trait | model | test r | test r − GBLUP [95 % bootstrap] | CV r (mean ± sd) | CV r − GBLUP (mean ± sd) |"
        " chosen on the training accessions |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        gblup = metrics(run, trait, "gblup")
        for model, entry in MODELS.items():
            record = metrics(run, trait, model)
            row = accuracy[(accuracy["trait"] == trait) & (accuracy["model"] == entry.display)].iloc[0]
            cv_mean, cv_sd = cv_difference(record, gblup)
            test = (
                ""
                if model == "gblup"
                else f"{row.test_r_minus_gblup:+.3f} [{row.bootstrap_95_low:+.3f}, {row.bootstrap_95_high:+.3f}]"
            )
            lines.append(
                f"| {trait} | {entry.display} | {record['test_pearson_r']:.3f} | {test} | "
                f"{record['cv_pearson_r_mean']:.3f} ± {record['cv_pearson_r_sd']:.3f} | "
                f"{'' if model == 'gblup' else f'{cv_mean:+.3f} ± {cv_sd:.3f}'} | {what_it_chose(record)} |"
            )
    return lines


def average_rows(run, traits):
    """Each model's test and CV r averaged over the traits, and its difference to GBLUP's."""
    lines = ["| model | test r | CV r | test r − GBLUP | CV r − GBLUP |", "| --- | --- | --- | --- | --- |"]
    gblup_test = np.mean([metrics(run, t, "gblup")["test_pearson_r"] for t in traits])
    gblup_cv = np.mean([metrics(run, t, "gblup")["cv_pearson_r_mean"] for t in traits])
    for model, entry in MODELS.items():
        test = np.mean([metrics(run, t, model)["test_pearson_r"] for t in traits])
        cv = np.mean([metrics(run, t, model)["cv_pearson_r_mean"] for t in traits])
        lines.append(f"| {entry.display} | {test:.3f} | {cv:.3f} | {test - gblup_test:+.3f} | {cv - gblup_cv:+.3f} |")
    return lines


def goal_rows(run, traits):
    """The recommended model's CV r against the best of the baselines on each trait, with the
    GCN's share of it."""
    lines = [
        "| trait | recommended CV r | best baseline (CV r) | difference | GCN's share (mean over outer folds) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        record = metrics(run, trait, RECOMMENDED)
        best = max(BASELINES, key=lambda m: metrics(run, trait, m)["cv_pearson_r_mean"])
        best_r = metrics(run, trait, best)["cv_pearson_r_mean"]
        shares = [s for repeat in record.get("cv_gcn_shares", {}).values() for s in repeat]
        lines.append(
            f"| {trait} | {record['cv_pearson_r_mean']:.3f} | {MODELS[best].display} ({best_r:.3f}) | "
            f"{record['cv_pearson_r_mean'] - best_r:+.3f} | {np.mean(shares) if shares else 0:.2f} |"
        )
    return lines


def loci_rows(run, traits):
    lines = ["| trait | m | markers (chrom:pos, joint effect per allele, scan t) |", "| --- | --- | --- |"]
    for trait in traits:
        record = metrics(run, trait, "gblup_loci")
        loci = "; ".join(f"{x['chrom']}:{x['pos']} ({x['effect']:+.3g}, t {x['t']:.1f})" for x in record["loci"])
        lines.append(f"| {trait} | {record['loci_m']} | {loci or '–'} |")
    return lines


def cost_rows(run, traits):
    """Seconds each model's fits took in its trait's job (on the training accessions, in the CV),
    and each job's wall time."""
    lines = [
        "| trait | " + " | ".join(MODELS[m].display for m in MODELS) + " | per-trait job | GBLUP job |",
        "| --- |" + " --- |" * (len(MODELS) + 2),
    ]
    for trait in traits:
        spent = metrics(run, trait, RECOMMENDED)["seconds_by_model"]
        cells = [f"{spent[m]['training_accessions']:.0f} + {spent[m]['cross_validation']:.0f}" for m in MODELS]
        job = pd.read_csv(run / f"results/benchmarks/models/{trait}/trait_models.tsv", sep="\t")["s"].iloc[0]
        gblup = pd.read_csv(run / f"results/benchmarks/models/{trait}/gblup.tsv", sep="\t")["s"].iloc[0]
        lines.append(f"| {trait} | " + " | ".join(cells) + f" | {job / 60:.1f} min | {gblup:.0f} s |")
    return lines
