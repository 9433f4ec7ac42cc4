"""A small learnable graph regression problem, shared by the training tests."""

import numpy as np
import torch

from gpgcn.data.graph import knn_graph
from gpgcn.gcn.networks import normalised_adjacency
from gpgcn.gcn.problem import Problem


def toy_problem(n=200, p=30, n_chrom=3, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).astype(np.float32)
    beta = np.zeros(p)
    beta[:10] = rng.normal(size=10)  # a few strong effects: learnable from ~150 accessions
    signal = x @ beta
    y = (signal + noise * rng.normal(size=n)).astype(np.float32)
    y = (y - y.mean()) / y.std()
    edge_index, weight = knn_graph(x @ x.T / p, 5)
    edge_index, weight = normalised_adjacency(torch.from_numpy(edge_index), torch.from_numpy(weight).float(), n, 5.0)
    order = rng.permutation(n)
    test = order[: n // 5]
    train = np.sort(order[n // 5 :])
    fold = np.zeros(n, dtype=int)
    fold[train] = 1 + np.arange(len(train)) % 4
    sizes = [len(c) for c in np.array_split(np.arange(p), n_chrom)]
    return Problem(
        ids=[str(i) for i in range(n)],
        x=torch.from_numpy(x),
        chrom_sizes=sizes,
        edge_index=edge_index,
        edge_weight=weight,
        y=torch.from_numpy(y),
        y_mean=0.0,
        y_sd=1.0,
        train_idx=torch.from_numpy(train),
        test_idx=torch.from_numpy(np.sort(test)),
        fold=fold,
        observed=y.astype(float),
    )
