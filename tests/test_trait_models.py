"""The per-trait models: the GCN's settings chosen inside the training accessions, the hybrid's
weight, and the predictions of every accession."""

import json

import numpy as np
import pandas as pd
import pytest

from gpgcn.gblup import gblup_stage
from gpgcn.graph import knn_graph, write_graph
from gpgcn.kinship import write_kinship
from gpgcn.metrics import paired_bootstrap_difference
from gpgcn.trait_models import BLEND_WEIGHTS, blend_weight, candidates, trait_models_stage

TRAIN = {"hidden": 16, "dropout": 0.1, "lr": 0.01, "max_epochs": 40, "patience": 15, "ensemble": True}
GRAPH = {"k": 5, "self_loop_weight": 5.0}
OUTPUTS = (
    "gcn_metrics",
    "gcn_predictions",
    "gcn_epochs",
    "candidates",
    "hybrid_metrics",
    "hybrid_predictions",
    "cv_predictions",
    "table",
)


def test_blend_weight_follows_the_evidence():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, noise = y + 0.5 * rng.normal(size=400), rng.normal(size=400)
    assert blend_weight(noise, good, y)[0] == 0.0  # a GCN carrying nothing gets no weight
    assert blend_weight(good, noise, y)[0] >= 0.8
    # Two predictors with independent errors of equal size: the best blend is about half and half.
    other = y + 0.5 * rng.normal(size=400)
    assert blend_weight(good, other, y)[0] == pytest.approx(0.5, abs=0.2)
    assert list(BLEND_WEIGHTS) == pytest.approx(np.linspace(0, 1, 11))


def test_a_gcn_better_only_by_noise_gets_no_weight():
    """Two predictors as good as each other whose errors correlate 0.9, as the GCN's and GBLUP's
    predictions do: the best blend's r is above GBLUP's by 0.0045, within one standard error, so
    GBLUP stands alone."""
    rng = np.random.default_rng(2)
    y, error = rng.normal(size=300), rng.normal(size=300)
    gblup = y + 1.2 * error
    gcn = y + 1.2 * (0.9 * error + np.sqrt(1 - 0.81) * rng.normal(size=300))
    best = BLEND_WEIGHTS[np.argmax([np.corrcoef(w * gcn + (1 - w) * gblup, y)[0, 1] for w in BLEND_WEIGHTS])]
    assert best == pytest.approx(0.3)  # the best r alone would give the GCN weight
    assert blend_weight(gcn, gblup, y)[0] == 0.0


def test_blend_weight_ignores_accessions_without_predictions():
    rng = np.random.default_rng(4)
    y = rng.normal(size=60)
    gcn, gblup = y.copy(), rng.normal(size=60)
    y[0], gcn[1], gblup[2] = np.nan, np.nan, np.nan
    gcn[0] = 100.0  # no phenotype: ignored
    assert blend_weight(gcn, gblup, y) == (1.0, pytest.approx(1.0))


def test_candidates_change_only_what_they_name():
    found = candidates({"lr": 0.001, "hidden": 8}, GRAPH, [{}, {"lr": 0.01, "k": 3}])
    assert [c.name for c in found] == ["as configured", "lr=0.01, k=3"]
    assert (found[0].settings.lr, found[0].k, found[0].self_loop_weight) == (0.001, 5, 5.0)
    assert (found[1].settings.lr, found[1].settings.hidden, found[1].k) == (0.01, 8, 3)
    with pytest.raises(ValueError, match="unknown key hidden"):
        candidates({}, GRAPH, [{"hidden": 4}])


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    better, worse = y + 0.3 * rng.normal(size=300), y + 1.5 * rng.normal(size=300)
    assert paired_bootstrap_difference(y, better, better) == (0.0, 0.0)
    low, high = paired_bootstrap_difference(y, better, worse)
    assert 0 < low < high


def write_cohort(directory, test_shift=0.0):
    """120 accessions (10 without a phenotype), a GRM from random genotypes, a trait with a few
    large effects, a fixed test set and two published CV repeats. `test_shift` changes only the
    test accessions' phenotypes."""
    rng = np.random.default_rng(3)
    n, p = 120, 400
    dosage = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    z = dosage - dosage.mean(axis=0)
    grm = z @ z.T / p
    y = z[:, :5] @ rng.normal(size=5) + 0.5 * rng.normal(size=n)
    ids = [f"a{i}" for i in range(n)]
    write_kinship(directory / "grm.tsv", grm, ids)
    write_graph(directory / "graph.tsv", *knn_graph(grm, GRAPH["k"]), ids)
    sets = np.array(["train"] * 90 + ["test"] * 20 + ["unlabelled"] * 10)
    y = np.where(sets == "test", y + test_shift, y)
    split = pd.DataFrame({"ID": ids, "y": np.where(sets == "unlabelled", np.nan, y), "set": sets})
    train = sets == "train"
    for column, seed in (("fold", 0), ("cv_1", 0), ("cv_2", 1)):
        split[column] = 0
        split.loc[train, column] = 1 + np.random.default_rng(seed).permutation(90) % 3
    split.to_csv(directory / "split.tsv", sep="\t", index=False)


def run_models(directory, changes=({}, {"k": 2}, {"self_loop_weight": 1.0})):
    outputs = {name: str(directory / f"{name}.out") for name in OUTPUTS}
    trait_models_stage(
        problem_files={
            "matrix_paths": [],
            "accessions_paths": [],
            "kinship_path": directory / "grm.tsv",
            "graph_path": directory / "graph.tsv",
            "split_path": directory / "split.tsv",
        },
        grm_path=directory / "grm.tsv",
        trait="T",
        train=TRAIN,
        graph=GRAPH,
        changes=list(changes),
        outputs=outputs,
    )
    read = {name: json.loads((directory / f"{name}.out").read_text()) for name in ("gcn_metrics", "hybrid_metrics")}
    return read["gcn_metrics"], read["hybrid_metrics"], outputs


def test_the_chosen_gcn_is_the_best_scored_candidate_and_the_table_covers_every_accession(tmp_path):
    write_cohort(tmp_path)
    gcn, hybrid, outputs = run_models(tmp_path)
    scores = pd.read_csv(outputs["candidates"], sep="\t")
    assert list(scores["candidate"]) == ["as configured", "k=2", "self_loop_weight=1.0"]
    assert gcn["selection"]["chosen"] == scores.loc[scores["cv_pearson_r"].idxmax(), "candidate"]
    recorded = pd.DataFrame(gcn["selection"]["candidates"])
    assert list(recorded["candidate"]) == list(scores["candidate"])
    np.testing.assert_allclose(recorded["cv_pearson_r"], scores["cv_pearson_r"], rtol=1e-5)
    assert 0 <= hybrid["gcn_weight"] <= 1 and hybrid["gcn_weight"] in BLEND_WEIGHTS
    assert gcn["cv_repeats"] == hybrid["cv_repeats"] == 2
    assert gcn["selection"]["cv_settings_chosen_on_same_accessions"] is True
    assert len(hybrid["cv_gcn_weights"]["cv_1"]) == 3  # chosen inside each outer fold
    cv = pd.read_csv(outputs["cv_predictions"], sep="\t")
    assert len(cv) == 2 * 90 and set(cv["repeat"]) == {"cv_1", "cv_2"}
    for repeat, r in zip(("cv_1", "cv_2"), hybrid["cv_pearson_r"]):
        rows = cv[cv["repeat"] == repeat]
        assert np.corrcoef(rows["hybrid"], rows["observed"])[0, 1] == pytest.approx(r, abs=1e-4)
    table = pd.read_csv(outputs["table"], sep="\t", dtype={"ID": str})
    assert len(table) == 120 and table["predicted"].notna().all()
    assert (~table["phenotyped"]).sum() == 10 and set(table.loc[~table["phenotyped"], "set"]) == {"unlabelled"}
    hybrid_predictions = pd.read_csv(outputs["hybrid_predictions"], sep="\t")
    np.testing.assert_allclose(table["predicted"], hybrid_predictions["predicted"])


def test_gblup_inside_the_hybrid_is_the_gblup_baseline(tmp_path):
    """The hybrid's GBLUP part cross-validates as the GBLUP rule does (on the float32 standardised
    trait the GCN trains on, hence 1e-6)."""
    write_cohort(tmp_path)
    _, hybrid, _ = run_models(tmp_path, changes=[{}])
    gblup_stage(tmp_path / "grm.tsv", tmp_path / "split.tsv", tmp_path / "gblup.json", tmp_path / "gblup.tsv")
    gblup = json.loads((tmp_path / "gblup.json").read_text())
    assert np.mean(hybrid["cv_gblup_scores"]) == pytest.approx(gblup["cv_pearson_r_mean"], abs=1e-6)
    assert np.std(hybrid["cv_gblup_scores"]) == pytest.approx(gblup["cv_pearson_r_sd"], abs=1e-6)


def test_the_test_accessions_never_influence_a_choice(tmp_path):
    """Shifting every test phenotype changes the test accuracy but no score, choice or weight."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_cohort(first)
    write_cohort(second, test_shift=5.0)
    (gcn_a, hybrid_a, _), (gcn_b, hybrid_b, _) = run_models(first), run_models(second)
    for record in (gcn_a, gcn_b):
        for candidate in record["selection"]["candidates"]:
            del candidate["seconds"]
    assert gcn_a["selection"] == gcn_b["selection"]
    assert hybrid_a["gcn_weight"] == hybrid_b["gcn_weight"]
    assert hybrid_a["cv_gcn_weights"] == hybrid_b["cv_gcn_weights"]
    assert gcn_a["test_rmse"] != gcn_b["test_rmse"]
