"""Everything a training run needs, loaded once: features, graph, targets and node sets."""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..data.genotypes import load_accessions, load_features, scale_features
from ..data.graph import read_graph
from ..data.kinship import read_kinship
from ..data.phenotypes import cv_repeat_columns
from ..errors import InputError
from .networks import propagation


@dataclass
class Problem:
    ids: list  # accession IDs, node order
    x: torch.Tensor  # [nodes, SNPs] node features, float32 (a column shard for snpshard)
    chrom_sizes: list  # SNPs per chromosome, in order (all of them, also for a shard)
    edge_index: torch.Tensor | None  # normalised adjacency Â (self-loops included); None: no graph yet
    edge_weight: torch.Tensor | None
    y: torch.Tensor  # standardised trait (NaN where unlabelled)
    y_mean: float
    y_sd: float
    train_idx: torch.Tensor
    test_idx: torch.Tensor
    fold: np.ndarray  # CV fold of each node (0: not a training node)
    observed: np.ndarray  # trait on its own scale
    cv_repeats: dict = field(default_factory=dict)  # published CV repeats: name -> fold of each node
    # [features, components]: x holds the features times it (`first_layer.factored`); None: x holds them
    feature_basis: torch.Tensor | None = None

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

    def holding_out(self, folds, held_fold):
        """The same graph with one outer CV fold treated as the test set, the other folds of
        `folds` left for training (and their inner early-stopping folds), the target
        standardised on those training accessions alone."""
        held = folds == held_fold
        device = self.train_idx.device
        train_idx = torch.from_numpy(np.flatnonzero((folds > 0) & ~held)).to(device)
        return dataclasses.replace(
            self,
            train_idx=train_idx,
            test_idx=torch.from_numpy(np.flatnonzero(held)).to(device),
            fold=np.where(held, 0, folds),
        ).standardised_on(train_idx)

    def with_sets_of(self, other):
        """These features and graph with `other`'s training, test and fold assignments and its
        scale: a problem of other features held out as `other` is."""
        return dataclasses.replace(
            self, train_idx=other.train_idx, test_idx=other.test_idx, fold=other.fold
        ).standardised_on(other.train_idx)

    def standardised_on(self, nodes):
        """The same problem with the target standardised by the mean and sd of `nodes` alone: a
        fit must not see the scale of the accessions it is judged on."""
        on = self.observed[nodes.cpu().numpy()]
        y_mean, y_sd = float(on.mean()), float(on.std())
        y = torch.from_numpy((self.observed - y_mean) / y_sd).float().to(self.y.device)
        return dataclasses.replace(self, y=y, y_mean=y_mean, y_sd=y_sd)

    def without(self, fixed):
        """The same problem with the target less `fixed` (predictions on this problem's
        standardised scale): what a model fitted around fixed effects learns. Standardise it
        (`standardised_on`) before training."""
        return dataclasses.replace(self, observed=self.observed - np.asarray(fixed) * self.y_sd)

    def rescaled(self, predicted, source):
        """Predictions made on `source`'s standardised scale, on this problem's."""
        return (np.asarray(predicted) * source.y_sd + source.y_mean - self.y_mean) / self.y_sd

    def with_graph(self, edge_index, edge_weight, self_loop_weight):
        """The same accessions and features over a graph (numpy edges, both directions)."""
        edge_index, edge_weight = propagation(edge_index, edge_weight, len(self.ids), self_loop_weight)
        device = self.train_idx.device
        return dataclasses.replace(self, edge_index=edge_index.to(device), edge_weight=edge_weight.to(device))

    def to(self, device):
        for name in ("x", "edge_index", "edge_weight", "y", "train_idx", "test_idx", "feature_basis"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name).to(device))
        return self


def kinship_features(relationships, scaling, shard=None):
    """Node features from a relationship matrix (read_kinship's matrix, row IDs, column IDs):
    each accession's row, centred per column and scaled like genotype features; one block (there
    are no chromosomes)."""
    matrix, rows, cols = relationships
    z = matrix - matrix.mean(axis=0)
    z = scale_features(z, scaling, np.sqrt(np.mean(z**2)))
    columns = shard(len(cols)) if shard else None
    if columns is not None:
        z = z[:, columns.start : columns.stop]
    return rows, np.ascontiguousarray(z, dtype=np.float32), [len(cols)]


def per_chromosome_sizes(region_sizes, chromosomes):
    """SNPs per chromosome from SNPs per region, regions listed in genome order."""
    if len(chromosomes) != len(region_sizes):
        raise ValueError(f"{len(region_sizes)} matrices but {len(chromosomes)} chromosome names")
    sizes = {}
    for chrom, size in zip(chromosomes, region_sizes):
        sizes[chrom] = sizes.get(chrom, 0) + size
    return list(sizes.values())


def load_problem(
    matrix_paths,
    accessions_paths,
    graph_path,
    split_path,
    *,
    features="centred",
    self_loop_weight=1.0,
    shard=None,
    kinship_path=None,
    matrix_chromosomes=None,
    relationships=None,
    split=None,
):
    """Features are dosages (`matrix_paths`, one per region; `matrix_chromosomes` names each
    one's chromosome), or with `kinship_path` the matrix's rows; `shard(n_features)` may pick the
    columns this process holds. Without `graph_path` the problem has no graph yet: give it one
    with `with_graph`. `relationships` (read_kinship's) and `split` (a table): those files as
    read already, by a job that reads each input once."""
    if kinship_path or relationships:
        ids, x, chrom_sizes = kinship_features(relationships or read_kinship(kinship_path), features, shard)
    else:
        ids = load_accessions(accessions_paths)
        x, region_sizes = load_features(matrix_paths, features, shard)
        chrom_sizes = per_chromosome_sizes(region_sizes, matrix_chromosomes or range(len(region_sizes)))
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str}) if split is None else split
    if list(split["ID"]) != ids:
        raise InputError(split_path, "accession order differs from the genotype matrices'")
    edge_index = edge_weight = None
    if graph_path:
        edge_index, edge_weight = propagation(*read_graph(graph_path, ids), len(ids), self_loop_weight)
    train = split["set"].eq("train").to_numpy()
    observed = split["y"].to_numpy(dtype=float)
    return Problem(
        ids=ids,
        x=torch.from_numpy(x),
        chrom_sizes=chrom_sizes,
        edge_index=edge_index,
        edge_weight=edge_weight,
        y=torch.tensor(observed, dtype=torch.float32),
        y_mean=0.0,
        y_sd=1.0,
        train_idx=torch.from_numpy(np.flatnonzero(train)),
        test_idx=torch.from_numpy(np.flatnonzero(split["set"].eq("test").to_numpy())),
        fold=np.where(train, split["fold"].to_numpy(), 0),
        observed=observed,
        cv_repeats={c: split[c].to_numpy() for c in cv_repeat_columns(split)},
    ).standardised_on(torch.from_numpy(np.flatnonzero(train)))
