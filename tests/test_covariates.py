"""Covariates: read from the phenotype table, checked in the split, fitted as fixed effects by
every model."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpgcn.data.covariates import FixedEffects
from gpgcn.data.phenotypes import split_stage
from gpgcn.errors import InputError
from gpgcn.models.split_kinship import SplitKinship


def write_inputs(directory, rows):
    """Accessions 1..len(rows); `rows`: (trait, sex, weight) strings per accession, '' missing."""
    (directory / "accessions.txt").write_text("".join(f"{i}\n" for i in range(1, len(rows) + 1)))
    lines = ["ID,T,sex,weight"] + [f"{i},{t},{s},{w}" for i, (t, s, w) in enumerate(rows, 1)]
    (directory / "pheno.csv").write_text("\n".join(lines) + "\n")


def run_split(directory, covariates, test_ids=(), random=()):
    (directory / "test.txt").write_text("".join(f"{i}\n" for i in test_ids))
    split_stage(
        directory / "pheno.csv",
        [directory / "accessions.txt"],
        directory / "split.tsv",
        directory / "summary.json",
        trait="T",
        id_column=None,
        covariates=covariates,
        random_covariates=random,
        test_fraction=0.0,
        n_folds=2,
        seed=0,
        test_ids_path=directory / "test.txt" if test_ids else None,
    )
    return pd.read_csv(directory / "split.tsv", sep="\t", dtype={"ID": str})


ROWS = [("1", "F", "20"), ("2", "M", "25"), ("3", "F", "21"), ("4", "M", "30"), ("5", "F", "22"), ("6", "M", "")]


def test_the_design_has_an_intercept_numeric_and_indicator_columns(tmp_path):
    # Accession 7 has no phenotype and no sex; accession 6 has no weight and is unphenotyped.
    rows = [*ROWS[:5], ("NA", "M", ""), ("", "", "24"), ("7", "X", "23")]
    write_inputs(tmp_path, rows)
    split = run_split(tmp_path, ["sex", "weight"], test_ids=["8"])
    assert list(split.columns[-2:]) == ["covariate:sex", "covariate:weight"]
    train = split["set"].eq("train").to_numpy()
    x = FixedEffects.of_split(split).matrix(train)
    assert x.shape == (8, 3)
    np.testing.assert_array_equal(x[:, 0], 1.0)
    weights = np.array([20, 25, 21, 30, 22.0])
    np.testing.assert_allclose(x[train, 1], (weights - weights.mean()) / weights.std(ddof=1))
    np.testing.assert_array_equal(x[train, 2], [0, 1, 0, 1, 0])  # M against F
    # Missing (accessions 6 and 7) or unseen (X, accession 8): the training mean of the column.
    assert x[6, 2] == pytest.approx(0.4) and x[7, 2] == pytest.approx(0.4)
    assert x[5, 1] == pytest.approx(0.0)


def test_a_covariate_missing_from_the_table_lists_the_columns(tmp_path):
    write_inputs(tmp_path, ROWS)
    with pytest.raises(InputError, match=r"pheno.csv: no covariate column 'GENDER'; columns are: ID, T, sex, weight"):
        run_split(tmp_path, ["GENDER"])
    assert not (tmp_path / "split.tsv").exists()


def test_a_phenotyped_accession_without_a_covariate_is_named(tmp_path):
    write_inputs(tmp_path, ROWS)
    with pytest.raises(
        InputError, match=r"pheno.csv: line 7: covariate 'weight' is missing for phenotyped accession '6'"
    ):
        run_split(tmp_path, ["weight"])
    assert not (tmp_path / "split.tsv").exists()


def test_a_covariate_constant_among_the_training_accessions_is_refused(tmp_path):
    write_inputs(tmp_path, [(t, "F", w) for t, _, w in ROWS[:5]] + [("6", "M", "23")])
    with pytest.raises(InputError, match=r"covariate 'sex' has one value \('F'\) among the training accessions"):
        run_split(tmp_path, ["sex"], test_ids=["6"])
    assert not (tmp_path / "split.tsv").exists()


def test_gblup_estimates_a_covariate_effect_beside_the_kinship():
    rng = np.random.default_rng(0)
    n = 400
    dosage = rng.binomial(2, 0.4, size=(n, 300))
    z = dosage - dosage.mean(axis=0)
    kinship = z @ z.T / 300
    sex = rng.integers(0, 2, n)
    y = 2.0 * sex + z[:, :30] @ rng.normal(0, 0.2, 30) + rng.normal(size=n)
    split = pd.DataFrame({"ID": [str(i) for i in range(n)], "y": y, "set": "train", "covariate:sex": sex})
    model = SplitKinship(kinship, np.ones(n, bool), FixedEffects.of_split(split), np.diag(kinship))
    fit, _ = model.fit(y, np.ones(n, bool))
    sd = sex.std(ddof=1)
    assert fit.beta[1] / sd == pytest.approx(2.0, abs=0.25)  # per unit of sex: its column is scaled by its sd


def test_every_model_carries_the_covariate(tmp_path):
    """A trait that is mostly sex, sex independent of the genotypes: every model, the GCN
    included, predicts it from the covariate (without it none could)."""
    from test_trait_models import run_models, write_cohort

    write_cohort(tmp_path)
    split = pd.read_csv(tmp_path / "split.tsv", sep="\t", dtype={"ID": str})
    sex = np.random.default_rng(9).choice(["F", "M"], len(split))
    labelled = split["set"].ne("unlabelled")
    split.loc[labelled, "y"] += np.where(sex[labelled] == "M", 6.0, 0.0)
    split["covariate:sex"] = sex
    split.to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    _, _, outputs = run_models(tmp_path, changes=[{}])
    for name in ("gcn", "rkhs", "gblup_loci", "stack"):
        record = json.loads(Path(outputs[f"{name}_metrics"]).read_text())
        assert record["test_pearson_r"] > 0.9, name
        assert record["covariates"] == ["sex"]


def test_a_number_with_a_stray_text_value_is_refused_naming_its_line(tmp_path):
    """`3x` among numbers would otherwise make the column a factor of every distinct number."""
    write_inputs(
        tmp_path,
        [("1", "F", "1"), ("2", "M", "2"), ("3", "F", "1"), ("4", "M", "3x"), ("5", "F", "2"), ("6", "M", "4")],
    )
    with pytest.raises(
        InputError, match=r"pheno.csv: line 5: covariate 'weight' of accession '4' is '3x', not a number"
    ):
        run_split(tmp_path, ["weight"])
    assert not (tmp_path / "split.tsv").exists()


def test_a_covariate_of_too_many_levels_is_refused(tmp_path):
    """A cage per two or three accessions: more levels than 10 % of the training accessions (and
    than 10) is no fixed effect; a few levels are."""
    rows = [(str(i), f"cage{i // 2}", "1") for i in range(1, 61)]
    write_inputs(tmp_path, rows)
    with pytest.raises(InputError, match=r"covariate 'sex' has 31 levels among 60 training accessions .*random effect"):
        run_split(tmp_path, ["sex"])
    write_inputs(tmp_path, [(str(i), f"cage{i % 6}", "1") for i in range(1, 61)])
    assert run_split(tmp_path, ["sex"])["covariate:sex"].nunique() == 6


def test_aliased_columns_are_dropped_in_order_and_recorded():
    """A covariate that another determines (a region of countries) adds no column: it is dropped,
    as R's lm drops it, and recorded where it was."""
    n = 12
    country = np.array(["a", "b", "c", "d"] * 3, dtype=object)
    region = np.where(np.isin(country, ["a", "b"]), "north", "south").astype(object)
    effects = FixedEffects(np.ones((n, 1)), ["intercept"], {"country": country, "region": region})
    effects.where = "fold 2"
    x = effects.matrix(np.ones(n, bool))
    assert x.shape == (n, 4)  # intercept and three country columns; region=south is aliased
    assert effects.aliased_record() == {"fold 2": ["region=south"]}
    assert np.linalg.matrix_rank(x) == 4


def small_kinship(n, seed=0):
    rng = np.random.default_rng(seed)
    dosage = rng.binomial(2, 0.4, size=(n, 200)).astype(float)
    z = dosage - dosage.mean(axis=0)
    return z @ z.T / 200, z


def out_of_fold(model, y, folds):
    """Each accession with a fold (> 0) predicted by GBLUP (`model`, a SplitKinship) fitted on the other folds."""
    predicted = np.full(len(y), np.nan)
    for fold in np.unique(folds[folds > 0]):
        held = folds == fold
        predicted[held] = model.predict(y, (folds > 0) & ~held)[held]
    return predicted


def test_a_level_whose_accessions_are_all_held_out_gets_the_mean_effect():
    """The first level of a covariate, `a`, sits in one CV fold. Fitted without that fold its
    accessions' level is unseen: each gets the fit's mean of the covariate's columns (not the
    reference level's effect), and the design stays of full rank (the other levels coded against
    the first level the fit has)."""
    from gpgcn.models.gblup import decompose, fit_gblup

    n = 60
    kinship, z = small_kinship(n)
    rng = np.random.default_rng(1)
    folds = np.repeat([1, 2, 3], 20)
    pen = np.array(["b", "c", "d"] * 20, dtype=object)
    pen[:3] = "a"  # fold 1 only
    y = z[:, :10] @ rng.normal(0, 0.3, 10) + np.select([pen == "c", pen == "d"], [1.0, -1.0], 0.0) + rng.normal(size=n)
    split = pd.DataFrame({"ID": [str(i) for i in range(n)], "y": y, "set": "train", "covariate:pen": pen})
    model = SplitKinship(kinship, np.ones(n, bool), FixedEffects.of_split(split), np.diag(kinship))
    predicted = out_of_fold(model, y, folds)
    # By hand: fitted on folds 2 and 3, levels b, c, d; `a` gets the mean of the c and d columns.
    fit_mask = folds != 1
    indicators = np.column_stack([pen == "c", pen == "d"]).astype(float)
    indicators[pen == "a"] = indicators[fit_mask].mean(axis=0)
    x = np.column_stack([np.ones(n), indicators])
    fit = fit_gblup(None, y[fit_mask], x[fit_mask], decompose(kinship[np.ix_(fit_mask, fit_mask)]))
    expected = fit.predict(kinship[:, fit_mask], x)
    np.testing.assert_allclose(predicted[folds == 1], expected[folds == 1], rtol=1e-6, atol=1e-9)
    assert model.effects.aliased_record() == {}
