"""Everything a training run needs, loaded once: features, graph, targets and node sets."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .genotypes import load_accessions, standardised
from .graph import read_graph
from .model import normalised_adjacency


@dataclass
class Problem:
    ids: list  # accession IDs, node order
    x: torch.Tensor  # [nodes, SNPs] standardised dosages, float32
    chrom_sizes: list  # SNP columns per chromosome, in order
    edge_index: torch.Tensor  # normalised adjacency Â (self-loops included)
    edge_weight: torch.Tensor
    y: torch.Tensor  # standardised trait (NaN where unlabelled)
    y_mean: float
    y_sd: float
    fit_idx: torch.Tensor  # training nodes the loss is taken on
    val_idx: torch.Tensor  # inner validation fold (early stopping)
    test_idx: torch.Tensor
    observed: np.ndarray  # trait on its own scale

    @property
    def n_snps(self):
        return self.x.shape[1]

    def to(self, device):
        for name in ("x", "edge_index", "edge_weight", "y", "fit_idx", "val_idx", "test_idx"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def load_problem(matrix_paths, accessions_paths, graph_path, split_path, val_fold):
    ids = load_accessions(accessions_paths)
    blocks = [standardised(np.load(path)) for path in matrix_paths]
    x = torch.from_numpy(np.concatenate(blocks, axis=1))
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    if list(split["ID"]) != ids:
        raise InputError(split_path, "accession order differs from the genotype matrices'")
    edge_index, edge_weight = read_graph(graph_path, ids)
    edge_index, edge_weight = normalised_adjacency(
        torch.from_numpy(edge_index).long(), torch.from_numpy(edge_weight).float(), len(ids)
    )
    train = split["set"].eq("train").to_numpy()
    fold = split["fold"].to_numpy()
    observed = split["y"].to_numpy(dtype=float)
    y_mean, y_sd = observed[train].mean(), observed[train].std()

    def index(mask):
        return torch.from_numpy(np.flatnonzero(mask)).long()

    return Problem(
        ids=ids,
        x=x,
        chrom_sizes=[b.shape[1] for b in blocks],
        edge_index=edge_index,
        edge_weight=edge_weight,
        y=torch.from_numpy((observed - y_mean) / y_sd).float(),
        y_mean=float(y_mean),
        y_sd=float(y_sd),
        fit_idx=index(train & (fold != val_fold)),
        val_idx=index(train & (fold == val_fold)),
        test_idx=index(split["set"].eq("test").to_numpy()),
        observed=observed,
    )
