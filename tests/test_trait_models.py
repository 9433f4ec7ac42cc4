"""The per-trait models: the GCN's settings, the loci and the stack's weights chosen inside the
training accessions, and the predictions of every accession."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gpgcn.data.covariates import FixedEffects
from gpgcn.data.kinship import read_kinship, write_kinship
from gpgcn.errors import InputError
from gpgcn.models import MODELS, Fold, model_settings, trait_model_outputs
from gpgcn.models import gcn as gcn_module
from gpgcn.models import loci as loci_module
from gpgcn.models import rkhs as rkhs_module
from gpgcn.models import stack as stack_module
from gpgcn.models.gcn import finite_pairs
from gpgcn.models.gcn_candidates import candidates
from gpgcn.models.job import trait_models_stage
from gpgcn.models.loci import Markers, association, discovery_threshold, fit_with_markers, top_markers
from gpgcn.models.split_kinship import SplitKinship
from gpgcn.models.stack import stack_weights
from gpgcn.statistics import (
    cross_validated_average,
    cross_validated_choice,
    one_standard_error_choice,
    paired_bootstrap_difference,
    pearson_r,
    resampled_r,
    within_noise_of_best,
)

from helpers import default_config

CONFIGURED = default_config()["train"]
TRAIN = {**CONFIGURED, "hidden": 16, "dropout": 0.1, "lr": 0.01, "max_epochs": 40, "patience": 15, "ensemble": True}
GRAPH = {"k": 5, "self_loop_weight": 5.0}
OUTPUTS = (*trait_model_outputs("."), "cv_predictions", "table")
LOCI_COUNTS = [0, 1, 2, 5]


def test_the_rule_takes_a_better_candidate_only_beyond_noise():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, noise = y + 0.5 * rng.normal(size=400), rng.normal(size=400)
    assert one_standard_error_choice([noise, good], y)[0] == 1
    assert one_standard_error_choice([good, noise], y)[0] == 0
    # Two candidates as good as each other whose errors correlate 0.9: the simpler (first) one.
    error = rng.normal(size=400)
    first = y + 1.2 * error
    second = y + 1.2 * (0.9 * error + np.sqrt(1 - 0.81) * rng.normal(size=400))
    assert one_standard_error_choice([first, second], y)[0] == 0
    assert one_standard_error_choice([second, first], y)[0] == 0


def test_of_candidates_as_simple_the_best_within_noise_stands():
    """Two candidates as simple as each other, the second a little better (within one standard
    error): listed first is no reason to win."""
    rng = np.random.default_rng(3)
    y, error = rng.normal(size=400), rng.normal(size=400)
    worse = y + 1.2 * error
    better = y + 1.2 * (0.95 * error + np.sqrt(1 - 0.95**2) * rng.normal(size=400))
    index, scores = one_standard_error_choice([worse, better], y)
    assert scores[1] > scores[0] and index == 0  # within noise: the simpler, by default the first
    assert one_standard_error_choice([worse, better], y, complexity=[1, 1])[0] == 1
    assert one_standard_error_choice([better, worse], y, complexity=[2, 1])[0] == 1  # simpler, listed last


def within(candidates, y, n_standard_errors, n_resamples=200, seed=0):
    """The first candidate within `n_standard_errors` paired-bootstrap standard errors of the
    best's r, written out afresh as the rule's oracle."""
    scores = np.array([np.corrcoef(c, y)[0, 1] for c in candidates])
    best = scores.argmax()
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_resamples):
        pick = rng.integers(0, len(y), len(y))
        resampled = np.array([np.corrcoef(c[pick], y[pick])[0, 1] for c in candidates])
        differences.append(resampled - resampled[best])
    return int(np.flatnonzero(scores >= scores[best] - n_standard_errors * np.std(differences, axis=0))[0])


@pytest.mark.parametrize("seed", [0, 7, 12])
def test_the_choice_is_the_first_within_one_standard_error(seed):
    """Blends from GBLUP-like to GCN-like predictions, the GCN a little better, errors correlated
    0.7: the best, one and two standard errors below it are three different candidates."""
    rng = np.random.default_rng(seed)
    y, error = rng.normal(size=300), rng.normal(size=300)
    gblup = y + 1.2 * error
    gcn = 1.1 * y + 1.2 * (0.7 * error + np.sqrt(1 - 0.49) * rng.normal(size=300))
    blends = [w * gcn + (1 - w) * gblup for w in np.linspace(0, 1, 11)]
    best, one, two = (within(blends, y, n) for n in (0, 1, 2))
    assert best > one > two  # the case tells the rules apart
    assert one_standard_error_choice(blends, y)[0] == one


def test_each_fold_is_predicted_by_a_choice_made_without_it():
    """A candidate perfect on one fold, noise on the others, is the best on all folds pooled; the
    fold it flatters is still predicted by the candidate the other folds chose."""
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    folds = np.repeat([1, 2, 3], 100)
    steady = y + 1.0 * rng.normal(size=300)
    lucky = np.where(folds == 1, y, y + 1.05 * rng.normal(size=300))
    assert one_standard_error_choice([steady, lucky], y, [0, 0])[0] == 1
    combined = cross_validated_choice([steady, lucky], y, folds, [0, 0])
    np.testing.assert_array_equal(combined[folds == 1], steady[folds == 1])
    np.testing.assert_array_equal(combined[folds == 2], lucky[folds == 2])


def test_each_fold_is_averaged_over_candidates_chosen_without_it():
    """Two candidates within noise of each other and a worse one that is perfect on fold 1: on all
    folds pooled the lucky one is within noise of the best and would be averaged in; fold 1's
    evidence averages only the two the other folds keep, and a candidate without a prediction at
    an accession leaves it to the others."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    folds = np.repeat([1, 2, 3], 100)
    steady, close = y + 0.8 * rng.normal(size=300), y + 0.8 * rng.normal(size=300)
    lucky = np.where(folds == 1, y, y + 0.9 * rng.normal(size=300))
    assert set(within_noise_of_best([steady, close, lucky], y)[0]) == {0, 1, 2}
    close[50] = np.nan
    combined = cross_validated_average([steady, close, lucky], y, folds)
    np.testing.assert_allclose(np.delete(combined[:100], 50), np.delete(((steady + close) / 2)[:100], 50))
    assert combined[50] == steady[50]


def test_the_choice_ignores_accessions_without_predictions():
    rng = np.random.default_rng(4)
    y = rng.normal(size=60)
    worse, better = rng.normal(size=60), y.copy()
    y[0], better[1], worse[2] = np.nan, np.nan, np.nan
    better[0] = 100.0  # no phenotype: ignored
    index, scores = one_standard_error_choice([worse, better], y)
    assert index == 1 and scores[1] == pytest.approx(1.0)


def test_the_gcn_counts_as_one_model_in_the_stack():
    """A GCN 0.066 r better than GBLUP in the stack's evidence, GBLUP carrying nothing the GCN
    does not (as on a held-back cohort of 130 accessions): the stack is nearly all GCN. The rule
    before the one-standard-error rule (the GCN counted as more complex than any baseline, never
    alone) kept GBLUP alone here."""
    rng = np.random.default_rng(3)
    n = 130
    genetic = rng.normal(size=n)
    y = genetic + 0.9 * rng.normal(size=n)
    gcn = genetic + 0.6 * rng.normal(size=n)
    gblup = gcn + 0.55 * rng.normal(size=n)
    assert pearson_r(gcn, y) - pearson_r(gblup, y) == pytest.approx(0.066, abs=0.001)
    assert stack_weights({"gblup": gblup, "gcn": gcn}, y)["gcn"] > 0.9


def test_the_stack_weighs_what_the_evidence_carries():
    rng = np.random.default_rng(5)
    y = rng.normal(size=500)
    good, other = y + 0.6 * rng.normal(size=500), y + 0.6 * rng.normal(size=500)
    noise = rng.normal(size=500)
    # A noise GCN gets little weight; the good baseline nearly all.
    weights = stack_weights({"gblup": good, "gcn": noise}, y)
    assert weights["gcn"] < 0.05 and sum(weights.values()) == pytest.approx(1.0)
    # Two models with independent errors of equal size: both, about equally.
    weights = stack_weights({"gblup": good, "rkhs": other, "gcn": noise}, y)
    assert weights["gcn"] < 0.05 and weights["gblup"] == pytest.approx(0.5, abs=0.1)
    assert sum(weights.values()) == pytest.approx(1.0)
    # The better of two where the worse adds nothing: nearly all of it.
    assert stack_weights({"gblup": good + 2.0 * rng.normal(size=500), "rkhs": good}, y)["rkhs"] > 0.95
    assert stack_weights({"gblup": good + 2.0 * noise, "gcn": good}, y)["gcn"] > 0.95
    # A model that predicts the trait backwards never gets weight; one model alone is the stack.
    assert stack_weights({"gblup": noise - 0.3 * y, "gcn": good}, y) == {"gblup": 0.0, "gcn": 1.0}
    assert stack_weights({"gblup": noise}, y) == {"gblup": 1.0}


def test_the_stack_moves_with_the_evidence_not_all_or_nothing():
    """Two models whose out-of-fold r differ by noise (0.678 and 0.613, errors correlated 0.8):
    one choice (the one-standard-error rule before) gave GBLUP everything, and 0.77 once a tenth
    of the accessions were left out; the bagged weights share, and move little."""
    rng = np.random.default_rng(1)
    y, error = rng.normal(size=250), rng.normal(size=250)
    gblup = y + 1.2 * error
    gcn = y + 1.2 * (0.8 * error + 0.6 * rng.normal(size=250))
    weights = stack_weights({"gblup": gblup, "gcn": gcn}, y)
    assert 0.1 < weights["gcn"] < 0.9
    fewer = np.arange(250) >= 25
    moved = stack_weights({"gblup": gblup[fewer], "gcn": gcn[fewer]}, y[fewer])
    assert abs(moved["gcn"] - weights["gcn"]) < 0.1


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


def test_resampled_r_is_each_draws_pearson_r():
    """Every resample's r is pearson_r on that draw of accessions (the draws a loop of
    rng.integers would make), NaN where the draw leaves a side constant."""
    rng = np.random.default_rng(2)
    y = np.r_[rng.normal(size=7), np.zeros(1)]
    candidates = [y + rng.normal(size=8), rng.normal(size=8), np.full(8, 2.0)]
    found = resampled_r(candidates, y, 300, seed=4)
    draws = np.random.default_rng(4)
    expected = []
    for _ in range(300):
        pick = draws.integers(0, 8, 8)
        expected.append([pearson_r(c[pick], y[pick]) for c in candidates])
    np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-12)
    assert np.isnan(found[:, 2]).all() and np.isfinite(found[:, 0]).any()


LARGE_EFFECTS = [1.5, -1.2]  # markers m0 and m1


def write_cohort(directory, test_phenotypes=None):
    """120 accessions (10 without a phenotype), random genotypes and their GRM, a trait with two
    large effects (markers m0, m1) over a polygenic background, a fixed test set (accessions
    90-109) and two published CV repeats. `test_phenotypes` replaces only the test accessions'
    phenotypes."""
    rng = np.random.default_rng(3)
    n, p = 120, 400
    dosage = rng.binomial(2, 0.3, size=(n, p))
    z = dosage - dosage.mean(axis=0)
    grm = z @ z.T / p
    y = z[:, :2] @ LARGE_EFFECTS + z[:, 2:40] @ rng.normal(0, 0.15, 38) + 0.5 * rng.normal(size=n)
    ids = [f"a{i}" for i in range(n)]
    write_kinship(directory / "grm.tsv", grm, ids)
    np.save(directory / "dosage.npy", dosage.astype(np.int8))
    (directory / "accessions.txt").write_text("\n".join(ids) + "\n")
    sites = pd.DataFrame({"chrom": "1", "pos": 100 * np.arange(1, p + 1), "id": [f"m{j}" for j in range(p)]})
    sites.to_csv(directory / "snps.tsv", sep="\t", index=False)
    sets = np.array(["train"] * 90 + ["test"] * 20 + ["unlabelled"] * 10)
    if test_phenotypes is not None:
        y[sets == "test"] = test_phenotypes
    split = pd.DataFrame({"ID": ids, "y": np.where(sets == "unlabelled", np.nan, y), "set": sets})
    train = sets == "train"
    for column, seed in (("fold", 0), ("cv_1", 0), ("cv_2", 1)):
        split[column] = 0
        split.loc[train, column] = 1 + np.random.default_rng(seed).permutation(90) % 3
    split.to_csv(directory / "split.tsv", sep="\t", index=False)


def run_models(directory, changes=({}, {"k": 2}, {"self_loop_weight": 1.0}), snp_feature_limit=4, genotyped=True):
    outputs = {name: str(directory / f"{name}.out") for name in OUTPUTS}
    trait_models_stage(
        files=cohort_files(directory, genotyped),
        settings=model_settings(
            {
                "train": TRAIN,
                "graph": GRAPH,
                "select": {
                    "node_features": "kinship",
                    "candidates": list(changes),
                    "snp_feature_limit": snp_feature_limit,
                    "loci_counts": LOCI_COUNTS,
                },
            }
        ),
        outputs=outputs,
    )
    read = {name: json.loads((directory / f"{name}.out").read_text()) for name in ("gcn_metrics", "stack_metrics")}
    return read["gcn_metrics"], read["stack_metrics"], outputs


def cohort_files(directory, genotyped=True):
    """The per-trait job's input files of write_cohort's cohort (its GRM alone, `genotyped` False)."""
    files = {"trait": "T", "split_path": directory / "split.tsv", "grm_path": directory / "grm.tsv"}
    if not genotyped:
        return files
    return {
        **files,
        "matrix_paths": [directory / "dosage.npy"],
        "snps_paths": [directory / "snps.tsv"],
        "accessions_paths": [directory / "accessions.txt"],
        "matrix_chromosomes": ["1"],
    }


def stack_weights_of(record):
    return {key: value for key, value in record.items() if key.startswith("weight_")}


def test_the_stack_weighs_the_gcn_it_deploys_by_its_averaged_candidates(tmp_path, monkeypatch):
    """The stack's evidence for the GCN, on all training accessions and in every outer fold, is the
    mean of the averaged candidates' out-of-fold members (one per candidate at each accession), the
    candidates averaged at each inner fold chosen without it: its r is the selection record's.
    GBLUP + loci's come from the count chosen without each inner fold (cross_validated_choice)."""
    weighed, evidence, averaged = [], [], []
    real_average = gcn_module.average

    def recording(out_of_fold, y):
        weighed.append((out_of_fold["gcn"], y, out_of_fold["gblup_loci"]))
        return stack_weights(out_of_fold, y)

    def spying(*args):
        evidence.append(cross_validated_choice(*args))
        return evidence[-1]

    def averaging(fold, trained):
        averaged.append((fold, trained, real_average(fold, trained)))
        return averaged[-1][2]

    monkeypatch.setattr(stack_module, "stack_weights", recording)
    monkeypatch.setattr(loci_module, "cross_validated_choice", spying)
    monkeypatch.setattr(gcn_module, "average", averaging)
    write_cohort(tmp_path)
    gcn, _, _ = run_models(tmp_path)
    assert len(weighed) == len(averaged) == 2 * 3 + 1  # every outer fold, then all training accessions
    gcn_evidence, y, loci_out_of_fold = weighed[-1]
    assert pearson_r(*finite_pairs(gcn_evidence, y)) == pytest.approx(
        gcn["selection"]["stack_evidence_cv_pearson_r"], abs=1e-6
    )
    assert loci_out_of_fold is evidence[-1]
    for (fold, trained, _), (out_of_fold, _, _) in zip(averaged, weighed):
        members = [fold.problem.rescaled(r.validation_predictions, p) for _, (p, r), _ in trained]
        unflattered = cross_validated_average(members, fold.y, fold.folds)
        np.testing.assert_allclose(out_of_fold, unflattered, rtol=1e-6, atol=1e-9)
    several = [fit for _, _, fit in averaged if fit.extra["gcn_candidates_averaged"] > 1]
    assert several, "no fold averaged more than one candidate: the test shows nothing"


def test_snp_feature_candidates_are_tried_only_where_affordable(tmp_path):
    """400 SNPs over 90 training accessions: 4.4 per accession. A candidate asking for SNP
    features is tried under a limit of 5 (and then trains on the 400 dosages), listed as not
    tried under 4 and without genotypes."""
    write_cohort(tmp_path)
    on_snps = {"node_features": "genotypes"}
    gcn, _, outputs = run_models(tmp_path, changes=[on_snps], snp_feature_limit=5)
    assert gcn["n_snps"] == 400 and gcn["n_features"] == {"node_features=genotypes": 400}
    gcn, _, outputs = run_models(tmp_path, changes=[{}], snp_feature_limit=5)
    assert gcn["n_features"] == {"as configured": 120}  # the GRM's columns
    for name in MODELS:  # every model of a genotyped cohort names its SNPs
        assert json.loads(Path(outputs[f"{name}_metrics"]).read_text())["n_snps"] == 400, name
    for limit, genotyped in ((4, True), (5, False)):
        gcn, _, outputs = run_models(tmp_path, changes=[{}, on_snps], snp_feature_limit=limit, genotyped=genotyped)
        scores = pd.read_csv(outputs["gcn_candidates"], sep="\t", keep_default_na=False)
        assert scores.loc[0, "skipped"] == "" and np.isfinite(float(scores.loc[0, "cv_pearson_r"]))
        expected = (
            "400 SNPs are more than select.snp_feature_limit (4) x 90 training" if genotyped else "need genotypes"
        )
        assert expected in scores.loc[1, "skipped"] and scores.loc[1, "cv_pearson_r"] in ("", "nan", "NaN")
        assert gcn["selection"]["averaged"] == ["as configured"]
    with pytest.raises(InputError, match="no candidate can be tried here: SNP features need genotypes"):
        run_models(tmp_path, changes=[on_snps], genotyped=False)


def test_every_model_is_fitted_chosen_and_cross_validated(tmp_path):
    write_cohort(tmp_path)
    gcn, stack, outputs = run_models(tmp_path)
    scores = pd.read_csv(outputs["gcn_candidates"], sep="\t")
    assert list(scores["candidate"]) == ["as configured", "k=2", "self_loop_weight=1.0"]
    best = scores.loc[scores["cv_pearson_r"].idxmax(), "candidate"]
    assert best in gcn["selection"]["averaged"] and gcn["selection"]["averaged"] == list(
        scores.loc[scores["averaged"], "candidate"]
    )
    recorded = pd.DataFrame(gcn["selection"]["candidates"])
    assert list(recorded["candidate"]) == list(scores["candidate"])
    np.testing.assert_allclose(recorded["cv_pearson_r"], scores["cv_pearson_r"], rtol=1e-5)
    weights = stack_weights_of(stack)
    assert set(weights) == {"weight_gblup", "weight_rkhs", "weight_gblup_loci", "weight_gcn"}
    assert all(w >= 0 for w in weights.values()) and sum(weights.values()) == pytest.approx(1.0)
    # The stack predicts what its weights say: the weighted sum of its models' predictions (as
    # written, to 6 significant digits: hence 1e-4).
    predicted = {name: pd.read_csv(outputs[f"{name}_predictions"], sep="\t")["predicted"] for name in MODELS}
    combined = sum(weights[f"weight_{name}"] * predicted[name] for name in ("gblup", "rkhs", "gblup_loci", "gcn"))
    np.testing.assert_allclose(combined, predicted["stack"], rtol=1e-4, atol=1e-4)
    assert stack["recommended"] is True and gcn["recommended"] is False
    assert gcn["cv_repeats"] == stack["cv_repeats"] == 2
    # Chosen anew inside every outer fold: how many candidates each fold averaged.
    assert all(1 <= n <= 3 for n in gcn["by_outer_fold"]["gcn_candidates_averaged"]["cv_1"])
    # What the GCN cost counts every candidate's member-epochs: epochs.tsv holds the averaged ones'.
    epochs = pd.read_csv(outputs["gcn_epochs"], sep="\t")
    assert gcn["gcn_member_epochs"] >= len(epochs)
    assert (gcn["gcn_member_epochs"] == len(epochs)) == scores["averaged"].all()
    assert all(n > 0 for n in gcn["by_outer_fold"]["gcn_member_epochs"]["cv_1"])
    # Only the models whose predictions hold the GCN carry its settings' choice.
    assert stack["selection"] == gcn["selection"]
    for name in ("gblup", "rkhs", "gblup_loci"):
        assert "selection" not in json.loads(Path(outputs[f"{name}_metrics"]).read_text())
    assert len(stack["by_outer_fold"]["weight_gcn"]["cv_1"]) == 3  # chosen inside each outer fold
    cv = pd.read_csv(outputs["cv_predictions"], sep="\t")
    assert len(cv) == 2 * 90 and set(cv["repeat"]) == {"cv_1", "cv_2"}
    for name in ("stack", "gblup_loci", "rkhs", "gblup"):
        record = json.loads(Path(outputs[f"{name}_metrics"]).read_text())
        for repeat, r in zip(("cv_1", "cv_2"), record["cv_pearson_r"]):
            rows = cv[cv["repeat"] == repeat]
            assert np.corrcoef(rows[name], rows["observed"])[0, 1] == pytest.approx(r, abs=1e-4)
    table = pd.read_csv(outputs["table"], sep="\t", dtype={"ID": str})
    assert len(table) == 120 and table["predicted"].notna().all()
    assert (~table["phenotyped"]).sum() == 10 and set(table.loc[~table["phenotyped"], "set"]) == {"unlabelled"}
    stack_predictions = pd.read_csv(outputs["stack_predictions"], sep="\t")
    np.testing.assert_allclose(table["predicted"], stack_predictions["predicted"])


def test_the_large_effect_loci_are_found_and_beat_gblup(tmp_path):
    write_cohort(tmp_path)
    _, _, outputs = run_models(tmp_path, changes=[{}])
    loci = json.loads(Path(outputs["gblup_loci_metrics"]).read_text())
    assert loci["loci_m"] >= 2 and len(loci["loci"]) == loci["loci_m"]
    found = {locus["id"]: locus for locus in loci["loci"]}
    assert {"m0", "m1"} <= set(found)
    for j, effect in enumerate(LARGE_EFFECTS):
        assert found[f"m{j}"]["effect"] == pytest.approx(effect, abs=0.4)
        assert found[f"m{j}"]["chrom"] == "1" and found[f"m{j}"]["pos"] == 100 * (j + 1)
    gblup = json.loads(Path(outputs["gblup_metrics"]).read_text())["cv_pearson_r"]
    assert np.mean(loci["cv_pearson_r"]) > np.mean(gblup) + 0.05


def test_only_discoveries_are_loci():
    """A hundred accessions, a trait with no large effect: the top of the scan is chance, and no
    marker enters however many are asked for; one large effect does, first."""
    rng = np.random.default_rng(8)
    n, p = 100, 2000
    dosage = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    dosage -= dosage.mean(axis=0)
    grm = dosage @ dosage.T / p
    y = dosage[:, 5:200] @ rng.normal(0, 0.05, 195) + rng.normal(size=n)
    kinship = SplitKinship(grm, np.ones(n, bool), FixedEffects.intercept(n), np.diag(grm))
    everyone = np.ones(n, bool)
    t, dof = association(kinship, y, everyone, dosage)
    assert np.abs(t).max() > 3.0  # a scan's top is large by chance
    assert len(top_markers(kinship, y, everyone, dosage, 5)[0]) == 0
    y_hit = y + 1.0 * dosage[:, 0] / dosage[:, 0].std()
    chosen, t_chosen = top_markers(kinship, y_hit, everyone, dosage, 5)
    t_hit, _ = association(kinship, y_hit, everyone, dosage)
    assert chosen[0] == 0 and abs(t_chosen[0]) >= discovery_threshold(t_hit, dof)


def test_the_discovery_cut_is_benjamini_hochberg_on_two_sided_p():
    """One marker among a thousand of no effect: a discovery where its two-sided p is under the
    first Benjamini-Hochberg cut (0.05 / 1000), none at 1.5 times the cut (where its one-sided p,
    half of it, would pass)."""
    from scipy import stats

    dof, n = 100, 1000
    for factor, discovered in ((0.8, True), (1.5, False)):
        t_marker = stats.t.isf(factor * 0.05 / n / 2, dof)
        t = np.concatenate([np.full(n - 1, 0.1), [t_marker]])
        assert bool(discovery_threshold(t, dof) <= t_marker) is discovered, factor


def test_discoveries_are_a_false_discovery_rate_not_a_bonferroni_bound():
    """Twenty real loci at |t| 4 among 2,000 markers: each short of Bonferroni's bound (about 4.06),
    all discoveries at a 5 % false discovery rate; with none real, nothing passes."""
    rng = np.random.default_rng(1)
    null = rng.normal(size=2000)
    assert discovery_threshold(null, 10_000) == np.inf
    t = np.concatenate([null[:1980], np.full(20, 4.0)])
    assert discovery_threshold(t, 10_000) <= 4.0


def test_gblup_records_its_reml_fit_on_the_trait_scale(tmp_path):
    """GBLUP's record in the per-trait job: its REML variance components on the trait's own scale
    (the job fits on the standardised trait), h2 and delta the same on either."""
    from gpgcn.models.gblup import fit_gblup

    write_cohort(tmp_path)
    _, _, outputs = run_models(tmp_path, changes=[{}])
    reml = json.loads(Path(outputs["gblup_metrics"]).read_text())["reml"]
    split = pd.read_csv(tmp_path / "split.tsv", sep="\t", dtype={"ID": str})
    kinship = SplitKinship.of(read_kinship(tmp_path / "grm.tsv"), split, "grm.tsv", "split.tsv")
    train = kinship.train
    raw = fit_gblup(kinship.k[train], split["y"].to_numpy(float)[train], np.ones((train.sum(), 1)))
    assert reml["sigma_g2"] == pytest.approx(raw.sigma_g2, rel=1e-3)
    assert reml["sigma_e2"] == pytest.approx(raw.sigma_e2, rel=1e-3)
    assert reml["delta"] == pytest.approx(raw.delta, rel=1e-3)
    mean_diagonal = np.mean(np.diag(kinship.k[train][:, kinship.column[train]]))
    assert reml["genomic_variance"] == pytest.approx(raw.sigma_g2 * mean_diagonal, rel=1e-3)
    assert reml["h2"] == pytest.approx(reml["genomic_variance"] / (reml["genomic_variance"] + reml["sigma_e2"]))


def test_more_loci_than_markers_is_refused(tmp_path):
    write_cohort(tmp_path)
    global LOCI_COUNTS
    saved, LOCI_COUNTS = LOCI_COUNTS, [0, 401]
    try:
        with pytest.raises(InputError, match=r"select.loci_counts: 401 markers asked for, but the genotypes hold 400"):
            run_models(tmp_path, changes=[{}])
    finally:
        LOCI_COUNTS = saved
    assert not any(Path(path).exists() for path in (tmp_path / f"{name}.out" for name in OUTPUTS))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The models of the unchanged cohort, and GBLUP's and the GCN's test predictions."""
    directory = tmp_path_factory.mktemp("reference")
    write_cohort(directory)
    gcn, stack, outputs = run_models(directory)
    test = slice(90, 110)
    predicted = {
        name: pd.read_csv(outputs[f"{name}_predictions"], sep="\t")["predicted"].to_numpy()[test]
        for name in ("gcn", "rkhs", "gblup_loci", "gblup")
    }
    records = {name: json.loads(Path(outputs[f"{name}_metrics"]).read_text()) for name in ("rkhs", "gblup_loci")}
    return gcn, stack, predicted, records


def run_with_test_phenotypes(directory, phenotypes):
    directory.mkdir()
    write_cohort(directory, test_phenotypes=phenotypes)
    gcn, stack, outputs = run_models(directory)
    records = {name: json.loads(Path(outputs[f"{name}_metrics"]).read_text()) for name in ("rkhs", "gblup_loci")}
    return gcn, stack, records


def same(a, b):
    """Equal, numbers within rounding (the runs repeat the same arithmetic on the same accessions),
    through nested records."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True)
    return a == b


def assert_same_choices(reference, other):
    """Every score, choice and weight the two runs made inside the training accessions."""
    (gcn_a, stack_a, records_a), (gcn_b, stack_b, records_b) = reference, other
    assert gcn_a["selection"]["averaged"] == gcn_b["selection"]["averaged"]
    scores = [[c["cv_pearson_r"] for c in gcn["selection"]["candidates"]] for gcn in (gcn_a, gcn_b)]
    assert same(scores[0], scores[1])
    weighed = sorted(k for k in stack_a if k.startswith(("weight_", "gcn_share")))
    assert weighed == sorted(k for k in stack_b if k.startswith(("weight_", "gcn_share")))
    assert len(weighed) == 4 + 1  # each model's weight and the GCN's share
    assert sorted(stack_a["by_outer_fold"]) == weighed  # each one also in every outer fold
    for key in weighed:
        assert same(stack_a[key], stack_b[key]), key
    assert same(stack_a["by_outer_fold"], stack_b["by_outer_fold"])
    for key in ("loci_m", "loci", "by_outer_fold"):
        assert same(records_a["gblup_loci"][key], records_b["gblup_loci"][key]), key
    for key in ("rkhs_bandwidth", "by_outer_fold"):
        assert records_a["rkhs"][key] == records_b["rkhs"][key], key
    for model_a, model_b in ((gcn_a, gcn_b), (stack_a, stack_b), *zip(records_a.values(), records_b.values())):
        assert len(model_a["cv_pearson_r"]) == 2 and same(model_a["cv_pearson_r"], model_b["cv_pearson_r"])


def test_noise_for_test_phenotypes_moves_no_score_choice_or_weight(reference_run, tmp_path):
    gcn, stack, _, records = reference_run
    noise = np.random.default_rng(7).normal(40.0, 9.0, 20)
    other = run_with_test_phenotypes(tmp_path / "noise", noise)
    assert_same_choices((gcn, stack, records), other)
    assert other[0]["test_pearson_r"] != gcn["test_pearson_r"]


def test_a_candidate_the_test_accessions_would_reject_is_still_chosen(reference_run, tmp_path):
    """Test phenotypes opposite to the chosen GCN's predictions: on the test accessions it is the
    worst candidate there is (r = -1), yet it is chosen again."""
    gcn, stack, predicted, records = reference_run
    other = run_with_test_phenotypes(tmp_path / "against", -predicted["gcn"])
    assert other[0]["test_pearson_r"] == pytest.approx(-1.0)
    assert_same_choices((gcn, stack, records), other)


def test_stack_weights_the_test_accessions_would_move_stay(reference_run, tmp_path):
    """Test phenotypes that are exactly the predictions of a model the stack gives the least
    weight: on the test accessions that model alone is perfect, yet every weight stays where the
    training folds put it."""
    gcn, stack, predicted, records = reference_run
    least = min(("gblup", "rkhs", "gblup_loci", "gcn"), key=lambda name: stack[f"weight_{name}"])
    assert_same_choices((gcn, stack, records), run_with_test_phenotypes(tmp_path / "toward", predicted[least]))


def inbred_cohort(n=120, seed=11):
    """Inbred accessions (dosage 0 or 2): markers a and b of large effect, c their average (in
    complete LD with the two together, r² 0.5 with each), and 200 background markers."""
    rng = np.random.default_rng(seed)
    a, b = 2 * rng.integers(0, 2, n), 2 * rng.integers(0, 2, n)
    background = 2 * rng.integers(0, 2, (n, 200))
    dosage = np.column_stack([a, b, (a + b) / 2, background]).astype(float)
    dosage -= dosage.mean(axis=0)
    z = dosage[:, 3:]
    grm = z @ z.T / np.sum(z.var(axis=0))
    y = dosage[:, 0] + dosage[:, 1] + z[:, :20] @ rng.normal(0, 0.1, 20) + 0.5 * rng.normal(size=n)
    sites = pd.DataFrame(
        {"chrom": "1", "pos": np.arange(1, dosage.shape[1] + 1), "id": [f"m{j}" for j in range(dosage.shape[1])]}
    )
    kinship = SplitKinship(grm, np.ones(n, bool), FixedEffects.intercept(n), np.diag(grm))
    return kinship, Markers(dosage, sites), y


def test_markers_in_complete_ld_are_one_locus():
    """Two loci and a marker the two determine together: the count is spent on two markers, not
    three, and GBLUP with them is of full rank (three would make it singular)."""
    kinship, markers, y = inbred_cohort()
    everyone = np.ones(len(y), bool)
    chosen, _ = top_markers(kinship, y, everyone, markers.dosage, 5)
    assert len(chosen) == 2 and set(chosen) < {0, 1, 2}
    fit, predicted, fixed = fit_with_markers(kinship, y, everyone, markers, chosen)
    assert len(fit.beta) == 3 and np.isfinite(predicted).all() and np.isfinite(fixed).all()
    assert kinship.effects.aliased_record() == {}


def test_each_inner_fold_scans_only_the_accessions_it_learns_from(monkeypatch):
    """GBLUP + loci on an outer fold's training accessions: the scan of each inner fold sees
    neither that inner fold nor the outer fold held out; the last scan sees every training
    accession of the fold."""
    kinship, markers, y = inbred_cohort()
    folds = np.tile([0, 1, 2, 3], len(y) // 4)  # 0: the outer fold held out
    scanned = []
    real = loci_module.association

    def recording(split_kinship, y, fit_mask, dosage):
        scanned.append(fit_mask.copy())
        return real(split_kinship, y, fit_mask, dosage)

    monkeypatch.setattr(loci_module, "association", recording)
    fold = Fold(SimpleNamespace(y_sd=1.0), None, folds, y, kinship, markers, {}, "outer fold")
    loci_module.fit_fold(fold, {"loci_counts": [0, 1, 2]})
    expected = [(folds > 0) & (folds != inner) for inner in (1, 2, 3)]
    assert len(scanned) >= 3
    for mask, inner_mask in zip(scanned[:3], expected):
        np.testing.assert_array_equal(mask, inner_mask)
    for mask in scanned[3:]:
        np.testing.assert_array_equal(mask, folds > 0)


def test_a_model_that_fails_is_written_as_failed_and_the_others_stand(tmp_path, monkeypatch):
    """RKHS fails (a singular matrix) in one outer CV fold: the job writes every model, RKHS marked
    failed with the fold and without a CV r (its fit on every training accession stands), no weight
    for it in the stack of that fold; the others cross-validated as usual."""
    real = rkhs_module.fit_rkhs
    calls = []

    def failing(split_kinship, y, fit_mask):
        calls.append(fit_mask.sum())
        if len(calls) == 1:  # the first outer fold's fit (the CV's folds are fitted first)
            raise np.linalg.LinAlgError("Singular matrix")
        return real(split_kinship, y, fit_mask)

    monkeypatch.setattr(rkhs_module, "fit_rkhs", failing)
    write_cohort(tmp_path)
    gcn, stack, outputs = run_models(tmp_path, changes=[{}])
    rkhs = json.loads(Path(outputs["rkhs_metrics"]).read_text())
    assert rkhs["failed"].startswith("T: cross-validation cv_1, outer fold 1: LinAlgError: Singular matrix")
    assert rkhs["test_pearson_r"] > 0.3 and rkhs["cv_pearson_r"] == [] and rkhs["cv_pearson_r_mean"] is None
    assert stack["failed"] is None and gcn["failed"] is None and stack["test_pearson_r"] > 0.3
    assert stack["by_outer_fold"]["weight_rkhs"]["cv_1"][0] == 0 and len(stack["cv_pearson_r"]) == 2
    loci = json.loads(Path(outputs["gblup_loci_metrics"]).read_text())
    assert loci["failed"] is None and len(loci["cv_pearson_r"]) == 2


def test_a_failed_model_the_gcn_learns_around_fails_the_gcn_too(tmp_path, monkeypatch):
    def failing(fold, settings):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(loci_module, "fit_fold", failing)
    write_cohort(tmp_path)
    gcn, stack, outputs = run_models(tmp_path, changes=[{}])
    loci = json.loads(Path(outputs["gblup_loci_metrics"]).read_text())
    assert loci["failed"] == "T: training accessions: LinAlgError: Singular matrix"
    assert "GBLUP + loci's fixed effects, which failed" in gcn["failed"]
    assert (
        gcn["selection"]["averaged"] == []
        and pd.read_csv(outputs["gcn_predictions"], sep="\t")["predicted"].isna().all()
    )
    assert stack["failed"] is None and stack["weight_gcn"] == stack["weight_gblup_loci"] == 0
    table = pd.read_csv(outputs["table"], sep="\t")
    assert table["predicted"].notna().all()


def test_the_gcn_of_an_outer_fold_adds_back_its_fixed_effects_on_the_right_scale(tmp_path):
    """In an outer CV fold the GCN trains on a problem standardised on that fold's training
    accessions, while the fixed effects it learns around come on the trait problem's scale. Here the
    held-out fold spreads ten times wider, so the two scales differ five-fold; fixed effects that
    are the trait but for a little noise leave the members only that noise to learn, and every
    accession is predicted as its fixed effect."""
    from gpgcn.models import FoldFit
    from gpgcn.models.gcn import Search
    from gpgcn.models.gcn_candidates import CandidateProblems
    from gpgcn.models.inputs import TraitInputs

    write_cohort(tmp_path)
    split = pd.read_csv(tmp_path / "split.tsv", sep="\t", dtype={"ID": str})
    held = split["cv_1"].eq(1).to_numpy()
    centre = split.loc[split["set"].eq("train"), "y"].mean()
    split.loc[held, "y"] = centre + 10 * (split.loc[held, "y"] - centre)
    split.to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    candidate = candidates(TRAIN, GRAPH, [{}])[0]
    problem = CandidateProblems(TraitInputs(**cohort_files(tmp_path, genotyped=False)), 4).problem(candidate)
    folds = problem.cv_repeats["cv_1"]
    held_out = problem.holding_out(folds, 1)
    assert problem.y_sd > 4 * held_out.y_sd
    noise = 0.01 * np.random.default_rng(0).normal(size=len(problem.ids))
    fixed = np.nan_to_num(problem.y.numpy().astype(float)) + noise
    fold = Fold(problem, held_out, np.where(held, 0, folds), problem.y.numpy(), None, None, {}, "outer fold 1")
    fold.fits["gblup_loci"] = FoldFit(None, None, offsets={2: fixed, 3: fixed})
    predicted = gcn_module.fit_fold(fold, {"search": Search([(candidate, problem)], [])}).predicted
    labelled = np.isfinite(problem.y.numpy())
    assert np.abs(predicted - fixed)[labelled].max() < 0.05


def test_no_baseline_of_an_outer_fold_learns_from_the_accessions_it_predicts(tmp_path, monkeypatch):
    """Every fit of GBLUP, RKHS and GBLUP + loci (each goes through the kinship's decomposition of
    the accessions it learns from) inside an outer CV fold leaves that fold's accessions out."""
    from gpgcn import models
    from gpgcn.models import job

    held, fits = {}, []
    real_fit_every_model, real_decomposed = models.fit_every_model, SplitKinship.decomposed

    def fit_every_model(fold, training_accessions=False, only=None):
        training = np.asarray(fold.problem.fold) > 0
        held["current"] = (fold.label, training & (fold.folds == 0))
        return real_fit_every_model(fold, training_accessions, only)

    def decomposed(self, fit_mask, ratios=()):
        fits.append((*held.get("current", ("training accessions", None)), fit_mask.copy()))
        return real_decomposed(self, fit_mask, ratios)

    monkeypatch.setattr(models, "fit_every_model", fit_every_model)
    monkeypatch.setattr(job, "fit_every_model", fit_every_model)
    monkeypatch.setattr(SplitKinship, "decomposed", decomposed)
    write_cohort(tmp_path)
    run_models(tmp_path, changes=[{}])
    outer = [(label, out, mask) for label, out, mask in fits if "cross-validation" in label]
    assert len({label for label, _, _ in outer}) == 6  # two repeats of three folds
    for label, out, mask in outer:
        assert out.sum() == 30 and not (mask & out).any(), label


@pytest.fixture
def toy_registry():
    """The registry with a toy model (tests/toy_model.py, one setting) before the stack, as
    docs/extending.md adds one: its entry is all the job, the rules and the stack are told. The
    registry is restored afterwards."""
    from gpgcn import models

    saved = dict(models.MODELS)

    def install(**declared):
        toy = models.Model("toy", "toy", "toy_model", settings=("select.toy_shrink",), **declared)
        order = [*(m for name, m in saved.items() if name != models.RECOMMENDED), toy, saved[models.RECOMMENDED]]
        models.MODELS.clear()
        models.MODELS.update({model.name: model for model in order})

    yield install
    models.MODELS.clear()
    models.MODELS.update(saved)


def run_with_toy(directory, genotyped=True):
    from gpgcn import models

    outputs = {name: str(directory / f"{name}.out") for name in (*trait_model_outputs("."), "cv_predictions", "table")}
    config = {
        "train": TRAIN,
        "graph": GRAPH,
        "select": {
            "node_features": "kinship",
            "candidates": [{}],
            "snp_feature_limit": 4,
            "loci_counts": LOCI_COUNTS,
            "toy_shrink": 0.5,
        },
    }
    assert {"toy_metrics", "toy_predictions"} <= set(outputs)  # the rule's outputs come from the registry
    trait_models_stage(
        files=cohort_files(directory, genotyped), settings=models.model_settings(config), outputs=outputs
    )
    return outputs


def test_a_new_model_is_its_module_and_its_registry_entry(tmp_path, toy_registry):
    """A toy model with one setting, added to the registry alone: the per-trait job gives it its
    setting, fits it on every fold, cross-validates it beside the others, writes its files, and
    the stack weighs it as a baseline."""
    toy_registry(stack_role="baseline")
    write_cohort(tmp_path)
    outputs = run_with_toy(tmp_path)
    toy = json.loads(Path(outputs["toy_metrics"]).read_text())
    assert toy["model"] == "toy" and toy["failed"] is None and toy["toy_shrink"] == 0.5
    assert len(toy["cv_pearson_r"]) == 2 and len(toy["by_outer_fold"]["toy_shrink"]["cv_1"]) == 3
    predicted = {name: pd.read_csv(outputs[f"{name}_predictions"], sep="\t") for name in ("toy", "gblup")}
    centre = pd.read_csv(tmp_path / "split.tsv", sep="\t").query("set == 'train'")["y"].mean()
    np.testing.assert_allclose(
        predicted["toy"]["predicted"] - centre, 0.5 * (predicted["gblup"]["predicted"] - centre), atol=1e-4
    )
    stack = json.loads(Path(outputs["stack_metrics"]).read_text())
    assert "weight_toy" in stack and len(stack["by_outer_fold"]["weight_toy"]["cv_1"]) == 3
    assert "toy" in pd.read_csv(outputs["cv_predictions"], sep="\t").columns


def test_a_model_that_needs_genotypes_is_written_as_failed_without_them(tmp_path, toy_registry):
    toy_registry(stack_role="baseline", needs_genotypes=True)
    write_cohort(tmp_path)
    outputs = run_with_toy(tmp_path, genotyped=False)
    toy = json.loads(Path(outputs["toy_metrics"]).read_text())
    assert (
        toy["failed"] == "T: training accessions: ModelFailure: it needs genotypes, and the run has none (mode kinship)"
    )
    stack = json.loads(Path(outputs["stack_metrics"]).read_text())
    assert stack["failed"] is None and stack["weight_toy"] == 0
