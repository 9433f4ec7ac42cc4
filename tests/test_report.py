"""The report's trait x model accuracy table, on hand-made records with known answers."""

import numpy as np
import pandas as pd
import pytest

from gpgcn.report.summary import accuracy_table
from gpgcn.statistics import accuracy


def model(name, observed, predicted, sets, cv=(), **extra):
    """A model's (metrics, predictions) as its rule writes them."""
    predictions = pd.DataFrame(
        {"ID": [f"a{i}" for i in range(len(sets))], "observed": observed, "predicted": predicted, "set": sets}
    )
    test = predictions["set"] == "test"
    metrics = {
        "model": name,
        "n_devices": 1,
        **accuracy(observed[test], predicted[test]),
        "n_train": int((predictions["set"] == "train").sum()),
        "n_test": int(test.sum()),
        "cv_repeats": len(cv),
        "cv_pearson_r": list(cv),
        "cv_pearson_r_mean": float(np.mean(cv)) if cv else None,
        "cv_pearson_r_sd": float(np.std(cv)) if cv else None,
        **extra,
    }
    return metrics, predictions


def test_accuracy_table_rows_follow_each_models_record():
    rng = np.random.default_rng(0)
    n = 80
    sets = np.array(["train"] * 50 + ["test"] * 25 + ["unlabelled"] * 5)
    observed = np.where(sets == "unlabelled", np.nan, rng.normal(size=n))
    good = observed + 0.3 * rng.normal(size=n)
    poor = observed + 1.5 * rng.normal(size=n)
    selection = {"averaged": ["lr=0.01", "k=5"]}
    models = [
        ("T", *model("gblup", observed, poor, sets, cv=(0.30, 0.40))),
        ("T", *model("gcn", observed, good, sets, cv=(0.50, 0.70), selection=selection)),
        (
            "T",
            *model(
                "stack",
                observed,
                0.5 * good + 0.5 * poor,
                sets,
                cv=(0.45, 0.55),
                weight_gblup=0.5,
                weight_rkhs=0.0,
                weight_gcn=0.25,
                gcn_share=1 / 3,
            ),
        ),
    ]
    table = accuracy_table(models).set_index("model")
    assert list(table.index) == ["GBLUP", "GCN", "stack (recommended)"]
    assert (table["trait"] == "T").all()
    test = sets == "test"
    r = {name: np.corrcoef(p[test], observed[test])[0, 1] for name, p in (("GBLUP", poor), ("GCN", good))}
    assert table.loc["GCN", "test_pearson_r"] == pytest.approx(r["GCN"])
    assert table.loc["GCN", "test_r_minus_gblup"] == pytest.approx(r["GCN"] - r["GBLUP"])
    assert table.loc["GCN", "test_r_minus_gblup"] > 0.3  # better than GBLUP: positive
    assert table.loc["GBLUP", "test_r_minus_gblup"] == 0.0
    low, high = table.loc["GCN", "bootstrap_95_low"], table.loc["GCN", "bootstrap_95_high"]
    assert 0 < low < table.loc["GCN", "test_r_minus_gblup"] < high
    assert table.loc["GCN", "cv_pearson_r_mean"] == pytest.approx(0.6)
    assert table.loc["GCN", "cv_pearson_r_sd"] == pytest.approx(0.1)
    assert list(table["cv_repeats"]) == [2, 2, 2]
    assert table.loc["GCN", "gcn_settings"] == "lr=0.01; k=5" and pd.isna(table.loc["GBLUP", "gcn_settings"])
    assert list(table["n_train"]) == [50] * 3 and list(table["n_test"]) == [25] * 3
    assert list(table["predicted_without_phenotype"]) == [5] * 3
    assert table.loc["stack (recommended)", "stack_weights"] == "GBLUP 0.5, GCN 0.25"
    assert table.loc["stack (recommended)", "gcn_share"] == pytest.approx(1 / 3)
    assert pd.isna(table.loc["GBLUP", "gcn_share"]) and pd.isna(table.loc["GCN", "stack_weights"])
    # Paired over the repeats: (0.50 - 0.30, 0.70 - 0.40) for the GCN.
    assert table.loc["GCN", "cv_r_minus_gblup_mean"] == pytest.approx(0.25)
    assert table.loc["GCN", "cv_r_minus_gblup_sd"] == pytest.approx(0.05)
    rmse = np.sqrt(np.mean((good[test] - observed[test]) ** 2))
    assert table.loc["GCN", "test_rmse"] == pytest.approx(rmse)


def test_each_trait_is_compared_with_its_own_gblup():
    """Two traits whose GBLUPs differ: each row's difference uses its own trait's GBLUP."""
    rng = np.random.default_rng(1)
    sets = np.array(["train"] * 30 + ["test"] * 30)
    observed = rng.normal(size=60)
    test = sets == "test"
    gblup_a, gblup_b = observed + 0.5 * rng.normal(size=60), rng.normal(size=60)
    gcn = observed + 0.8 * rng.normal(size=60)
    models = [
        ("A", *model("gblup", observed, gblup_a, sets)),
        ("A", *model("gcn", observed, gcn, sets)),
        ("B", *model("gblup", observed, gblup_b, sets)),
        ("B", *model("gcn", observed, gcn, sets)),
    ]
    table = accuracy_table(models)
    gcn_rows = table[table["model"] == "GCN"].set_index("trait")["test_r_minus_gblup"]
    r_gcn = np.corrcoef(gcn[test], observed[test])[0, 1]
    assert gcn_rows["A"] == pytest.approx(r_gcn - np.corrcoef(gblup_a[test], observed[test])[0, 1])
    assert gcn_rows["B"] == pytest.approx(r_gcn - np.corrcoef(gblup_b[test], observed[test])[0, 1])
    assert gcn_rows["A"] < 0 < gcn_rows["B"]
    assert table["cv_pearson_r_mean"].isna().all() and (table["cv_repeats"] == 0).all()


@pytest.mark.parametrize("n_traits", [1, 2, 14])
def test_the_accuracy_plot_draws_differences_to_gblup(tmp_path, n_traits):
    """One, two and fourteen traits: a PNG, and the bars are the table's differences."""
    import matplotlib

    from gpgcn.report import summary

    rng = np.random.default_rng(2)
    sets = np.array(["train"] * 40 + ["test"] * 40)
    models = []
    for t in range(n_traits):
        observed = rng.normal(size=80)
        for name, noise in (("gblup", 1.0), ("gcn", 0.8), ("stack", 0.7)):
            predicted = observed + noise * rng.normal(size=80)
            models.append((f"trait{t}", *model(name, observed, predicted, sets, cv=(0.3 + noise / 10, 0.4))))
    table = accuracy_table(models)
    drawn = {}
    original = matplotlib.axes.Axes.bar

    def bar(ax, x, height, *args, label=None, **kwargs):
        drawn.setdefault((ax, label), []).extend(height)
        return original(ax, x, height, *args, label=label, **kwargs)

    matplotlib.axes.Axes.bar = bar
    try:
        summary.plot_accuracy_by_trait(table, tmp_path / "plot.png")
    finally:
        matplotlib.axes.Axes.bar = original
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    for (ax, label), heights in drawn.items():
        rows = table[table["model"] == label]
        column = "test_r_minus_gblup" if ax.get_title().startswith("test") else "cv_r_minus_gblup_mean"
        np.testing.assert_allclose(heights, rows[column])
    assert {label for _, label in drawn} == {"GCN", "stack (recommended)"}  # GBLUP is the zero line


def test_the_interval_to_gblup_is_paired():
    """A model that is GBLUP but for a little noise: resampled together, the two r move together
    and the interval of their difference is narrow, where resampling each model on its own draw of
    accessions would spread it by about ±0.1."""
    rng = np.random.default_rng(4)
    sets = np.array(["train"] * 20 + ["test"] * 60)
    observed = rng.normal(size=80)
    gblup = observed + 1.0 * rng.normal(size=80)
    close = gblup + 0.02 * rng.normal(size=80)
    table = accuracy_table(
        [("T", *model("gblup", observed, gblup, sets)), ("T", *model("rkhs", observed, close, sets))]
    )
    row = table.set_index("model").loc["RKHS"]
    assert row["bootstrap_95_low"] <= row["test_r_minus_gblup"] <= row["bootstrap_95_high"]
    assert row["bootstrap_95_high"] - row["bootstrap_95_low"] < 0.02


def test_a_failed_model_is_a_row_that_says_why():
    rng = np.random.default_rng(5)
    sets = np.array(["train"] * 20 + ["test"] * 20)
    observed = rng.normal(size=40)
    failed = model(
        "rkhs", observed, np.full(40, np.nan), sets, failed="T: cross-validation cv_1, outer fold 2: LinAlgError"
    )
    table = accuracy_table([("T", *model("gblup", observed, observed + rng.normal(size=40), sets)), ("T", *failed)])
    row = table.set_index("model").loc["RKHS"]
    assert row["note"] == "failed: T: cross-validation cv_1, outer fold 2: LinAlgError"
    assert pd.isna(row["test_pearson_r"]) and pd.isna(row["bootstrap_95_low"])
    assert pd.isna(table.set_index("model").loc["GBLUP", "note"])


def test_one_cv_repeat_has_no_spread():
    from gpgcn.records import model_record

    def record(cv_scores):
        return model_record(
            model="gblup",
            observed=[1.0, 2.0, 3.0],
            predicted=[1.1, 1.9, 3.2],
            n_train=10,
            seconds_total=1.0,
            cv_scores=cv_scores,
        )

    assert record([0.5])["cv_pearson_r_mean"] == 0.5 and record([0.5])["cv_pearson_r_sd"] is None
    assert record([0.4, 0.6])["cv_pearson_r_sd"] == pytest.approx(0.1)


def test_variance_components_are_gblups_reml_parts_and_their_shares():
    """From each trait's GBLUP record: the genomic, random covariates' and residual variances and
    their shares of the sum (the genomic share is h2); other models and a failed GBLUP give none."""
    from gpgcn.report.summary import variance_components_table

    reml = {"genomic_variance": 2.0, "sigma_e2": 1.0, "sigma_c2": {"cage": 1.0}, "h2": 0.5}
    models = [
        ("A", {"model": "gblup", "reml": reml}, None),
        ("A", {"model": "rkhs"}, None),
        ("B", {"model": "gblup", "reml": {"genomic_variance": 3.0, "sigma_e2": 1.0, "h2": 0.75}}, None),
        ("C", {"model": "gblup", "failed": "LinAlgError"}, None),
    ]
    table = variance_components_table(models)
    assert list(zip(table["trait"], table["component"])) == [
        ("A", "genomic"),
        ("A", "random covariate cage"),
        ("A", "residual"),
        ("B", "genomic"),
        ("B", "residual"),
    ]
    assert list(table["variance"]) == [2.0, 1.0, 1.0, 3.0, 1.0]
    assert list(table["share"]) == pytest.approx([0.5, 0.25, 0.25, 0.75, 0.25])
