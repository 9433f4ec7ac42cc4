"""Everything a training run needs, loaded once: features, graph, targets and node sets."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .genotypes import load_accessions, load_features
from .graph import read_graph
from .model import normalised_adjacency


@dataclass
class Problem:
    ids: list  # accession IDs, node order
    x: torch.Tensor  # [nodes, SNPs] node features, float32 (a column shard for snpshard)
    chrom_sizes: list  # SNPs per chromosome, in order (all of them, also for a shard)
    edge_index: torch.Tensor  # normalised adjacency Â (self-loops included)
    edge_weight: torch.Tensor
    y: torch.Tensor  # standardised trait (NaN where unlabelled)
    y_mean: float
    y_sd: float
    train_idx: torch.Tensor
    test_idx: torch.Tensor
    fold: np.ndarray  # CV fold of each node (0: not a training node)
    observed: np.ndarray  # trait on its own scale

    @property
    def n_snps(self):
        return sum(self.chrom_sizes)

    @property
    def folds(self):
        return sorted(set(self.fold[self.fold > 0].tolist()))

    def validation_split(self, val_fold):
        """(nodes the loss is taken on, nodes early stopping watches) for one inner fold."""
        device = self.train_idx.device
        fit = torch.from_numpy(np.flatnonzero((self.fold > 0) & (self.fold != val_fold))).to(device)
        val = torch.from_numpy(np.flatnonzero(self.fold == val_fold)).to(device)
        return fit, val

    def to(self, device):
        for name in ("x", "edge_index", "edge_weight", "y", "train_idx", "test_idx"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def load_problem(
    matrix_paths, accessions_paths, graph_path, split_path, *, features="centred", self_loop_weight=1.0, columns=None
):
    ids = load_accessions(accessions_paths)
    x, chrom_sizes = load_features(matrix_paths, features, columns)
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    if list(split["ID"]) != ids:
        raise InputError(split_path, "accession order differs from the genotype matrices'")
    edge_index, edge_weight = read_graph(graph_path, ids)
    edge_index, edge_weight = normalised_adjacency(
        torch.from_numpy(edge_index).long(), torch.from_numpy(edge_weight).float(), len(ids), self_loop_weight
    )
    train = split["set"].eq("train").to_numpy()
    observed = split["y"].to_numpy(dtype=float)
    y_mean, y_sd = observed[train].mean(), observed[train].std()
    return Problem(
        ids=ids,
        x=torch.from_numpy(x),
        chrom_sizes=chrom_sizes,
        edge_index=edge_index,
        edge_weight=edge_weight,
        y=torch.from_numpy((observed - y_mean) / y_sd).float(),
        y_mean=float(y_mean),
        y_sd=float(y_sd),
        train_idx=torch.from_numpy(np.flatnonzero(train)),
        test_idx=torch.from_numpy(np.flatnonzero(split["set"].eq("test").to_numpy())),
        fold=np.where(train, split["fold"].to_numpy(), 0),
        observed=observed,
    )
