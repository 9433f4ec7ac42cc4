"""`make gpu-check`: every GPU path of the pipeline once, on a host with a CUDA GPU.

    python benchmarks/gpu_check.py [--work DIR] [--snps 1000000] [--epochs 20] [--out docs/benchmarks/gpu.md]

Two problems. The demo's simulated cohort goes through the workflow itself with `train.device:
cuda`: serial, interop, dataparallel, ddp over NCCL and snpshard, on one GPU and on every
visible GPU, and the per-trait models. A synthetic cohort of `--snps` SNPs goes through the
same training jobs, started as the rules start them. Every run trains the configured GCN for a
fixed number of epochs (no early stopping, one ensemble member, no dropout: the GPU's random
numbers are not the CPU's, so masks would differ), so each GPU run's predictions can be held
against a CPU serial run of the same job, to the tolerance the tests hold every strategy to.
Each problem's serial GPU epoch is timed against the floor of its three large products on the
GPU, the ratio docs/benchmarks/strategies.md reports for CPUs.

Then the per-trait job's batched members (`gcn.batched`) on the GPU, on the demo's shape (383
accessions, their GRM rows; and with their first layer through the features' factor,
`train.first_layer_variance`) and on `--snps` SNPs of 383 accessions: member-epochs per second one
member after another and as one batched model of B = 1, 5, 25, 50, 250 (a B whose members would
not fit the GPU's free memory is listed as not run, with why), and the predictions of five
members batched on the GPU against the same five batched on the CPU. The page it writes names
the GPU, CUDA and the driver.

On a host without CUDA it stops at once and says so. `--device cpu` runs the same check on the
CPU (dataparallel left out), to try the check itself where there is no GPU.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import torch
import yaml
from batched_members import SIZES, batched_predictions, cohort_problem, member_epochs_per_second
from defaults import REPO, default_config
from synthetic import product_seconds, write_synthetic_cohort

from gpgcn.gcn.batched import member_bytes
from gpgcn.gcn.first_layer import factored
from gpgcn.gcn.strategies import PREDICTION_TOLERANCE, STRATEGIES, IntraOp, Serial
from gpgcn.gcn.timing_job import TrainJob
from gpgcn.gcn.training import TrainSettings
from gpgcn.io import write_json, write_text
from gpgcn.models import MODELS, model_settings, trait_model_outputs
from gpgcn.models.job import trait_models_stage

TRAIT = "FT10_mean"  # the demo's trait
# The per-trait GCN, as the registry names it (the graph model of the stack).
GCN = next(name for name, model in MODELS.items() if model.stack_role == "graph")
OUTPUTS = {"metrics": "metrics.json", "predictions": "predictions.tsv", "epochs": "epochs.tsv"}
# Members whose batched predictions on the GPU are held against the same batch's on the CPU.
COMPARED_MEMBERS = 5
# Sequential member-epochs per second do not depend on B (batched_members.md): timed on this many.
SEQUENTIAL_MEMBERS = 5
# The share of the demo-shaped features' sum of squares their factor keeps in the batched check: their
# random genotypes vary in too many directions for the configured share to pay, this one does.
FACTOR_SHARE = 0.5


class NoCuda(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    strategy: str
    n_devices: int

    @property
    def name(self):
        return f"{self.strategy}/{self.n_devices}"


def runs(n_gpus, device="cuda"):
    """Every training path on `device`: each strategy that runs there on one device, and those
    that spread over GPUs on all `n_gpus` too."""
    found = []
    for name, strategy in STRATEGIES.items():
        if device in strategy.devices:
            spread = device == "cuda" and strategy.spreads_over_gpus
            found += [Run(name, n) for n in (sorted({1, n_gpus}) if spread else [1])]
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/gpu_check.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "gpu_check")
    parser.add_argument("--snps", type=int, default=1_000_000, help="SNPs of the synthetic cohort")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every run (no early stopping)")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs to use (default: every visible one)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "gpu.md")
    args = parser.parse_args(argv)
    if args.snps < 10 or args.epochs < 2:
        parser.error("--snps must be at least 10 and --epochs at least 2")
    return args


def visible_gpus(asked, device):
    """GPUs the check uses: every visible one, or `asked` of them; 1 for the CPU."""
    if device == "cpu":
        return 1
    if not torch.cuda.is_available():
        raise NoCuda("gpu-check: no CUDA device on this host (torch.cuda.is_available() is False); nothing was run")
    visible = torch.cuda.device_count()
    if asked is not None and not 1 <= asked <= visible:
        raise NoCuda(f"gpu-check: --gpus {asked} but this host has {visible} CUDA device(s)")
    return asked or visible


def reference_of(run):
    """The strategy whose CPU run on one device a run's predictions are held against."""
    return STRATEGIES[run.strategy].same_model_as


def reference_strategies(plan):
    return sorted({"serial", *(reference_of(r) for r in plan)})


def mkparent(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def train_settings(epochs, device):
    """The configured training settings for a fixed number of epochs, one member, no dropout (the
    GPU's random numbers are not the CPU's: its masks would differ), on `device`."""
    return {
        **default_config()["train"],
        "dropout": 0.0,
        "max_epochs": epochs,
        "patience": epochs + 1,
        "patience_accessions": 0,
        "ensemble": False,
        "checkpoint_every": epochs + 1,
        "device": device,
        # The references train on the features as they are; so must the per-trait GCN held against them.
        "first_layer_variance": 1.0,
    }


def standardised(predictions_path):
    """A predictions.tsv on the scale of its training accessions' phenotypes."""
    frame = pd.read_csv(predictions_path, sep="\t", dtype={"ID": str})
    train = frame.loc[frame["set"] == "train", "observed"]
    return frame.set_index("ID")["predicted"].sub(train.mean()).div(train.std(ddof=0))


def check_row(problem, run, device, folder, reference):
    """How one run's predictions (in `folder`) differ from the CPU serial run's (in `reference`)."""
    metrics = json.loads((folder / "metrics.json").read_text())
    ours, reference = standardised(folder / "predictions.tsv"), standardised(reference / "predictions.tsv")
    difference = float(np.max(np.abs(ours.reindex(reference.index).to_numpy() - reference.to_numpy())))
    return {
        "problem": problem,
        "run": run,
        "device": device,
        "seconds_per_epoch_median": metrics.get("seconds_per_epoch_median"),
        "max_abs_difference": difference,
        "within_tolerance": bool(difference <= PREDICTION_TOLERANCE),
    }


def snakemake(work, config_path, *targets):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work)]
    command += ["--configfile", str(config_path), "--cores", "all", *targets]
    subprocess.run(command, check=True)


def demo_problem(work, settings, plan, device):
    """The demo cohort through the workflow: a CPU serial reference first, then every run on
    `device`; one row per run."""
    work.mkdir(parents=True, exist_ok=True)
    strategies = {name: sorted({r.n_devices for r in plan if r.strategy == name}) for name in STRATEGIES}
    # The per-trait GCN as the strategies train it, so serial's run is its reference too: on the
    # SNPs (not the GRM rows the per-trait models use by default), around no marker (GBLUP + loci's
    # markers would change its target).
    select = {"node_features": "genotypes", "candidates": [{}], "loci_counts": [0]}
    config = {"select": select, "strategies": strategies}
    cpu_config, gpu_config = work / "cpu.yaml", work / "gpu.yaml"
    write_text(cpu_config, yaml.safe_dump({**config, "train": {**settings, "device": "cpu"}}))
    write_text(gpu_config, yaml.safe_dump({**config, "train": settings}))
    references = {name: work / "cpu_reference" / name for name in reference_strategies(plan)}
    shutil.rmtree(work / "cpu_reference", ignore_errors=True)
    snakemake(work, cpu_config, *(f"results/train/{name}/1/metrics.json" for name in references))
    for name, folder in references.items():
        shutil.move(work / "results" / "train" / name / "1", mkparent(folder))
    for what in ("train", "models"):
        shutil.rmtree(work / "results" / what, ignore_errors=True)
    start = time.perf_counter()
    snakemake(work, gpu_config)
    log_seconds(f"demo on {device}", start)
    rows = [
        check_row("demo", r.name, device, work / "results" / "train" / r.name, references[reference_of(r)])
        for r in plan
    ]
    model = work / "results" / "models" / TRAIT / GCN
    rows.append(check_row("demo", "per-trait GCN", device, model, references["serial"]))
    return rows, sorted((work / "results" / "genotypes").glob("*.npy"))


def synthetic_problem(work, n_snps, settings, plan, device):
    """A synthetic cohort of `n_snps` SNPs: the training jobs the rules start, a CPU serial
    reference first, and the per-trait models; one row per run."""
    work.mkdir(parents=True, exist_ok=True)
    graph = default_config()["graph"]
    start = time.perf_counter()
    cohort = write_synthetic_cohort(work, n_snps, graph["k"])
    log_seconds(f"{n_snps:,}-SNP cohort written", start)
    inputs = {
        "graph": cohort.graph,
        "split": cohort.split,
        "matrices": cohort.matrices,
        "accessions": cohort.accessions,
        "matrix_chromosomes": cohort.chromosomes,
        "self_loop_weight": graph["self_loop_weight"],
    }
    references = {name: work / "cpu_reference" / name for name in reference_strategies(plan)}
    jobs = [(folder, Run(name, 1), "cpu") for name, folder in references.items()]
    jobs += [(work / r.strategy / str(r.n_devices), r, device) for r in plan]
    for folder, run, on in jobs:
        start = time.perf_counter()
        job = TrainJob(
            strategy=run.strategy,
            n_devices=run.n_devices,
            outputs={name: str(folder / file) for name, file in OUTPUTS.items()},
            log=f"{folder}.log",
            settings={**settings, "device": on},
            **inputs,
        )
        job.save(f"{folder}.job.json")
        subprocess.run([sys.executable, "-m", "gpgcn.cli", "run", "--job", f"{folder}.job.json"], check=True)
        log_seconds(f"{run.name} on {on}", start)
    rows = [
        check_row("synthetic", run.name, on, folder, references[reference_of(run)])
        for folder, run, on in jobs[len(references) :]
    ]
    model = work / "per_trait"
    # No SNP tables: the GCN trains on the SNPs, and GBLUP + loci has no markers to scan (GBLUP).
    config = {
        "train": settings,
        "graph": graph,
        "select": {"node_features": "genotypes", "candidates": [{}], "snp_feature_limit": 0, "loci_counts": [0]},
    }
    trait_models_stage(
        files={
            "trait": "synthetic",
            "split_path": cohort.split,
            "grm_path": cohort.grm,
            "matrix_paths": cohort.matrices,
            "accessions_paths": cohort.accessions,
            "matrix_chromosomes": cohort.chromosomes,
        },
        settings=model_settings(config),
        outputs=per_trait_outputs(model),
    )
    rows.append(check_row("synthetic", "per-trait GCN", device, model / GCN, references["serial"]))
    return rows, cohort.matrices


def memory_free(device):
    """Bytes free for a batch's members on `device` (the earlier runs' cached blocks released)."""
    if device == "cpu":
        return psutil.virtual_memory().available
    torch.cuda.empty_cache()
    return torch.cuda.mem_get_info()[0]


def batched_rows(n_snps, settings, device):
    """The per-trait job's batched members on `device`, on the demo's shape and on `n_snps` SNPs:
    timing rows (member-epochs per second, sequential and batched, at each B of SIZES whose
    members fit 80 % of the free memory) and one check row per problem (COMPARED_MEMBERS members
    batched on `device` against the same batch on the CPU's threads); the demo's shape through
    its features' factor is checked, not timed (members go through it only batched, as the job's do)."""
    settings = TrainSettings(**settings)
    demo = cohort_problem(383, 383, "GRM rows", np.random.default_rng(0))
    cohorts = {
        "demo": demo,
        "synthetic": cohort_problem(383, n_snps, "SNP dosages", np.random.default_rng(0), n_snps=n_snps),
    }
    timings, checks = [], []
    for name, problem in cohorts.items():
        start = time.perf_counter()
        timings += batched_timings(name, problem, settings, device)
        checks.append(batched_check(name, problem, settings, device))
        log_seconds(f"batched members on {name}", start)
    checks.insert(1, batched_check("demo through its factor", factored(demo, FACTOR_SHARE), settings, device))
    return timings, checks


def batched_timings(name, problem, settings, device):
    sequential = member_epochs_per_second(problem, SEQUENTIAL_MEMBERS, settings, batched=False)
    rows = []
    for size in SIZES:
        need, free = size * member_bytes(problem, settings) / 1024**3, memory_free(device) / 1024**3
        row = {"problem": name, "features": problem.x.shape[1], "B": size, "sequential": sequential}
        if need > 0.8 * free:
            row["not_run"] = f"{size} members hold {need:.1f} GiB; {free:.1f} GiB free"
        else:
            try:
                row["batched"] = member_epochs_per_second(problem, size, settings, batched=True)
            except torch.OutOfMemoryError:  # member_bytes leaves out the products' temporaries
                row["not_run"] = f"out of memory ({need:.1f} GiB estimated, {free:.1f} GiB free)"
        rows.append(row)
    return rows


def batched_check(name, problem, settings, device):
    on_cpu = replace(settings, device="cpu")
    ours = batched_predictions(problem, COMPARED_MEMBERS, settings, Serial(1, settings))
    cpu = batched_predictions(problem, COMPARED_MEMBERS, on_cpu, IntraOp(os.cpu_count(), on_cpu))
    difference = float(np.max(np.abs(ours - cpu)))
    return {
        "problem": name,
        "run": f"batched members ({COMPARED_MEMBERS})",
        "device": device,
        "max_abs_difference": difference,
        "within_tolerance": bool(difference <= PREDICTION_TOLERANCE),
    }


def log_seconds(what, start):
    print(f"gpu-check: {what}: {time.perf_counter() - start:.0f} s", flush=True)


def per_trait_outputs(folder):
    """trait_models_stage's outputs, each model's in `folder`/{model} as the workflow lays them out."""
    return {**trait_model_outputs(folder), **{name: folder / f"{name}.tsv" for name in ("cv_predictions", "table")}}


def host_description(device):
    """GPU, CUDA and driver (or the CPU), torch, host and date."""
    if device == "cpu":
        from gpgcn.records import cpu_model

        hardware = f"no GPU (--device cpu): {cpu_model()}"
    else:
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        try:
            driver = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            driver = "unknown (nvidia-smi did not answer)"
        hardware = f"{len(names)} × {', '.join(sorted(set(names)))}, CUDA {torch.version.cuda}, driver {driver}"
    return f"{hardware}; torch {torch.__version__}; host {platform.node()}; {time.strftime('%Y-%m-%d')}"


COLUMNS = [
    "problem",
    "run",
    "device",
    "seconds_per_epoch_median",
    "epoch_over_products",
    "max_abs_difference",
    "within_tolerance",
]


def page(rows, host, command, epochs, n_snps, batched=()):
    """docs/benchmarks/gpu.md: what ran where, how long an epoch took, and whether it learnt what
    the CPU serial run learnt; the batched members' timing rows (`batched_rows`)."""
    table = pd.DataFrame(rows, columns=COLUMNS)
    lines = [
        "# GPU check",
        "",
        f"Measured by `{command}` on {host}.",
        "",
        f"Every run trains the configured GCN (config.yaml `train:`) for {epochs} epochs, one member, no early",
        "stopping. `demo`: the demo's simulated cohort through the workflow;",
        f"`synthetic`: {n_snps:,} random SNPs of 383 accessions through the same training jobs.",
        "`max_abs_difference`: the largest difference of any accession's prediction from a CPU run of the",
        "same model on one device (`interop/1` for interop, a different architecture; `serial/1` for the",
        f"rest), in training-phenotype standard deviations; within tolerance at most {PREDICTION_TOLERANCE:g},",
        "the tolerance the tests hold every strategy to. `epoch_over_products`: serial's median epoch over",
        "its three large products (X·W, Xᵀ·G, X·W) timed alone on the same device. `batched members`:",
        f"{COMPARED_MEMBERS} ensemble members trained as one batched model, as the per-trait job trains them,",
        "against the same batch on the CPU (the largest difference of any member's prediction, in its own",
        "target's standard deviations).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for row in table.to_dict("records"):
        lines.append("| " + " | ".join(cell(row[c]) for c in COLUMNS) + " |")
    if batched:
        lines += [
            "",
            "## Batched members",
            "",
            f"Member-epochs per second ({epochs} epochs each, no early stopping) of B members trained one after",
            f"another (timed on {SEQUENTIAL_MEMBERS}: one member's speed does not depend on B) and as one batched",
            "model; `demo`: 383 accessions, their GRM rows as features (random genotypes, the demo's shape);",
            f"`synthetic`: {n_snps:,} random SNPs of 383 accessions. The check above also holds `demo through",
            f"its factor` (the demo's shape, its first layer through the directions holding {FACTOR_SHARE:.0%} of",
            "its features' sum of squares, `train.first_layer_variance`) on the GPU against the CPU.",
            "",
            "| problem | features | B | sequential | batched | batched / sequential |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in batched:
            if "batched" in row:
                cells = f"{row['batched']:.0f} | {row['batched'] / row['sequential']:.2f}×"
            else:
                cells = f"not run: {row['not_run']} | "
            lines.append(f"| {row['problem']} | {row['features']:,} | {row['B']} | {row['sequential']:.0f} | {cells} |")
    return "\n".join(lines) + "\n"


def cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def main(argv=None):
    args = parse_args(argv)
    try:
        n_gpus = visible_gpus(args.gpus, args.device)
    except NoCuda as refusal:
        print(refusal, file=sys.stderr)
        return 1
    start = time.perf_counter()
    plan = runs(n_gpus, args.device)
    settings = train_settings(args.epochs, args.device)
    rows, floors = [], {}
    for problem, (found, matrices) in (
        ("demo", demo_problem(args.work / "demo", settings, plan, args.device)),
        ("synthetic", synthetic_problem(args.work / "synthetic", args.snps, settings, plan, args.device)),
    ):
        floors[problem] = product_seconds(matrices, settings["hidden"], args.device)
        rows += found
    for row in rows:
        if row["run"] == "serial/1":
            row["epoch_over_products"] = row["seconds_per_epoch_median"] / floors[row["problem"]]
    timings, checks = batched_rows(args.snps, settings, args.device)
    rows += checks
    command = (
        "make gpu-check"
        if argv is None and len(sys.argv) == 1
        else "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:] if argv is None else argv)
    )
    write_text(args.out, page(rows, host_description(args.device), command, args.epochs, args.snps, timings))
    write_json(args.work / "rows.json", {"runs": rows, "batched_members": timings})
    log_seconds(f"done, {args.out} written", start)
    failed = [f"{r['problem']} {r['run']}" for r in rows if not r["within_tolerance"]]
    if failed:
        print(f"gpu-check: predictions differ from the CPU's beyond {PREDICTION_TOLERANCE:g}: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
