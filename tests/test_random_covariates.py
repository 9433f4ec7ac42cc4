"""Random covariates (`input.random_covariates`): checked in the split, fitted by every model as a
random effect whose variance each fit chooses by REML."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_covariates import out_of_fold, run_split, small_kinship, write_inputs

from gpgcn.config.plan import Plan
from gpgcn.data.covariates import FixedEffects
from gpgcn.errors import ConfigError, InputError
from gpgcn.models.gblup import decompose, fit_gblup
from gpgcn.models.random_effects import RATIOS, START, RandomCovariates, climb
from gpgcn.models.split_kinship import SplitKinship

from helpers import default_config, merged


def grouped_cohort(n=240, levels=40, group_sd=1.0, seed=0):
    """A kinship, a grouping of `levels` levels (`group_sd` its effects' sd) and a trait."""
    kinship, z = small_kinship(n, seed)
    rng = np.random.default_rng(seed + 1)
    group = np.array([f"g{i}" for i in rng.integers(0, levels, n)], dtype=object)
    effect = dict(zip(np.unique(group), rng.normal(0, group_sd, levels)))
    y = z[:, :20] @ rng.normal(0, 0.15, 20) + np.array([effect[g] for g in group]) + rng.normal(size=n)
    return kinship, group, y


def model_of(kinship, group, y, random=True):
    n = len(y)
    split = pd.DataFrame({"ID": [str(i) for i in range(n)], "y": y, "set": "train", "random:cage": group})
    return SplitKinship(
        kinship,
        np.ones(n, bool),
        FixedEffects.of_split(split),
        np.diag(kinship),
        random=RandomCovariates.of_split(split) if random else None,
    )


def test_the_fit_solves_the_mixed_model_equations_at_the_ratio_reml_prefers():
    """By hand: the kernel K + ρC (C: same cage), ρ the candidate of highest REML likelihood; the
    predictions of accessions left out are the BLUP's, their cage's effect included."""
    kinship, group, y = grouped_cohort()
    n = len(y)
    model = model_of(kinship, group, y)
    fit_mask = np.arange(n) % 4 != 0
    fit, x, predicted = model.fit_predict(y, fit_mask)
    same = (group[:, None] == group[None, :]).astype(float)
    scale = np.mean(np.diag(kinship)[fit_mask])
    fx = np.ones((fit_mask.sum(), 1))
    likelihoods = [
        fit_gblup(None, y[fit_mask], fx, decompose((kinship + r * scale * same)[np.ix_(fit_mask, fit_mask)])).loglik
        for r in RATIOS
    ]
    assert fit.ratios == (pytest.approx(RATIOS[int(np.argmax(likelihoods))] * scale),)
    assert fit.ratios[0] > 0
    kernel = kinship + fit.ratios[0] * same
    h = kernel[np.ix_(fit_mask, fit_mask)] + fit.delta * np.eye(fit_mask.sum())
    h_inv_x, h_inv_y = np.linalg.solve(h, fx[:, 0]), np.linalg.solve(h, y[fit_mask])
    beta = float(h_inv_y.sum() / h_inv_x.sum())  # X: the intercept alone
    alpha = np.linalg.solve(h, y[fit_mask] - beta)
    np.testing.assert_allclose(predicted, beta + kernel[:, fit_mask] @ alpha, rtol=1e-6, atol=1e-8)
    levels = fit.ratios[0] * same[:, fit_mask] @ alpha
    np.testing.assert_allclose(model.random_part(fit, fit_mask), levels, rtol=1e-6, atol=1e-8)


def test_a_grouping_that_carries_the_trait_predicts_held_out_accessions_and_one_that_does_not_costs_nothing():
    kinship, group, y = grouped_cohort(group_sd=1.0)
    folds = 1 + np.arange(len(y)) % 5
    with_cage = out_of_fold(model_of(kinship, group, y), y, folds)
    without = out_of_fold(model_of(kinship, group, y, random=False), y, folds)
    assert np.corrcoef(with_cage, y)[0, 1] > np.corrcoef(without, y)[0, 1] + 0.2
    kinship, group, y = grouped_cohort(group_sd=0.0, seed=5)
    model = model_of(kinship, group, y)
    fit, _ = model.fit(y, np.ones(len(y), bool))
    assert fit.ratios[0] <= 0.25 * np.mean(np.diag(kinship))
    r_with = np.corrcoef(out_of_fold(model, y, folds), y)[0, 1]
    r_without = np.corrcoef(out_of_fold(model_of(kinship, group, y, random=False), y, folds), y)[0, 1]
    assert abs(r_with - r_without) < 0.02


def test_two_groupings_each_get_their_own_variance():
    """A cage that carries the trait beside a pen that carries nothing: the climb gives the cage a
    ratio and leaves the pen's at or near none."""
    kinship, cage, y = grouped_cohort()
    pen = np.array([f"pen{i}" for i in np.random.default_rng(7).integers(0, 30, len(y))], dtype=object)
    n = len(y)
    split = pd.DataFrame({"ID": [str(i) for i in range(n)], "y": y, "set": "train", "random:cage": cage})
    split["random:pen"] = pen
    model = SplitKinship(
        kinship,
        np.ones(n, bool),
        FixedEffects.of_split(split),
        np.diag(kinship),
        random=RandomCovariates.of_split(split),
    )
    fit, _ = model.fit(y, np.ones(n, bool))
    scale = np.mean(np.diag(kinship))
    assert model.random.names == ["cage", "pen"]
    assert fit.ratios[0] >= 0.5 * scale and fit.ratios[1] <= 0.125 * scale, fit.ratios


def test_an_accession_whose_cage_no_fitted_accession_shares_gets_no_cage_effect():
    kinship, group, y = grouped_cohort()
    group = group.copy()
    group[:3] = "alone"
    group[3] = group[4] = None  # 4 is fitted: a missing level is no level it shares
    model = model_of(kinship, group, y)
    fit_mask = np.ones(len(y), bool)
    fit_mask[:4] = False
    fit, _ = model.fit(y, fit_mask)
    part = model.random_part(fit, fit_mask)
    assert fit.ratios[0] > 0 and np.all(part[:4] == 0) and np.abs(part[4:]).max() > 0.1


def test_the_split_carries_a_random_covariate_as_levels(tmp_path):
    write_inputs(tmp_path, [(str(i), str(i % 4), "1") for i in range(1, 41)])
    split = run_split(tmp_path, [], random=["sex"])
    assert "random:sex" in split.columns and "covariate:sex" not in split.columns
    assert split["random:sex"].nunique() == 4  # numbers, but levels


@pytest.mark.parametrize(
    "rows, message",
    [
        ([(str(i), str(i % 4) if i != 7 else "", "1") for i in range(1, 21)], r"line 8: covariate 'sex' is missing"),
        ([(str(i), "c1", "1") for i in range(1, 21)], r"covariate 'sex' has one value \('c1'\)"),
        ([(str(i), f"c{i}", "1") for i in range(1, 21)], r"random covariate 'sex' has a level of its own for each"),
    ],
)
def test_a_random_covariate_no_model_could_fit_is_refused(tmp_path, rows, message):
    write_inputs(tmp_path, rows)
    with pytest.raises(InputError, match=r"pheno.csv: " + message):
        run_split(tmp_path, [], random=["sex"])
    assert not (tmp_path / "split.tsv").exists()


def test_a_column_both_fixed_and_random_stops_the_plan():
    config = merged(default_config(), {"input": {"covariates": ["cage"], "random_covariates": ["cage"]}})
    with pytest.raises(ConfigError, match=r"^input\.covariates and input\.random_covariates both list cage"):
        Plan(config).split_settings()


def test_every_model_carries_the_random_covariate(tmp_path):
    """A trait that is mostly its cage (twelve cages, independent of the genotypes): every model,
    the GCN included (it learns around the cages' BLUPs), predicts the test accessions from it."""
    from test_trait_models import run_models, write_cohort

    write_cohort(tmp_path)
    split = pd.read_csv(tmp_path / "split.tsv", sep="\t", dtype={"ID": str})
    rng = np.random.default_rng(4)
    cage = rng.integers(0, 12, len(split))
    effect = rng.normal(0, 4.0, 12)
    labelled = split["set"].ne("unlabelled")
    split.loc[labelled, "y"] += effect[cage[labelled]]
    split["random:cage"] = [f"cage{c}" for c in cage]
    split.to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    _, _, outputs = run_models(tmp_path, changes=[{}])
    for name in ("gblup", "gcn", "rkhs", "gblup_loci", "stack"):
        record = json.loads(Path(outputs[f"{name}_metrics"]).read_text())
        assert record["test_pearson_r"] > 0.9, name
    gblup = json.loads(Path(outputs["gblup_metrics"]).read_text())
    reml = gblup["reml"]
    assert reml["sigma_c2"]["cage"] > 1.0, reml
    # h2: the genomic share of all the variance, the cages' included.
    assert reml["h2"] == pytest.approx(
        reml["genomic_variance"] / (reml["genomic_variance"] + reml["sigma_c2"]["cage"] + reml["sigma_e2"])
    )
    assert gblup["random_covariates"] == ["cage"] and gblup["covariates"] == []


@pytest.mark.parametrize("peak", range(len(RATIOS)))
def test_the_climb_ends_at_the_grid_best_of_a_unimodal_likelihood_asking_each_ratio_once(peak):
    asked = []

    def value(i):
        asked.append(i)
        return -abs(i - peak)

    assert climb(value) == peak
    assert len(asked) == len(set(asked)) <= abs(peak - START) + 3
