"""The per-trait model job with its GCN members trained one at a time (`train.batch_members: 1`)
against batched (B = 5, 25, 50, 250 and as configured), on one real trait: FT10_mean of the 383
study accessions (`benchmarks/real_traits.yaml`: the published kinship, test split and ten repeats
of 5-fold CV; every other setting config.yaml's), one thread, then batched as configured on every
core. Rounds alternate which goes first. Then a cost model (the GCN's seconds = its member-epochs ×
seconds per member-epoch) fitted on the configured run and checked against the six real traits'
jobs of `make benchmark-real-traits` (run it first). Writes docs/benchmarks/batched_job.md.

    .venv/bin/python benchmarks/batched_job.py [--rounds 1] [--page-only: the page from the runs already made]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from defaults import default_config  # noqa: E402

from gpgcn.models import MODELS, RECOMMENDED, model_settings, trait_model_outputs  # noqa: E402
from gpgcn.models.job import trait_models_stage  # noqa: E402
from gpgcn.records import cpu_model  # noqa: E402

OUT = REPO / "benchmarks" / "out" / "batched_job"
TRAIT = "FT10_mean"
GCN = next(name for name, model in MODELS.items() if model.stack_role == "graph")


def prepare():
    """The trait's split and the kinship, by the workflow (mode kinship: no genotype stage)."""
    OUT.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "benchmarks" / "real_traits.yaml").read_text())
    # OUT lies as deep as real_traits.yaml's own run folder, so its relative paths hold as they are.
    config["input"]["traits"] = [TRAIT]
    (OUT / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/split/{TRAIT}/split.tsv", "results/kinship/grm.tsv"]
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "1"]
    subprocess.run([*command, "--configfile", str(OUT / "config.yaml"), "--directory", str(OUT), *targets], check=True)
    return config


def run(config, batch_members, threads, name, busy):
    """One per-trait job, its wall time kept beside its outputs; what it `measured`."""
    full = default_config()
    merged = {section: {**full[section], **config.get(section, {})} for section in ("train", "graph", "select")}
    merged["train"]["batch_members"] = batch_members
    folder = OUT / name
    outputs = {
        **trait_model_outputs(str(folder)),
        "cv_predictions": str(folder / "cv.tsv"),
        "table": str(folder / "t.tsv"),
    }
    start = time.perf_counter()
    trait_models_stage(
        files={
            "trait": TRAIT,
            "split_path": OUT / f"results/split/{TRAIT}/split.tsv",
            "grm_path": OUT / "results/kinship/grm.tsv",
        },
        settings=model_settings(merged),
        outputs=outputs,
        threads=threads,
    )
    (folder / "run.json").write_text(json.dumps({"wall": time.perf_counter() - start, "busy": busy}))
    return measured(folder)


def measured(folder):
    """One run's job wall time, the GCN's seconds, member fits and member-epochs, and its GCN's
    choice and CV r, from the run's folder."""
    outputs = trait_model_outputs(str(folder))
    gcn = json.loads(Path(outputs[f"{GCN}_metrics"]).read_text())
    repeats, folds = gcn["cv_repeats"], 5
    tried = [c for c in gcn["selection"]["candidates"] if not c["skipped"]]
    cv = pd.read_csv(folder / "cv.tsv", sep="\t")
    return {
        **json.loads((folder / "run.json").read_text()),
        "gcn_seconds": gcn_seconds(gcn),
        "tried": len(tried),
        "members": len(tried) * (folds + repeats * folds * (folds - 1)),  # every candidate on every fold
        "member_epochs": member_epochs(gcn),
        "gcn_cv_r": gcn["cv_pearson_r_mean"],
        "recommended_cv_r": json.loads(Path(outputs[f"{RECOMMENDED}_metrics"]).read_text())["cv_pearson_r_mean"],
        "cv": cv[GCN].to_numpy(),
        "averaged": gcn["selection"]["averaged"],
        "scores": {c["candidate"]: c["cv_pearson_r"] for c in tried},
    }


def gcn_seconds(gcn):
    """The GCN's seconds in a per-trait job (its metrics.json): on all training accessions and in the CV."""
    spent = gcn["seconds_by_model"][GCN]
    return spent["training_accessions"] + spent["cross_validation"]


def member_epochs(gcn):
    """Every GCN member-epoch of a per-trait job (its metrics.json): on all training accessions
    and in every outer CV fold."""
    in_cv = gcn["by_outer_fold"]["gcn_member_epochs"]
    return gcn["gcn_member_epochs"] + sum(sum(by_fold) for by_fold in in_cv.values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--page-only", action="store_true", help="write the page from the runs already in OUT")
    args = parser.parse_args()
    configured = default_config()["train"]["batch_members"]
    cores = os.cpu_count()
    variants = {
        "one at a time (B = 1), 1 thread": (1, 1),
        **{f"batched (≤ {size}), 1 thread": (size, 1) for size in (5, 25, 50, 250)},
        f"batched (≤ {configured}, as configured), 1 thread": (configured, 1),
        f"batched (≤ {configured}, as configured), {cores} threads": (configured, cores),
    }
    folder = {
        name: [f"run{r}_{size}_{threads}" for r in range(args.rounds)] for name, (size, threads) in variants.items()
    }
    if not args.page_only:
        config = prepare()
        busy = psutil.cpu_percent(interval=1.0) / 100
        if busy > 0.05:
            print(f"warning: CPU {busy:.0%} busy before the run: the machine is not idle", flush=True)
        for round_ in range(args.rounds):
            for name in list(variants) if round_ % 2 == 0 else list(reversed(variants)):
                result = run(config, *variants[name], folder[name][round_], busy)
                print(name, {k: v for k, v in result.items() if k != "cv"}, flush=True)
    results = {name: [measured(OUT / f) for f in folders] for name, folders in folder.items()}
    write_page(results, args, cores)


def write_page(results, args, cores):
    first = next(iter(results.values()))[0]
    busy = max(r["busy"] for runs in results.values() for r in runs)
    lines = [
        "# The per-trait job with batched GCN members",
        "",
        f"Run on {platform.node()} ({cpu_model()}, {cores} cores), {time.strftime('%Y-%m-%d')}; CPU {busy:.0%} busy "
        "before the run.",
        "",
        "```sh",
        "make benchmark-real-traits   # the six traits' jobs the cost model is checked on",
        f".venv/bin/python benchmarks/batched_job.py --rounds {args.rounds}",
        "```",
        "",
        f"One per-trait model job on {TRAIT} of the 383 study accessions (`benchmarks/real_traits.yaml`: the",
        "published kinship, its 306 training columns as the GCN's features, the published test split and ten",
        "repeats of 5-fold CV; every other setting `config.yaml`'s): every candidate's fold ensemble on all",
        f"training accessions and in every outer CV fold, {first['members']} GCN member fits in all ({first['tried']}"
        f" candidates, each one's {first['members'] // first['tried']} in batches of at most B). Medians over the",
        "rounds; the GCN's seconds are its share of the job; a member-epoch is one member's training step and",
        "evaluation.",
        "",
        "| GCN members | job wall time | GCN seconds | member fits per second | member-epochs per second |"
        " GCN averaged | GCN CV r | recommended CV r |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in results.items():
        wall = np.median([r["wall"] for r in runs])
        gcn = np.median([r["gcn_seconds"] for r in runs])
        lines.append(
            f"| {name} | {wall / 60:.1f} min | {gcn:.0f} s | {runs[0]['members'] / gcn:.2f} | "
            f"{runs[0]['member_epochs'] / gcn:.0f} | {'; '.join(runs[0]['averaged'])} | {runs[0]['gcn_cv_r']:.3f} | "
            f"{runs[0]['recommended_cv_r']:.3f} |"
        )
    lines += ["", *paying_lines(results), "", *rounding_lines(results), "", *cost_model_lines(results, cores)]
    out = REPO / "docs" / "benchmarks" / "batched_job.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def paying_lines(results):
    """Where batching stops paying, on one thread."""
    rate = {
        name: np.median([r["member_epochs"] / r["gcn_seconds"] for r in runs])
        for name, runs in results.items()
        if name.endswith(", 1 thread")
    }
    alone, best = next(iter(rate)), max(rate, key=rate.get)
    label = {name: name.removesuffix(", 1 thread") for name in rate}
    return [
        f"On one thread, {label[best]} pays most: {rate[best] / rate[alone]:.2f}× the member-epochs per second",
        "of one member at a time ("
        + ", ".join(f"{label[name]} {value / rate[alone]:.2f}×" for name, value in rate.items() if name != alone)
        + "). Beyond that it pays less: the products grow with the batch, and a batch runs until its last",
        "member stops, with fewer members sharing each product as the others stop.",
    ]


def rounding_lines(results):
    sequential = next(iter(results.values()))[0]["cv"]
    spread = max(np.nanmax(np.abs(runs[0]["cv"] - sequential)) for runs in results.values())
    scores = [runs[0]["scores"] for runs in results.values()]
    moved = max(scores[0], key=lambda c: max(abs(other[c] - scores[0][c]) for other in scores))
    return [
        "The variants train the same members from the same seed with the same dropout draws; their products",
        "differ only in float rounding (on the tests' toy problem within 1e-6; the tests hold them to 1e-4). Early",
        "stopping can still turn on a rounding-level difference between two epochs' validation losses, and a",
        f"member that stops elsewhere moves its candidate's score: here most `{moved}`'s, "
        + ", ".join(f"{score[moved]:.4f}" for score in scores)
        + " in the variants' order. Where that moves the choice the CV's predictions differ by as much as the",
        "candidates' do (largest difference between the variants' out-of-fold GCN predictions: "
        f"{spread:.2g} trait units).",
    ]


def cost_model_lines(results, cores):
    """The GCN's seconds as its member-epochs times the seconds per member-epoch of the configured
    batch on one thread, checked against the six real traits' jobs (one thread each, two at a time)."""
    configured = [runs for name, runs in results.items() if "as configured" in name]
    one, every = (np.median([r["gcn_seconds"] / r["member_epochs"] for r in runs]) for runs in configured)
    run_dir = REPO / "benchmarks" / "out" / "real_traits"
    rows, ratios, total_gcn, total_job = [], [], 0.0, 0.0
    for trait in yaml.safe_load((REPO / "benchmarks" / "real_traits.yaml").read_text())["input"]["traits"]:
        gcn = json.loads((run_dir / f"results/models/{trait}/{GCN}/metrics.json").read_text())
        spent, epochs = gcn_seconds(gcn), member_epochs(gcn)
        total_gcn += spent
        total_job += gcn["seconds_total"]
        model = epochs * one
        ratios.append(spent / model)
        rows.append(f"| {trait} | {epochs:,} | {model:.0f} s | {spent:.0f} s | {spent / model:.2f} |")
    wall = float((run_dir / "wall_seconds").read_text())
    return [
        "## Cost model",
        "",
        "A GCN fit's time grows with its member-epochs (members × the epochs each runs before early stopping",
        "ends it): the job's GCN seconds = member-epochs × the seconds per member-epoch of its batches. From the",
        f"configured runs above: {one * 1e3:.2f} ms per member-epoch on one thread, {every * 1e3:.2f} ms on "
        f"{cores} threads ({one / every:.2f}× from the second thread). Checked on the six traits of",
        "[real_traits.md](real_traits.md) (the same accessions and features, each trait's own epochs; one thread",
        "per job, two jobs at a time on the two cores):",
        "",
        "| trait | member-epochs | model | measured | measured / model |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"The six jobs' GCN seconds sum to {total_gcn / 60:.1f} min, their whole jobs to {total_job / 60:.1f} min; two",
        f"at a time they took {wall / 60:.1f} min of wall time (the workflow's), {total_job / wall:.2f} jobs' worth at",
        "once on two cores. Trait jobs share nothing, so a node runs one per core: a 16-core node would run 16 such",
        "traits in about one job's time if jobs sharing a machine keep their speed (two did here: measured / model",
        f"{min(ratios):.2f}–{max(ratios):.2f}; sixteen sharing one node's memory bandwidth are not measured). One",
        "trait's job gains from",
        f"more threads only what its products do ({one / every:.2f}× from the second thread here); a GPU's is not",
        "measured on this page (no GPU here; `make gpu-check` runs the batched job on one, [gpu.md](gpu.md)).",
    ]


if __name__ == "__main__":
    main()
