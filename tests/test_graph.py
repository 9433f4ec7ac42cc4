import numpy as np
import pytest

from gpgcn.data.graph import MIN_WEIGHT, graph_summary, knn_graph, read_graph, write_graph

from helpers import torch_modules_loaded_by


def random_kinship(n, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 200))
    return z @ z.T / 200


@pytest.mark.parametrize("k", [1, 3, 10])
def test_knn_graph_is_symmetric_and_respects_k(k):
    kinship = random_kinship(40)
    edge_index, weight = knn_graph(kinship, k)
    pairs = set(zip(*edge_index.tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    assert all(i != j for i, j in pairs)
    degree = np.bincount(edge_index[0], minlength=40)
    assert degree.min() >= k
    # Every node's k most related accessions are among its neighbours.
    similarity = kinship / np.sqrt(np.outer(np.diag(kinship), np.diag(kinship)))
    np.fill_diagonal(similarity, -np.inf)
    for i in range(40):
        top = set(np.argsort(-similarity[i])[:k])
        assert top <= {j for a, j in pairs if a == i}
    assert (weight >= MIN_WEIGHT).all()


def test_summary_counts_components():
    kinship = np.eye(6) + np.kron(np.eye(2), np.full((3, 3), 0.5))  # two families of three
    edge_index, _ = knn_graph(kinship, 2)
    summary = graph_summary(edge_index, 6)
    assert summary["n_components"] == 2
    assert summary["component_sizes"] == [3, 3]
    assert summary["n_edges"] == 6


def test_graph_file_round_trip(tmp_path):
    kinship = random_kinship(12)
    edge_index, weight = knn_graph(kinship, 3)
    ids = [f"acc{i}" for i in range(12)]
    write_graph(tmp_path / "g.tsv", edge_index, weight, ids)
    back_index, back_weight = read_graph(tmp_path / "g.tsv", ids)
    original = {(i, j): w for i, j, w in zip(*edge_index, weight)}
    restored = {(i, j): w for i, j, w in zip(*back_index, back_weight)}
    assert original.keys() == restored.keys()
    for key in original:
        assert restored[key] == pytest.approx(original[key], rel=1e-5)


def test_k_too_large():
    with pytest.raises(ValueError, match="graph.k"):
        knn_graph(random_kinship(5), 5)


def test_the_data_stage_modules_load_without_torch():
    # The data jobs (genotypes, kinship, graph) each start a process; importing torch would add
    # seconds to every one of them, and to the serial tail the graph job sits on.
    modules = [
        "gpgcn.data.graph",
        "gpgcn.data.kinship",
        "gpgcn.data.regions",
        "gpgcn.data.vcf",
        "gpgcn.data.plink",
        "gpgcn.stage",
    ]
    assert torch_modules_loaded_by(modules) == "[]"
