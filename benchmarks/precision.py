"""The per-trait models with their GCN members' first-layer products in float32 (the default) and
in bfloat16 (`train.first_layer_precision`), on every trait of the three shared cohorts and on the
simulated one: CV r of the GCN and of the recommended model (the simulated cohort, without CV
repeats: test r), the GCN's member-epochs and seconds. Each cohort's workflow runs once per
precision on the same data stage and the same folds (the first two published CV repeats), float32
first. Needs ../shared
beside the checkout. Writes docs/benchmarks/precision.md.

    make benchmark-precision    # or: .venv/bin/python benchmarks/precision.py [--page-only]
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from batched_job import gcn_seconds, member_epochs  # noqa: E402
from model_tables import GRAPH_MODEL, metrics  # noqa: E402

from gpgcn.gcn.strategies import STRATEGIES  # noqa: E402
from gpgcn.models import RECOMMENDED  # noqa: E402
from gpgcn.records import cpu_model  # noqa: E402

OUT = REPO / "benchmarks" / "out" / "precision"
PAGE = REPO / "docs" / "benchmarks" / "precision.md"
PRECISIONS = ("float32", "bfloat16")
REPEATS = 2
# cohort: (its benchmark config, the folder its relative paths are written from); None: config.yaml's
# simulated cohort.
COHORTS = {
    "ft10_383": ("real_traits.yaml", "benchmarks/out/real_traits"),
    "wheat_599": ("real_genotypes_wheat.yaml", "benchmarks/out/real_genotypes/wheat"),
    "mice_1814": ("real_genotypes_mice.yaml", "benchmarks/out/real_genotypes/mice"),
    "simulated": None,
}


def absolute(value, base):
    """A config's relative input path as an absolute one."""
    return str((base / value).resolve()) if isinstance(value, str) and value.startswith("../") else value


def cohort_config(cohort):
    """The cohort's config with absolute input paths, only the first REPEATS CV repeats, no strategy."""
    if COHORTS[cohort] is None:
        return first_repeats({"input": {"traits": ["FT10_mean"]}})
    name, written_from = COHORTS[cohort]
    config = yaml.safe_load((REPO / "benchmarks" / name).read_text())
    base = REPO / written_from
    for section in ("input", "split"):
        config[section] = {key: absolute(value, base) for key, value in config[section].items()}
    return first_repeats(config)


def first_repeats(config):
    """`config` cross-validating on its first REPEATS published CV repeats (where it has a split
    that names them), timing no strategy."""
    if "split" in config:
        config["split"]["cv_repeats"] = REPEATS
    config["strategies"] = dict.fromkeys(STRATEGIES, [])
    return config


def run(work, config, previous):
    """The per-trait models of `config` (a `cohort_config`, changed) in the folder `work`; the data
    stage of `previous` (another run's folder of the cohort) is reused where it exists. Returns the
    wall seconds."""
    if work.exists():
        shutil.rmtree(work)
    if previous is not None and previous.exists():
        shutil.copytree(previous, work, ignore=shutil.ignore_patterns("models", "predictions", "summary"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/predictions/{trait}.tsv" for trait in config["input"]["traits"]]
    command = [str(REPO / ".venv/bin/snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2"]
    start = time.perf_counter()
    subprocess.run(
        [*command, *targets, "--directory", str(work), "--configfile", str(work / "config.yaml")], check=True
    )
    wall = time.perf_counter() - start
    (work / "run.json").write_text(json.dumps({"wall": wall}))
    return wall


def with_train(config, **changes):
    """`config` with `changes` to its `train:` section."""
    return {**config, "train": {**config.get("train", {}), **changes}}


def measured(work, trait):
    gcn, recommended = metrics(work, trait, GRAPH_MODEL), metrics(work, trait, RECOMMENDED)
    # A cohort without published CV repeats (the simulated one) is scored on its test accessions.
    score = "cv_pearson_r_mean" if gcn["cv_repeats"] else "test_pearson_r"
    return {
        "score": "CV r" if gcn["cv_repeats"] else "test r",
        "gcn": gcn[score],
        "recommended": recommended[score],
        "seconds": gcn_seconds(gcn),
        "member_epochs": member_epochs(gcn),
    }


def cohort_rows(cohort):
    traits = cohort_config(cohort)["input"]["traits"]
    rows = []
    for trait in traits:
        single, half = (measured(OUT / cohort / p, trait) for p in PRECISIONS)
        rows.append((trait, single, half))
    return rows


def table(rows, labels=PRECISIONS):
    """Per trait, the GCN's and the recommended model's scores under the two runs `labels` (rows:
    (trait, the first's `measured`, the second's)), their differences, and the GCN's cost."""
    score, (a, b) = rows[0][1]["score"], labels
    lines = [
        f"| trait | GCN {score} {a} | {b} | difference | recommended {score} {a} | {b} | difference "
        f"| GCN member-epochs {b} / {a} | GCN seconds per member-epoch {b} / {a} |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for trait, single, half in rows:
        per_epoch = (half["seconds"] / half["member_epochs"]) / (single["seconds"] / single["member_epochs"])
        lines.append(
            f"| {trait} | {single['gcn']:.3f} | {half['gcn']:.3f} | {half['gcn'] - single['gcn']:+.3f} "
            f"| {single['recommended']:.3f} | {half['recommended']:.3f} "
            f"| {half['recommended'] - single['recommended']:+.3f} "
            f"| {half['member_epochs'] / single['member_epochs']:.2f} | {per_epoch:.2f} |"
        )
    return lines


def write_page(busy):
    sections, everything = [], []
    for cohort in COHORTS:
        rows = cohort_rows(cohort)
        everything += rows
        walls = {p: json.loads((OUT / cohort / p / "run.json").read_text())["wall"] for p in PRECISIONS}
        sections += [
            f"## {cohort}",
            "",
            f"Workflow wall time (the per-trait jobs, two at a time; the data stage only in the first run): "
            f"float32 {walls['float32'] / 60:.1f} min, bfloat16 {walls['bfloat16'] / 60:.1f} min.",
            "",
            *table(rows),
            "",
        ]
    header = [
        "# First-layer precision: float32 against bfloat16",
        "",
        "The per-trait models' GCN members with their first layer's two products per epoch (node features",
        "times every member's first weights, and that weight's gradient) in float32, the default, and in",
        "bfloat16 (`train.first_layer_precision: bfloat16`; float32 sums, weights, Adam and later layers),",
        "every other setting config.yaml's. Each cohort's workflow ran once per precision on the same data",
        f"stage and folds: the first {REPEATS} published CV repeats of 5-fold CV; CV r is nested as on the",
        "other pages, mean over the repeats. The simulated cohort (config.yaml's, the demo's) has no",
        "published CV repeats: its models are scored on its test accessions.",
        "Where a candidate's first layer goes through its features' low-rank factor",
        "(`train.first_layer_variance`; which features do: [first_layer.md](first_layer.md)), its products",
        "are smaller and only the two with the factored features run in bfloat16, the weight's projections",
        "through the factor's basis in float32: a cohort whose every candidate goes through it gains little",
        "or nothing per member-epoch.",
        f"Run on {platform.node()} ({cpu_model()}, {psutil.cpu_count()} cores), {date.today()}, "
        f"CPU {busy:.0%} busy before it.",
        "",
        "```sh",
        "make benchmark-precision",
        "```",
        "",
        differences(everything, "bfloat16 minus float32"),
        "",
    ]
    PAGE.write_text("\n".join(header + sections))


def runs_then_page(out, run_all, write_page):
    """`run_all()` (unless --page-only: the runs already in `out`), then `write_page(busy)`, busy the
    CPU's share in use before the runs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--page-only", action="store_true", help="write the page from the runs already there")
    args = parser.parse_args()
    busy = psutil.cpu_percent(interval=1.0) / 100
    if not args.page_only:
        if busy > 0.05:
            print(f"warning: CPU {busy:.0%} busy before the run: the machine is not idle", flush=True)
        run_all()
        (out / "busy.json").write_text(json.dumps({"busy": busy}))
    write_page(json.loads((out / "busy.json").read_text())["busy"])


def differences(rows, what, score="r"):
    """One line: the mean and range over `rows` (as `table`'s) of the GCN's and the recommended
    model's `score` differences, second run minus first (`what`)."""
    gcn = np.array([second["gcn"] - first["gcn"] for _, first, second in rows])
    recommended = np.array([second["recommended"] - first["recommended"] for _, first, second in rows])
    return (
        f"Over all {len(rows)} traits, {what}: GCN {score} {gcn.mean():+.4f} on average "
        f"(from {gcn.min():+.3f} to {gcn.max():+.3f}), the recommended model's {recommended.mean():+.4f} "
        f"(from {recommended.min():+.3f} to {recommended.max():+.3f})."
    )


def run_all():
    for cohort in COHORTS:
        previous = None
        for precision in PRECISIONS:
            config = with_train(cohort_config(cohort), first_layer_precision=precision)
            wall = run(OUT / cohort / precision, config, previous)
            print(cohort, precision, f"{wall / 60:.1f} min", flush=True)
            previous = OUT / cohort / precision


def main():
    runs_then_page(OUT, run_all, write_page)


if __name__ == "__main__":
    main()
