"""The per-trait models: the GCN's settings chosen inside the training accessions, the hybrid's
weight, and the predictions of every accession."""

import json

import numpy as np
import pandas as pd
import pytest

from gpgcn.defaults import default_config
from gpgcn.kinship import write_kinship
from gpgcn.metrics import BLEND_WEIGHTS, blend_weight, paired_bootstrap_difference
from gpgcn.models.gblup import gblup_stage
from gpgcn.trait_models import candidates, trait_models_stage

CONFIGURED = default_config()["train"]
TRAIN = {**CONFIGURED, "hidden": 16, "dropout": 0.1, "lr": 0.01, "max_epochs": 40, "patience": 15, "ensemble": True}
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


def weights_within(gcn, gblup, y, n_standard_errors, n_resamples=200, seed=0):
    """The smallest blend weight within `n_standard_errors` paired-bootstrap standard errors of
    the best blend's r, written out afresh as the rule's oracle."""
    blends = [w * gcn + (1 - w) * gblup for w in BLEND_WEIGHTS]
    scores = np.array([np.corrcoef(blend, y)[0, 1] for blend in blends])
    best = scores.argmax()
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_resamples):
        pick = rng.integers(0, len(y), len(y))
        resampled = np.array([np.corrcoef(blend[pick], y[pick])[0, 1] for blend in blends])
        differences.append(resampled - resampled[best])
    standard_error = np.std(differences, axis=0)
    return BLEND_WEIGHTS[np.flatnonzero(scores >= scores[best] - n_standard_errors * standard_error)[0]]


@pytest.mark.parametrize("seed", [0, 7, 12])
def test_blend_weight_is_the_smallest_within_one_standard_error(seed):
    """A GCN a little better than GBLUP, errors correlated 0.7: the best blend, one standard error
    and two standard errors below it give three different weights; the rule takes one."""
    rng = np.random.default_rng(seed)
    y, error = rng.normal(size=300), rng.normal(size=300)
    gblup = y + 1.2 * error
    gcn = 1.1 * y + 1.2 * (0.7 * error + np.sqrt(1 - 0.49) * rng.normal(size=300))
    best, one, two = (weights_within(gcn, gblup, y, n) for n in (0, 1, 2))
    assert best > one > two  # the case tells the rules apart
    assert blend_weight(gcn, gblup, y)[0] == one


def test_blend_weight_ignores_accessions_without_predictions():
    rng = np.random.default_rng(4)
    y = rng.normal(size=60)
    gcn, gblup = y.copy(), rng.normal(size=60)
    y[0], gcn[1], gblup[2] = np.nan, np.nan, np.nan
    gcn[0] = 100.0  # no phenotype: ignored
    assert blend_weight(gcn, gblup, y) == (1.0, pytest.approx(1.0))


def test_candidates_change_only_what_they_name():
    found = candidates({**CONFIGURED, "lr": 0.001, "hidden": 8}, GRAPH, [{}, {"lr": 0.01, "k": 3}])
    assert [c.name for c in found] == ["as configured", "lr=0.01, k=3"]
    assert (found[0].settings.lr, found[0].k, found[0].self_loop_weight) == (0.001, 5, 5.0)
    assert (found[1].settings.lr, found[1].settings.hidden, found[1].k) == (0.01, 8, 3)
    with pytest.raises(ValueError, match="unknown key hidden"):
        candidates(CONFIGURED, GRAPH, [{"hidden": 4}])


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    better, worse = y + 0.3 * rng.normal(size=300), y + 1.5 * rng.normal(size=300)
    assert paired_bootstrap_difference(y, better, better) == (0.0, 0.0)
    low, high = paired_bootstrap_difference(y, better, worse)
    assert 0 < low < high


def write_cohort(directory, test_phenotypes=None):
    """120 accessions (10 without a phenotype), a GRM from random genotypes, a trait with a few
    large effects, a fixed test set (accessions 90-109) and two published CV repeats.
    `test_phenotypes` replaces only the test accessions' phenotypes."""
    rng = np.random.default_rng(3)
    n, p = 120, 400
    dosage = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    z = dosage - dosage.mean(axis=0)
    grm = z @ z.T / p
    y = z[:, :5] @ rng.normal(size=5) + 0.5 * rng.normal(size=n)
    ids = [f"a{i}" for i in range(n)]
    write_kinship(directory / "grm.tsv", grm, ids)
    sets = np.array(["train"] * 90 + ["test"] * 20 + ["unlabelled"] * 10)
    if test_phenotypes is not None:
        y[sets == "test"] = test_phenotypes
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


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The models of the unchanged cohort, and GBLUP's test predictions beside them."""
    directory = tmp_path_factory.mktemp("reference")
    write_cohort(directory)
    gcn, hybrid, outputs = run_models(directory)
    gblup_stage(directory / "grm.tsv", directory / "split.tsv", directory / "gblup.json", directory / "gblup.tsv")
    test = slice(90, 110)
    predicted = {
        "gcn": pd.read_csv(outputs["gcn_predictions"], sep="\t")["predicted"].to_numpy()[test],
        "gblup": pd.read_csv(directory / "gblup.tsv", sep="\t")["predicted"].to_numpy()[test],
    }
    return gcn, hybrid, predicted


def run_with_test_phenotypes(directory, phenotypes):
    directory.mkdir()
    write_cohort(directory, test_phenotypes=phenotypes)
    return run_models(directory)[:2]


def assert_same_choices(reference, other):
    """Every score, choice and weight the two runs made inside the training accessions."""
    (gcn_a, hybrid_a), (gcn_b, hybrid_b) = reference, other
    for key in ("chosen", "graph_k", "self_loop_weight"):
        assert gcn_a["selection"][key] == gcn_b["selection"][key]
    scores = [[c["cv_pearson_r"] for c in gcn["selection"]["candidates"]] for gcn in (gcn_a, gcn_b)]
    assert scores[0] == scores[1]
    assert hybrid_a["gcn_weight"] == hybrid_b["gcn_weight"]
    assert hybrid_a["gcn_weight_out_of_fold_r"] == hybrid_b["gcn_weight_out_of_fold_r"]
    assert hybrid_a["cv_gcn_weights"] == hybrid_b["cv_gcn_weights"]
    for model_a, model_b in ((gcn_a, gcn_b), (hybrid_a, hybrid_b)):
        assert model_a["cv_pearson_r"] == model_b["cv_pearson_r"]


def test_noise_for_test_phenotypes_moves_no_score_choice_or_weight(reference_run, tmp_path):
    gcn, hybrid, _ = reference_run
    noise = np.random.default_rng(7).normal(40.0, 9.0, 20)
    other = run_with_test_phenotypes(tmp_path / "noise", noise)
    assert_same_choices((gcn, hybrid), other)
    assert other[0]["test_pearson_r"] != gcn["test_pearson_r"]


def test_a_candidate_the_test_accessions_would_reject_is_still_chosen(reference_run, tmp_path):
    """Test phenotypes opposite to the chosen GCN's predictions: on the test accessions it is the
    worst candidate there is (r = -1), yet it is chosen again."""
    gcn, hybrid, predicted = reference_run
    other = run_with_test_phenotypes(tmp_path / "against", -predicted["gcn"])
    assert other[0]["test_pearson_r"] == pytest.approx(-1.0)
    assert_same_choices((gcn, hybrid), other)


def test_a_hybrid_weight_the_test_accessions_would_move_stays(reference_run, tmp_path):
    """Test phenotypes that reward the GCN's weight moving towards the end of [0, 1] farther from
    the one chosen: the weight stays where the training folds put it."""
    gcn, hybrid, predicted = reference_run
    toward = 1.0 if hybrid["gcn_weight"] <= 0.5 else -1.0
    phenotypes = toward * (predicted["gcn"] - predicted["gblup"])
    blends = [w * predicted["gcn"] + (1 - w) * predicted["gblup"] for w in BLEND_WEIGHTS]
    on_test = BLEND_WEIGHTS[np.argmax([np.corrcoef(b, phenotypes)[0, 1] for b in blends])]
    assert on_test != hybrid["gcn_weight"]  # the case tells the two choices apart
    assert_same_choices((gcn, hybrid), run_with_test_phenotypes(tmp_path / "toward", phenotypes))
