"""Speedup, efficiency and the time to reach serial's best, on hand-made records with known answers."""

import math

import pandas as pd
import pytest

from gpgcn.gcn.strategies import DataParallelStrategy, Strategy
from gpgcn.report.speedups import timing_table


def record(strategy, n_devices, seconds_per_epoch, test_predictions, val_losses, epoch_seconds):
    metrics = {
        "strategy": strategy,
        "n_devices": n_devices,
        "device": "cpu",
        "seconds_per_epoch_median": seconds_per_epoch,
        "test_pearson_r": 0.5,
        "cpu_busy_before": 0.01,
    }
    predictions = pd.DataFrame(
        {"ID": ["a", "b", "c", "d"], "predicted": [*test_predictions, 0.0], "set": ["test"] * 3 + ["train"]}
    )
    epochs = pd.DataFrame(
        [
            {"fold": fold, "epoch": e, "val_loss": loss, "seconds": epoch_seconds}
            for fold, losses in val_losses.items()
            for e, loss in enumerate(losses)
        ]
    )
    return metrics, predictions, epochs


RUNS = [
    # serial's best validation loss: 1.0 on fold 1, 2.0 on fold 2
    record("serial", 1, 1.0, [1, 2, 3], {1: [3.0, 2.0, 1.0], 2: [4.0, 2.0]}, 1.0),
    # within 1 % of serial's best at epoch 1 on both folds: 2 epochs x 0.5 s per fold
    record("intraop", 2, 0.5, [2, 4, 6], {1: [3.0, 1.005, 1.2], 2: [2.5, 2.0]}, 0.5),
    record("interop", 1, 2.0, [1, 2, 3], {1: [1.0], 2: [2.0]}, 2.0),
    record("interop", 2, 1.0, [1, 2, 3], {1: [1.0], 2: [2.0]}, 1.0),
    # fold 2 never comes within 1 % of serial's best
    record("ddp", 2, 0.8, [3, 2, 1], {1: [1.0], 2: [3.0, 2.5]}, 0.8),
]
PLANNED = {"serial": [1], "intraop": [2], "interop": [1, 2], "dataparallel": [], "ddp": [2], "snpshard": []}


def test_speedup_efficiency_and_time_to_serial_best():
    table = timing_table(RUNS, PLANNED).set_index(["strategy", "n_devices"], drop=False)
    intraop = table.loc[("intraop", 2)]
    assert intraop["speedup"] == pytest.approx(2.0)
    assert intraop["efficiency"] == pytest.approx(1.0)
    assert intraop["seconds_to_serial_best"] == pytest.approx(2.0)  # 1.0 s on each fold
    assert intraop["r_with_serial_predictions"] == pytest.approx(1.0)
    assert table.loc[("serial", 1)]["seconds_to_serial_best"] == pytest.approx(3.0 + 2.0)
    interop = table.loc[("interop", 2)]
    assert interop["speedup"] == pytest.approx(1.0)
    assert interop["efficiency"] == pytest.approx(0.5)
    assert interop["speedup_vs_twin"] == pytest.approx(2.0)
    ddp = table.loc[("ddp", 2)]
    assert ddp["speedup"] == pytest.approx(1.25)
    assert ddp["efficiency"] == pytest.approx(0.625)
    assert math.isnan(ddp["seconds_to_serial_best"])
    assert ddp["r_with_serial_predictions"] == pytest.approx(-1.0)


def test_strategies_not_run_say_why_in_report_order():
    table = timing_table(RUNS, PLANNED)
    assert list(dict.fromkeys(table["strategy"])) == ["serial", "intraop", "interop", "dataparallel", "ddp", "snpshard"]
    status = table.drop_duplicates("strategy").set_index("strategy")["status"]
    assert status["dataparallel"] == DataParallelStrategy.not_run
    assert status["snpshard"] == Strategy.not_run
    assert (table.loc[table["strategy"].isin(["serial", "intraop", "interop", "ddp"]), "status"] == "ok").all()
