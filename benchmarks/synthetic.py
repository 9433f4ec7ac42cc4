"""A synthetic cohort at any SNP count, for timing training where a simulation would be too slow
to build: random inbred dosages in five chromosome files, the GRM and its kNN graph, a split."""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gpgcn.data.graph import knn_graph, write_graph
from gpgcn.data.kinship import GRMAccumulator, write_kinship
from gpgcn.io import write_ids, write_tsv

N_ACCESSIONS, N_CHROMOSOMES, N_TEST = 383, 5, 77


@dataclass
class SyntheticCohort:
    matrices: list  # one int8 dosage matrix (.npy) per chromosome
    accessions: list  # each matrix's accession list
    chromosomes: list
    graph: str
    split: str
    grm: str


def write_synthetic_cohort(directory, n_snps, k, seed=0):
    """383 accessions (77 test, the rest in 5 CV folds), their kNN graph of `k` neighbours, a trait
    of random noise: the work of an epoch, not what it learns, is what these cohorts are for."""
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    ids = [str(1000 + i) for i in range(N_ACCESSIONS)]
    grm = GRMAccumulator(N_ACCESSIONS)
    matrices, accessions = [], []
    for c, width in enumerate(np.array_split(np.arange(n_snps), N_CHROMOSOMES)):
        freq = rng.uniform(0.05, 0.5, size=len(width)).astype(np.float32)
        dosage = (2 * (rng.random((N_ACCESSIONS, len(width)), dtype=np.float32) < freq)).astype(np.int8)
        grm.add(dosage)
        matrices.append(str(directory / f"{c + 1}.npy"))
        np.save(matrices[-1], dosage)
        accessions.append(str(directory / f"{c + 1}.accessions.txt"))
        write_ids(accessions[-1], ids)
    matrix = grm.matrix()
    write_kinship(directory / "grm.tsv", matrix, ids)
    write_graph(directory / "graph.tsv", *knn_graph(matrix, k), ids)
    sets = np.array(["train"] * (N_ACCESSIONS - N_TEST) + ["test"] * N_TEST)
    rng.shuffle(sets)
    folds = np.where(sets == "train", 1 + np.arange(N_ACCESSIONS) % 5, 0)
    write_tsv(
        directory / "split.tsv",
        pd.DataFrame({"ID": ids, "y": rng.normal(size=N_ACCESSIONS), "set": sets, "fold": folds}),
    )
    return SyntheticCohort(
        matrices,
        accessions,
        [str(c + 1) for c in range(N_CHROMOSOMES)],
        str(directory / "graph.tsv"),
        str(directory / "split.tsv"),
        str(directory / "grm.tsv"),
    )


def product_seconds(matrices, hidden, device="cpu", repeats=5):
    """The three large products of one epoch alone, median of `repeats`: X·W forward, Xᵀ·G for the
    first layer's gradient, X·W again for validation. The floor an epoch's time is held against."""
    import torch

    x = torch.from_numpy(np.concatenate([np.load(p).astype(np.float32) for p in matrices], axis=1)).to(device)
    w = torch.randn(x.shape[1], hidden, device=device)
    g = torch.randn(x.shape[0], hidden, device=device)

    def wait():
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    times = []
    for _ in range(repeats + 1):  # the first, warming up, is not counted
        wait()
        start = time.perf_counter()
        x @ w
        x.T @ g
        x @ w
        wait()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def in_memory_problem(features, similarity, k, self_loop_weight, rng, n_test):
    """A training problem held in memory: `features` (accessions × features) over the kNN graph
    of `similarity`, a trait of random noise, the first `n_test` accessions as the test set and
    the rest in 5 CV folds."""
    import torch

    from gpgcn.gcn.networks import propagation
    from gpgcn.gcn.problem import Problem

    n = len(features)
    y = rng.normal(size=n).astype(np.float32)
    train = np.arange(n) >= n_test
    edge_index, edge_weight = propagation(*knn_graph(similarity, k), n, self_loop_weight)
    return Problem(
        ids=[str(i) for i in range(n)],
        x=torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
        chrom_sizes=[features.shape[1]],
        edge_index=edge_index,
        edge_weight=edge_weight,
        y=torch.from_numpy(y),
        y_mean=0.0,
        y_sd=1.0,
        train_idx=torch.from_numpy(np.flatnonzero(train)),
        test_idx=torch.from_numpy(np.flatnonzero(~train)),
        fold=np.where(train, 1 + np.arange(n) % 5, 0),
        observed=y.astype(float),
    )
