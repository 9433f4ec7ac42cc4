"""GCN ensemble members trained one after another against B of them as one batched model
(`gpgcn.gcn.batched`), on one core: member-epochs per second at B = 1, 5, 25, 50, 250, on the
demo cohort's shape (383 accessions, their GRM rows as features) and wheat_599's (599 lines,
1,279 SNP features). Every member runs the same fixed number of epochs (no early stopping), so
the two do the same work; rounds alternate which goes first. Writes
docs/benchmarks/batched_members.md.

    .venv/bin/python benchmarks/batched_members.py [--epochs 20] [--rounds 2]
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from defaults import default_config  # noqa: E402
from synthetic import in_memory_problem  # noqa: E402

from gpgcn.gcn.batched import fit_members  # noqa: E402
from gpgcn.gcn.strategies import Serial  # noqa: E402
from gpgcn.gcn.training import TrainSettings, fit, member_problem  # noqa: E402
from gpgcn.records import cpu_model  # noqa: E402

SIZES = (1, 5, 25, 50, 250)
COHORTS = {  # name: (accessions, features, what the features are)
    "demo": (383, 383, "GRM rows"),
    "wheat_599": (599, 1279, "SNP dosages"),
}


def cohort_problem(n, p, kind, rng, n_snps=1279):
    """Random genotypes of n accessions at `n_snps` SNPs: their centred dosages (the first p), or
    their GRM's rows; the kNN graph of the GRM as the pipeline builds it (graph.k,
    graph.self_loop_weight)."""
    graph = default_config()["graph"]
    dosage = rng.binomial(2, 0.3, size=(n, n_snps)).astype(np.float32)
    z = dosage - dosage.mean(axis=0)
    grm = z @ z.T / z.shape[1]
    features = (grm - grm.mean(axis=0)) if kind == "GRM rows" else z[:, :p]
    return in_memory_problem(features, grm, graph["k"], graph["self_loop_weight"], rng, n_test=n // 5)


def members_of(problem, n_members):
    """`n_members` members over the problem's CV folds in turn: each one's validation fold and its
    own problem, whose target is the trait less a fixed part of its own, as the members of a trait's
    outer CV folds differ (members that learn one target from the same accessions would train as
    one, `batched.fit_members`, and a batch of them would time one member)."""
    rng = np.random.default_rng(0)
    folds = [problem.folds[member % len(problem.folds)] for member in range(n_members)]
    return folds, [member_problem(problem, fold, {fold: 0.1 * rng.standard_normal(len(problem.ids))}) for fold in folds]


def member_epochs_per_second(problem, n_members, settings, batched):
    """Member-epochs per second of `n_members` members trained one after another or as one batched
    model, on one core or on the GPU of `settings.device`."""
    serial = Serial(1, settings)
    problem = serial.prepare(problem)
    folds, problems = members_of(problem, n_members)
    start = time.perf_counter()
    if batched:
        fit_members(serial.build_model(problem, settings), problems, folds, settings)
    else:
        for own, fold in zip(problems, folds):
            fit(serial.build_model(problem, settings), own, settings, serial, fold)
    return n_members * settings.max_epochs / (time.perf_counter() - start)


def batched_predictions(problem, n_members, settings, runner):
    """Every node's prediction by each of `n_members` members trained as one batched model on
    `runner`'s device, at each one's best epoch: [members, nodes]."""
    problem = runner.prepare(problem)
    folds, problems = members_of(problem, n_members)
    fitted = fit_members(runner.build_model(problem, settings), problems, folds, settings)
    return np.stack([stopping.best_pred for stopping, _ in fitted])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    busy = psutil.cpu_percent(interval=1.0) / 100
    if busy > 0.05:
        print(f"warning: CPU {busy:.0%} busy before the run: the machine is not idle", flush=True)
    changes = {"max_epochs": args.epochs, "patience": args.epochs + 1, "patience_accessions": 0}
    settings = TrainSettings(**{**default_config()["train"], **changes})
    rng = np.random.default_rng(0)
    rows = []
    for name, (n, p, kind) in COHORTS.items():
        problem = cohort_problem(n, p, kind, rng)
        for size in SIZES:
            rates = {False: [], True: []}
            for round_ in range(args.rounds):
                for batched in (round_ % 2 == 1, round_ % 2 == 0):  # alternate which goes first
                    rates[batched].append(member_epochs_per_second(problem, size, settings, batched))
            sequential, batched = np.median(rates[False]), np.median(rates[True])
            rows.append((name, n, p, kind, size, sequential, batched))
            print(f"{name} B={size}: {sequential:.0f} vs {batched:.0f} member-epochs/s", flush=True)
    write_page(rows, args, busy)


def write_page(rows, args, busy):
    hidden, layers = default_config()["train"]["hidden"], default_config()["train"]["layers"]
    lines = [
        "# Batched ensemble members: one core",
        "",
        f"Run on {platform.node()} ({cpu_model()}), {time.strftime('%Y-%m-%d')}, torch {torch.__version__}, "
        f"one thread; CPU {busy:.0%} busy before the run.",
        "",
        "```sh",
        f".venv/bin/python benchmarks/batched_members.py --epochs {args.epochs} --rounds {args.rounds}",
        "```",
        "",
        f"B GCN members (config.yaml's network: {layers} layers of {hidden} channels, dropout, Adam), each on its",
        f"own target and inner fold, {args.epochs} epochs each without early stopping, trained one after another",
        "(`training.fit`) or as one batched model (`batched.fit_members`); random genotypes of the cohort's",
        "shape, its kNN graph. Member-epochs per second, the median of the rounds (alternating which runs",
        "first); the ratio is batched over sequential.",
        "",
        "| cohort | accessions × features | B | sequential | batched | batched / sequential |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, n, p, kind, size, sequential, batched in rows:
        lines.append(
            f"| {name} | {n} × {p:,} {kind} | {size} | {sequential:.0f} | {batched:.0f} | {batched / sequential:.2f}× |"
        )
    cap = default_config()["train"]["batch_members"]
    for name in COHORTS:
        mine = [row for row in rows if row[0] == name]
        best = max(mine, key=lambda row: row[6] / row[5])
        largest = mine[-1]
        lines += [
            "",
            f"{name}: batching pays most at B = {best[4]} ({best[6] / best[5]:.2f}×), less beyond (at B = "
            f"{largest[4]}: {largest[6] / largest[5]:.2f}×); `train.batch_members` ({cap} by default) caps a "
            "batch near the best. Sequential member-epochs per second do not depend on B.",
        ]
    out = REPO / "docs" / "benchmarks" / "batched_members.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
