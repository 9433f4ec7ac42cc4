"""Hyperparameter search for the GCN on the real FT10 data, by cross-validation inside the 306
training accessions only (the published first CV repeat; the test accessions are never used).

    .venv/bin/python benchmarks/real_ft10_search.py [--part 1/2]

Needs a finished `benchmarks/real_ft10.yaml` run (for its split) and ../shared. Each candidate
changes one setting from the workflow's defaults; the score is the Pearson r of out-of-fold
predictions pooled over the 5 folds of repeat cv_1 (each fold predicted by the fold ensemble
trained on the other four). Writes benchmarks/out/real_ft10_search.{part}.tsv; the table in
docs/benchmarks/real_ft10.md lists them all.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gpgcn.dataset import load_problem  # noqa: E402
from gpgcn.graph import knn_graph, write_graph  # noqa: E402
from gpgcn.kinship import read_kinship, similarity_for_graph  # noqa: E402
from gpgcn.strategies import Serial  # noqa: E402
from gpgcn.train import TrainSettings, cross_validate  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "ft10_383"
KINSHIP = SHARED / "SNP_383_accessions_kinship.csv_training.csv"
SPLIT = REPO / "benchmarks" / "out" / "real_ft10" / "results" / "split" / "split.tsv"
CANDIDATES = [
    {},
    {"self_loop_weight": 1.0},
    {"self_loop_weight": 10.0},
    {"self_loop_weight": 200.0},
    {"k": 5},
    {"k": 20},
    {"lr": 0.001},
    {"features": "standardised"},
    {"weight_decay": 0.005},
    {"dropout": 0.2},
]


def score(candidate, defaults, graphs):
    settings = TrainSettings(
        **{**defaults["train"], **{k: v for k, v in candidate.items() if k in TrainSettings.__dataclass_fields__}}
    )
    k = candidate.get("k", defaults["graph"]["k"])
    problem = load_problem(
        [],
        [],
        graphs[k],
        SPLIT,
        features=settings.features,
        kinship_path=KINSHIP,
        self_loop_weight=candidate.get("self_loop_weight", defaults["graph"]["self_loop_weight"]),
    )
    problem.cv_repeats = {"cv_1": problem.cv_repeats["cv_1"]}
    serial = Serial(1, settings)
    return cross_validate(lambda: serial.build_model(problem, settings), problem, settings, serial)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="1/1", help="i/n: run every n-th candidate starting at i")
    args = parser.parse_args()
    part, parts = map(int, args.part.split("/"))
    defaults = yaml.safe_load((REPO / "config.yaml").read_text())
    matrix, rows, cols = read_kinship(KINSHIP)
    similarity = similarity_for_graph(matrix, rows, cols)
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {}
        for k in (5, 10, 20):
            graphs[k] = Path(tmp) / f"graph{k}.tsv"
            write_graph(graphs[k], *knn_graph(similarity, k), rows)
        for candidate in CANDIDATES[part - 1 :: parts]:
            start = time.perf_counter()
            r = score(candidate, defaults, graphs)
            name = ", ".join(f"{k}={v}" for k, v in candidate.items()) or "defaults"
            print(f"{name}: CV r {r:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
            rows_out.append({"change": name, "cv1_pearson_r": r})
    out = REPO / "benchmarks" / "out" / f"real_ft10_search.{part}.tsv"
    pd.DataFrame(rows_out).to_csv(out, sep="\t", index=False)


if __name__ == "__main__":
    main()
