"""A grouping as a random covariate: the workflow on mice_1814 (../shared; its four traits, sex
as a fixed covariate, the first REPEATS published CV repeats) without and with `cage` as a random
covariate (`input.random_covariates`), one run after the other on 2 cores, each from a fresh
folder; writes docs/benchmarks/random_covariates.md. A run whose folder holds a
finished workflow is read, not run again (remove benchmarks/out/random_covariates to measure anew).

    .venv/bin/python benchmarks/random_covariates.py
"""

import json
import platform
import subprocess
import time

import pandas as pd
import yaml
from model_tables import REPO, metrics, model_job_seconds, what_it_chose, write_page
from real_genotypes import config_path, run

from gpgcn.models import MODELS

OUT = REPO / "benchmarks" / "out" / "random_covariates"
PAGE = REPO / "docs" / "benchmarks" / "random_covariates.md"
COHORT = "mice"
GROUPING = "cage"
REPEATS = 2
VARIANTS = {
    "fixed": {"split": {"cv_repeats": REPEATS}},
    "cage": {"split": {"cv_repeats": REPEATS}, "input": {"random_covariates": [GROUPING]}},
}


def run_variants():
    """Each variant's run folder, run where it holds no finished workflow (its wall time, the CPU's
    load before it and the commit recorded)."""
    OUT.mkdir(parents=True, exist_ok=True)
    works = {variant: OUT / f"{COHORT}_{variant}" for variant in VARIANTS}  # the depth the config expects
    for variant, work in works.items():
        if not (work / "results/summary/accuracy.tsv").exists():
            changes = OUT / f"{variant}.yaml"
            changes.write_text(yaml.safe_dump(VARIANTS[variant]))
            wall, busy = run(COHORT, work, changes)
            (work / "run.json").write_text(json.dumps({"wall": wall, "busy": busy, "commit": commit()}))
    return works


def commit():
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def accuracy_rows(works, traits):
    lines = [
        "| trait | model | CV r, sex fixed | + cage random | difference (mean ± sd over repeats) | test r, sex fixed "
        "| + cage random | chosen with the cage |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        for model, entry in MODELS.items():
            fixed, cage = (metrics(works[v], trait, model) for v in VARIANTS)
            gain = pd.Series(cage["cv_pearson_r"]) - pd.Series(fixed["cv_pearson_r"])
            lines.append(
                f"| {trait} | {entry.display} | {fixed['cv_pearson_r_mean']:.3f} | {cage['cv_pearson_r_mean']:.3f} "
                f"| {gain.mean():+.3f} ± {gain.std(ddof=0):.3f} | {fixed['test_pearson_r']:.3f} "
                f"| {cage['test_pearson_r']:.3f} | {what_it_chose(cage)} |"
            )
    return lines


def summary(works, traits):
    """Each model's CV r gain averaged over the traits, and the model jobs' time with the cage
    against without."""
    gains = []
    for model, entry in MODELS.items():
        gain = [
            metrics(works["cage"], t, model)["cv_pearson_r_mean"]
            - metrics(works["fixed"], t, model)["cv_pearson_r_mean"]
            for t in traits
        ]
        gains.append(f"{entry.display} {sum(gain) / len(gain):+.3f}")
    seconds = {v: sum(model_job_seconds(work, t) for t in traits) for v, work in works.items()}
    return [
        f"Averaged over the {len(traits)} traits, the cage as a random covariate changes CV r by: "
        + ", ".join(gains)
        + f". The traits' model jobs summed: {seconds['cage'] / 60:.1f} min with it, "
        f"{seconds['fixed'] / 60:.1f} min without ({seconds['cage'] / seconds['fixed']:.2f}x).",
    ]


def variance_rows(works, traits):
    lines = [
        "| trait | σg² | σc² (cage) | σe² | cage's share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        reml = metrics(works["cage"], trait, "gblup")["reml"]
        sigma_c2 = reml["sigma_c2"][GROUPING]
        total = reml["sigma_g2"] + sigma_c2 + reml["sigma_e2"]
        lines.append(
            f"| {trait} | {reml['sigma_g2']:.3g} | {sigma_c2:.3g} | {reml['sigma_e2']:.3g} | {sigma_c2 / total:.2f} |"
        )
    return lines


def cost_rows(works, traits):
    lines = [
        "| trait | variant | " + " | ".join(MODELS[m].display for m in MODELS) + " | per-trait jobs |",
        "| --- | --- |" + " --- |" * (len(MODELS) + 1),
    ]
    for trait in traits:
        for variant, work in works.items():
            spent = metrics(work, trait, "stack")["seconds_by_model"]
            cells = [f"{spent[m]['training_accessions'] + spent[m]['cross_validation']:.0f}" for m in MODELS]
            lines.append(
                f"| {trait} | {variant} | " + " | ".join(cells) + f" | {model_job_seconds(work, trait) / 60:.1f} min |"
            )
    return lines


def grouping_summary(work):
    split = pd.read_csv(next((work / "results/split").glob("*/split.tsv")), sep="\t", dtype=str)
    train = split[split["set"] == "train"]
    sizes = train[f"random:{GROUPING}"].value_counts()
    return f"{len(sizes)} cages among {len(train)} training mice (median {sizes.median():.0f} a cage)"


def main():
    works = run_variants()
    traits = yaml.safe_load(config_path(COHORT).read_text())["input"]["traits"]
    runs = {v: json.loads((w / "run.json").read_text()) for v, w in works.items()}
    record = metrics(works["cage"], traits[0], "gcn")
    lines = [
        "# A grouping as a random covariate: the cages of mice_1814",
        "",
        "The workflow on mice_1814 as [real_genotypes.md](real_genotypes.md) runs it (four traits, sex",
        f"(`GENDER`) a fixed covariate of every model), on the first {REPEATS} published CV repeats, once",
        "as it is and once with `input.random_covariates: [cage]`: "
        + grouping_summary(works["cage"])
        + ", too many levels to fit as fixed effects. CV r is nested as on the other pages",
        "(every fit chooses the cage's variance on its own accessions), mean over the repeats; the",
        "difference is taken repeat by repeat on the same folds.",
        f"Run on {platform.node()} ({record['cpu_model']}, 2 cores), {time.strftime('%Y-%m-%d')}, each run "
        f"from a fresh folder (the data stage included): without the cage at {runs['fixed']['commit']}, "
        f"{runs['fixed']['wall'] / 60:.1f} min (CPU {runs['fixed']['busy']:.0%} busy before it), with it at "
        f"{runs['cage']['commit']}, {runs['cage']['wall'] / 60:.1f} min (CPU {runs['cage']['busy']:.0%} busy "
        "before it).",
        "",
        "```sh",
        ".venv/bin/python benchmarks/random_covariates.py",
        "```",
        "",
        *summary(works, traits),
        "",
        "## Accuracy",
        "",
        *accuracy_rows(works, traits),
        "",
        "## The cage's variance",
        "",
        "GBLUP's REML variance components on all training mice, on each trait's scale:",
        "",
        *variance_rows(works, traits),
        "",
        "## Cost",
        "",
        "Seconds each model's fits took in the trait's jobs (all training mice and the CV), one core per",
        "job, two jobs at a time, and the trait's model jobs summed:",
        "",
        *cost_rows(works, traits),
        "",
    ]
    write_page(PAGE, lines)


if __name__ == "__main__":
    main()
