"""What one GCN candidate costs at the real genome's scale: seconds per epoch of the serial GCN
on one core, 383 accessions, with 1M SNP features against the 383-column GRM rows
(`train.node_features: kinship`). Writes benchmarks/out/candidate_cost.json, which
benchmarks/real_traits_table.py turns into the cost section of docs/benchmarks/real_traits.md.

    .venv/bin/python benchmarks/candidate_cost.py [--snps 1000000] [--epochs 12]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from defaults import default_config  # noqa: E402
from synthetic import N_TEST, in_memory_problem  # noqa: E402

from gpgcn.gcn.strategies import Serial  # noqa: E402
from gpgcn.gcn.training import TrainSettings, fit  # noqa: E402
from gpgcn.records import cpu_model, seconds_per_epoch  # noqa: E402

N_ACCESSIONS = 383


def problem(features, similarity, rng):
    return in_memory_problem(features, similarity, 10, 10.0, rng, N_TEST)


def seconds_per_epoch_of(problem, epochs):
    changes = {"lr": 0.002, "max_epochs": epochs, "patience": epochs, "patience_accessions": 0, "warmup_epochs": 2}
    settings = TrainSettings(**{**default_config()["train"], **changes})
    serial = Serial(1, settings)
    start = time.perf_counter()
    _, records = fit(serial.build_model(problem, settings), problem, settings, serial, val_fold=1)
    return seconds_per_epoch(records, settings.warmup_epochs), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snps", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cpu_busy = psutil.cpu_percent(interval=1.0) / 100
    # Centred dosages of inbred accessions (0 or 2), built in blocks to bound the memory.
    dosage = np.empty((N_ACCESSIONS, args.snps), dtype=np.float32)
    for start in range(0, args.snps, 100_000):
        block = 2.0 * (rng.random((N_ACCESSIONS, min(100_000, args.snps - start))) < rng.uniform(0.05, 0.5))
        dosage[:, start : start + block.shape[1]] = block - block.mean(axis=0)
    grm = (dosage @ dosage.T).astype(np.float64) / args.snps
    snps_epoch, _ = seconds_per_epoch_of(problem(dosage, grm, rng), args.epochs)
    del dosage
    grm_rows = (grm - grm.mean(axis=0)).astype(np.float32)
    kinship_epoch, _ = seconds_per_epoch_of(problem(grm_rows, grm, rng), args.epochs)
    result = {
        "snps": args.snps,
        "accessions": N_ACCESSIONS,
        "seconds_per_epoch_snps": snps_epoch,
        "seconds_per_epoch_kinship_rows": kinship_epoch,
        "cpu_busy_before": cpu_busy,
        "cpu_model": cpu_model(),
        "date": time.strftime("%Y-%m-%d"),
    }
    out = REPO / "benchmarks" / "out" / "candidate_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
