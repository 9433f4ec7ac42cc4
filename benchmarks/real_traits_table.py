"""Write docs/benchmarks/real_traits.md from a finished run of benchmarks/real_traits.yaml
(`make benchmark-real-traits` runs both)."""

import json
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from model_tables import (  # noqa: E402
    BEFORE_NESTED,
    CHOOSING,
    accuracy_rows,
    average_rows,
    cost_rows,
    cv_before,
    goal_rows,
    metrics,
    model_job_seconds,
    nested_rows,
    page_before,
)

RUN = REPO / "benchmarks" / "out" / "real_traits"
OUT = REPO / "docs" / "benchmarks"


def search_rows(traits):
    tables = {t: pd.read_csv(RUN / f"results/models/{t}/{CHOOSING}/candidates.tsv", sep="\t") for t in traits}
    lines = ["| candidate | " + " | ".join(traits) + " |", "| --- |" + " --- |" * len(traits)]
    for i, name in enumerate(tables[traits[0]]["candidate"]):
        cells = []
        for t in traits:
            score, averaged = tables[t].at[i, "cv_pearson_r"], tables[t].at[i, "averaged"]
            bold = "**" if averaged else ""
            # A candidate on SNP dosages is not tried on a relationship matrix (no genotypes).
            cells.append("not tried" if np.isnan(score) else f"{bold}{score:.3f}{bold}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    seconds = pd.concat(tables.values()).dropna(subset=["cv_pearson_r"])["seconds"]
    return lines, seconds


def job_seconds(traits):
    return {t: model_job_seconds(RUN, t) for t in traits}


def cost_lines(traits, candidate_seconds, jobs):
    """The model choice's cost here, and at 1M SNPs from benchmarks/candidate_cost.py's epoch time."""
    scores = pd.read_csv(RUN / f"results/models/{traits[0]}/{CHOOSING}/candidates.tsv", sep="\t")["cv_pearson_r"]
    n_candidates = int(scores.notna().sum())  # those tried
    epochs = float(np.median([metrics(RUN, t, CHOOSING)["epochs"] for t in traits]))  # every averaged member
    repeats, folds = metrics(RUN, traits[0], CHOOSING)["cv_repeats"], 5
    lines = [
        f"Here (306 kinship columns as features): one candidate's fold ensemble on all training accessions took "
        f"a median {np.median(candidate_seconds):.0f} s. Each trait's model jobs ({n_candidates} candidates trained "
        f"on all training accessions and again in each of the {repeats} × {folds} outer folds of CV, every "
        "member of a candidate's fold ensembles in shared batched models, and the other models refitted in "
        "every outer fold; the CV dealt over `split.cv_jobs` jobs and gathered by one more) took, summed, "
        + ", ".join(f"{t} {s / 60:.1f} min" for t, s in jobs.items())
        + "; the workflow runs two jobs at a time on 2 cores, one thread each.",
        "",
    ]
    path = REPO / "benchmarks" / "out" / "candidate_cost.json"
    if path.exists():
        cost = json.loads(path.read_text())
        per_snps, per_rows = cost["seconds_per_epoch_snps"], cost["seconds_per_epoch_kinship_rows"]
        epochs /= len(metrics(RUN, traits[0], CHOOSING)["selection"]["averaged"])  # one candidate's
        search = n_candidates * epochs
        cv = n_candidates * repeats * folds * epochs * 4 / 5
        lines += [
            f"At the real genome's scale (`benchmarks/candidate_cost.py`, {cost['date']}, {cost['cpu_model']}, "
            f"CPU {cost['cpu_busy_before']:.0%} busy before): one epoch of the GCN on {cost['snps']:,} SNP "
            f"features of {cost['accessions']} accessions takes {per_snps:.2f} s on one core, against "
            f"{per_rows:.4f} s on the accessions' GRM rows (`select.node_features: kinship`). With the epoch "
            f"counts above, one candidate at {cost['snps']:,} SNPs costs about {epochs * per_snps / 3600:.1f} h "
            f"on one core, {n_candidates} candidates on all training accessions {search * per_snps / 3600:.1f} h per "
            f"trait, and in {repeats} nested CV repeats {cv * per_snps / 3600:.0f} h more (before batching); on GRM "
            f"rows the same costs {search * per_rows / 60:.1f} min and {cv * per_rows / 60:.1f} min, whatever the "
            "SNP count.",
            "",
        ]
    return lines


def main():
    import yaml

    traits = yaml.safe_load((REPO / "benchmarks/real_traits.yaml").read_text())["input"]["traits"]
    wall = int((RUN / "wall_seconds").read_text())
    search, candidate_seconds = search_rows(traits)
    jobs = job_seconds(traits)
    first = metrics(RUN, traits[0], CHOOSING)
    old_page = page_before("real_traits.md")
    before_wall = re.search(r"\d{4}-\d\d-\d\d: (\d+ min \d+ s) for the whole workflow", old_page).group(1)
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUN / "results/plots/accuracy_by_trait.png", OUT / "real_traits.png")
    lines = [
        "# Six real traits: GBLUP, RKHS, the GCN and the stack",
        "",
        "383 accessions (1001 Genomes) and six traits of Grimm et al. 2017 (via AraPheno): rosette diameter",
        "(`Diameter`), cauline leaf number (`CL`), stem length (`Length`), rosette leaf number (`RL`), rosette",
        "branch number (`RBN`) and flowering time at 10 °C (`FT10_mean`); the published centred-IBS kinship",
        "(rows: 383 accessions, columns: the 306 training accessions), the published 77-accession test split and",
        "ten repeats of 5-fold CV (Wang et al. 2024, Nat. Commun. 15, 6856), from `../shared`.",
        f"Run with `benchmarks/real_traits.yaml` on {platform.node()} ({first['cpu_model']}, {os.cpu_count()} cores),"
        f" {time.strftime('%Y-%m-%d')}: {wall // 60} min {wall % 60} s for the whole workflow (`--cores all`).",
        "",
        "Reproduce (needs `../shared` beside the checkout):",
        "",
        "```sh",
        "make benchmark-real-traits   # the workflow into benchmarks/out/real_traits, then this page",
        "```",
        "",
        "Every model setting comes from `config.yaml` as it is. Per trait, the workflow averages the GCN",
        "candidates (`select.candidates`) whose out-of-fold predictions of the 306 training accessions (the",
        "folds of the published repeat `cv_1`) score within noise of the best, RKHS chooses its bandwidth, and",
        "the stack (the recommended model) its weights from every model's out-of-fold predictions on the same",
        "folds. The test accessions play no part in any choice. A relationship matrix has no markers, so",
        "GBLUP + loci is GBLUP here (`select.loci_counts: [0]`).",
        "",
        "## Accuracy",
        "",
        "Test r: Pearson r of predicted and observed on the 77 test accessions; the interval is a paired",
        "bootstrap of those accessions (2,000 resamples). CV r: out-of-fold predictions pooled over the 5",
        "folds, mean ± sd over the 10 published repeats; the difference to GBLUP is taken repeat by repeat.",
        "Within each outer fold of the CV, every model is trained on the other four folds only and every",
        "choice (RKHS's bandwidth, the GCN's candidates, the stack's weights) is made there anew: every CV r",
        "is nested.",
        "",
        *accuracy_rows(RUN, traits),
        "",
        "Averaged over the six traits:",
        "",
        *average_rows(RUN, traits),
        "",
        "The recommended model against the best single model, by CV r:",
        "",
        *goal_rows(RUN, traits),
        "",
        f"Before every choice was nested (this page at {BEFORE_NESTED}, {before_wall}: the GCN's settings chosen",
        "once among eight candidates on `cv_1`'s folds and kept for every repeat, the stack weighing the GCN by",
        "single members' out-of-fold predictions), against now; the difference is how far that choice",
        "flattered the CV r, together with the change of candidates and of the stack's rule:",
        "",
        *nested_rows(RUN, traits, cv_before(old_page)),
        "",
        "![test and CV r per trait and model](real_traits.png)",
        "",
        "## The GCN's settings, per trait",
        "",
        "Out-of-fold r inside the training accessions of each candidate (a change to `train:` and `graph:`),",
        "those averaged into the trait's GCN in bold:",
        "",
        *search,
        "",
        "## Cost",
        "",
        *cost_lines(traits, candidate_seconds, jobs),
        "Seconds each model's fits took in the trait's jobs (on all training accessions + in the CV; the",
        "last column sums the wall times of the trait's CV jobs and of the job that gathers them):",
        "",
        *cost_rows(RUN, traits),
        "",
    ]
    (OUT / "real_traits.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
