"""The kinship k-nearest-neighbour graph over accessions: built, written, read (no torch: the
graph job needs none; the GCN's normalised adjacency is `model.propagation`)."""

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import InputError
from ..io import write_json, write_tsv
from .kinship import read_kinship, similarity_for_graph

# GCN's symmetric normalisation needs positive edge weights and degrees.
MIN_WEIGHT = 1e-3


def knn_graph(kinship, k):
    """Symmetric kNN graph: i and j are linked if either is among the other's k closest relatives.

    Edge weight is the genomic correlation K_ij / sqrt(K_ii K_jj), floored at MIN_WEIGHT: it keeps
    the kinship's ranking but does not depend on the matrix's scale (VanRaden, IBS, ...).
    Returns (edge_index [2, E] with both directions, edge_weight [E]).
    """
    kinship = np.asarray(kinship, dtype=float)
    n = kinship.shape[0]
    if not 0 < k < n:
        raise ValueError(f"graph.k must be between 1 and {n - 1} (the number of accessions minus one), got {k}")
    diag = np.sqrt(np.clip(np.diag(kinship), 1e-12, None))
    similarity = kinship / np.outer(diag, diag)
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[np.repeat(np.arange(n), k), nearest.ravel()] = True
    adjacency |= adjacency.T
    source, target = np.nonzero(adjacency)
    weight = np.maximum(similarity[source, target], MIN_WEIGHT)
    return np.vstack([source, target]), weight


def relationship_graph(kinship, rows, cols, k):
    """The kNN graph of a relationship matrix as read_kinship returns it: (edge_index,
    edge_weight). The one producer of every graph the models train on (the graph rule's, and
    each candidate k's)."""
    return knn_graph(similarity_for_graph(kinship, rows, cols), k)


def graph_summary(edge_index, n_nodes):
    degree = np.bincount(edge_index[0], minlength=n_nodes)
    adjacency = coo_matrix((np.ones(edge_index.shape[1]), (edge_index[0], edge_index[1])), shape=(n_nodes, n_nodes))
    n_components, labels = connected_components(adjacency, directed=False)
    sizes = np.sort(np.bincount(labels))[::-1]
    return {
        "n_nodes": int(n_nodes),
        "n_edges": int(edge_index.shape[1] // 2),
        "degree_min": int(degree.min()),
        "degree_median": float(np.median(degree)),
        "degree_max": int(degree.max()),
        "degree_histogram": {int(d): int(c) for d, c in zip(*np.unique(degree, return_counts=True))},
        "n_components": int(n_components),
        "component_sizes": [int(s) for s in sizes],
    }


def write_graph(path, edge_index, edge_weight, ids):
    """Each undirected edge once (source < target), by accession ID."""
    once = edge_index[0] < edge_index[1]
    ids = np.asarray(ids)
    frame = pd.DataFrame(
        {"source": ids[edge_index[0][once]], "target": ids[edge_index[1][once]], "weight": edge_weight[once]}
    )
    write_tsv(path, frame, float_format="%.6g")


def read_graph(path, ids):
    """Edges back as a symmetric (edge_index, edge_weight) over the given accession order."""
    frame = pd.read_csv(path, sep="\t", dtype={"source": str, "target": str})
    position = {a: i for i, a in enumerate(ids)}
    unknown = sorted(set(frame["source"]).union(frame["target"]) - set(position))
    if unknown:
        raise InputError(path, f"edges name accessions not in the genotype matrix: {', '.join(unknown[:10])}")
    source = frame["source"].map(position).to_numpy()
    target = frame["target"].map(position).to_numpy()
    edge_index = np.vstack([np.concatenate([source, target]), np.concatenate([target, source])])
    weight = np.concatenate([frame["weight"].to_numpy()] * 2)
    return edge_index, weight


def graph_stage(kinship_path, graph_path, summary_path, k):
    kinship, ids, cols = read_kinship(kinship_path)
    edge_index, edge_weight = relationship_graph(kinship, ids, cols, k)
    summary = {"k": k, **graph_summary(edge_index, len(ids))}
    write_graph(graph_path, edge_index, edge_weight, ids)
    write_json(summary_path, summary)
