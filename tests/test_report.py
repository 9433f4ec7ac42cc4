"""The report's trait x model accuracy table, on hand-made records with known answers."""

import numpy as np
import pandas as pd
import pytest

from gpgcn.metrics import accuracy, paired_bootstrap_difference
from gpgcn.report import accuracy_table


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
    selection = {"chosen": "lr=0.01", "cv_settings_chosen_on_same_accessions": True}
    models = [
        ("T", *model("gblup", observed, poor, sets, cv=(0.30, 0.40))),
        ("T", *model("gcn", observed, good, sets, cv=(0.50, 0.70), selection=selection)),
        ("T", *model("hybrid", observed, 0.5 * good + 0.5 * poor, sets, cv=(0.45, 0.55), gcn_weight=0.5)),
    ]
    table = accuracy_table(models).set_index("model")
    assert list(table.index) == ["GBLUP", "GCN", "hybrid (GCN + GBLUP)"]
    assert (table["trait"] == "T").all()
    test = sets == "test"
    r = {name: np.corrcoef(p[test], observed[test])[0, 1] for name, p in (("GBLUP", poor), ("GCN", good))}
    assert table.loc["GCN", "test_pearson_r"] == pytest.approx(r["GCN"])
    assert table.loc["GCN", "test_r_minus_gblup"] == pytest.approx(r["GCN"] - r["GBLUP"])
    assert table.loc["GCN", "test_r_minus_gblup"] > 0.3  # better than GBLUP: positive
    assert table.loc["GBLUP", "test_r_minus_gblup"] == 0.0
    low, high = paired_bootstrap_difference(observed[test], good[test], poor[test])
    assert (table.loc["GCN", "bootstrap_95_low"], table.loc["GCN", "bootstrap_95_high"]) == (low, high)
    assert 0 < low < table.loc["GCN", "test_r_minus_gblup"] < high
    assert table.loc["GCN", "cv_pearson_r_mean"] == pytest.approx(0.6)
    assert table.loc["GCN", "cv_pearson_r_sd"] == pytest.approx(0.1)
    assert list(table["cv_repeats"]) == [2, 2, 2]
    assert list(table["cv_settings_chosen_on_same_accessions"]) == [False, True, False]
    assert list(table["n_train"]) == [50] * 3 and list(table["n_test"]) == [25] * 3
    assert list(table["predicted_without_phenotype"]) == [5] * 3
    assert table.loc["hybrid (GCN + GBLUP)", "gcn_weight"] == 0.5 and pd.isna(table.loc["GBLUP", "gcn_weight"])
    assert table.loc["GCN", "gcn_settings"] == "lr=0.01" and pd.isna(table.loc["GBLUP", "gcn_settings"])
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
