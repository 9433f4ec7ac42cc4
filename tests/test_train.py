import json

import numpy as np
import pytest
import torch

from gpgcn.gcn.networks import GCN
from gpgcn.gcn.strategies import Serial
from gpgcn.gcn.training import (
    EarlyStopping,
    TrainingDiverged,
    TrainResult,
    fit,
    fit_ensemble,
)
from gpgcn.records import seconds_per_epoch, write_training_outputs
from gpgcn.statistics import pearson_r

from helpers import train_settings
from toy import toy_problem


def settings(**kw):
    base = dict(hidden=32, dropout=0.1, lr=0.005, weight_decay=1e-4, max_epochs=80, patience=80, ensemble=False)
    return train_settings(**{**base, **kw})


def builder(problem, s):
    def build():
        torch.manual_seed(s.seed)
        return GCN(problem.n_snps, s.hidden, s.layers, s.dropout)

    return build


def test_model_shape():
    model = GCN(10, hidden_channels=8, num_layers=3)
    assert len(model.stack.convs) == 3
    problem = toy_problem(n=20, p=10)
    out = model(problem.x, problem.edge_index, problem.edge_weight)
    assert out.shape == (20,)


def test_loss_falls_and_the_model_learns():
    problem = toy_problem()
    s = settings()
    stopping, records = fit(builder(problem, s)(), problem, s, Serial(1, s), val_fold=1)
    pred = stopping.best_pred
    losses = [r["train_loss"] for r in records]
    assert losses[-1] < 0.3 * losses[0]
    test = problem.test_idx.numpy()
    assert pearson_r(pred[test], problem.y.numpy()[test]) > 0.5


def test_patience_shrinks_on_large_validation_folds_only():
    s = settings(patience=80, patience_accessions=100)
    assert s.patience_for(30) == s.patience_for(100) == 80
    assert s.patience_for(200) == round(80 * (100 / 200) ** 0.5) == 57
    assert s.patience_for(400) == s.patience_for(10_000) == 40  # half, at the least
    assert settings(patience=80, patience_accessions=0).patience_for(10_000) == 80


def test_a_model_on_a_large_validation_fold_stops_after_the_shrunk_patience():
    """A validation fold larger than `patience_accessions`: the model stops once its loss has
    not improved for the shrunk patience, not the configured one."""
    problem = toy_problem()
    s = settings(max_epochs=400, patience=40, patience_accessions=1)
    n_validation = len(problem.validation_split(1)[1])
    assert s.patience_for(n_validation) == 20
    stopping, records = fit(builder(problem, s)(), problem, s, Serial(1, s), val_fold=1)
    assert len(records) == stopping.best_epoch + 1 + 20 < s.max_epochs


def test_same_seed_same_result():
    problem = toy_problem()
    s = settings(max_epochs=10)
    a = fit(builder(problem, s)(), problem, s, Serial(1, s), 1)[0].best_pred
    b = fit(builder(problem, s)(), problem, s, Serial(1, s), 1)[0].best_pred
    np.testing.assert_array_equal(a, b)


def test_ensemble_has_a_member_per_fold():
    problem = toy_problem()
    s = settings(max_epochs=5, ensemble=True)
    result = fit_ensemble(builder(problem, s), problem, s, Serial(1, s))
    assert len(result.best_epochs) == 4
    assert sorted({r["fold"] for r in result.epochs}) == [1, 2, 3, 4]
    assert result.predictions.shape == (len(problem.ids),)


def test_divergence_names_the_epoch():
    problem = toy_problem()
    problem.x[0, 0] = float("nan")
    s = settings()
    with pytest.raises(TrainingDiverged, match="at epoch 0"):
        fit(builder(problem, s)(), problem, s, Serial(1, s), 1)


def test_progress_lines_say_where_training_is_and_what_is_left(caplog, monkeypatch):
    import gpgcn.gcn.training

    problem = toy_problem()
    s = settings(max_epochs=6, ensemble=True)
    monkeypatch.setattr(gpgcn.gcn.training, "PROGRESS_EVERY_S", 0.0)  # a line every epoch
    with caplog.at_level("INFO", logger="gpgcn.gcn.training"):
        fit_ensemble(builder(problem, s), problem, s, Serial(1, s))
    lines = [r.getMessage() for r in caplog.records]
    assert "training: member 1 of 4, epoch 1, train loss" in lines[0]
    assert "best epoch 1, elapsed 0 s, at most" in lines[0] and lines[0].endswith("s left")
    done = [line for line in lines if line.endswith("(member done)")]
    assert len(done) == 4 and "member 4 of 4, epoch 6" in done[-1] and "at most 0 s left" in done[-1]


def on_trait_scale(problem, seed=None):
    """The toy problem's trait on a scale of its own (mean 10, sd 3), standardised on the
    training accessions as load_problem does; with `seed`, fold 1's phenotypes replaced by noise
    of another mean and spread."""
    observed = problem.observed * 3.0 + 10.0
    if seed is not None:
        fold1 = problem.fold == 1
        observed[fold1] = np.random.default_rng(seed).normal(50.0, 20.0, fold1.sum())
    problem.observed = observed
    return problem.standardised_on(problem.train_idx)


def test_a_member_never_sees_the_phenotypes_it_is_validated_on():
    """The member early-stopped on fold 1 learns from folds 2-4 alone: its training losses do not
    move when fold 1's phenotypes do (before, the target's mean and sd included fold 1)."""
    s = settings(max_epochs=8)
    runs = []
    for seed in (None, 1):
        problem = on_trait_scale(toy_problem(), seed)
        result = fit_ensemble(builder(problem, s), problem, s, Serial(1, s))
        runs.append([r["train_loss"] for r in result.epochs])
    assert runs[0] == runs[1]


def test_an_outer_cv_fold_never_sees_its_held_out_phenotypes():
    """A model trained with outer fold 1 held out predicts the same (on the trait's scale) whatever
    fold 1's phenotypes are."""
    s = settings(max_epochs=8, ensemble=True)
    predicted = []
    for seed in (None, 2):
        problem = on_trait_scale(toy_problem(), seed)
        held_out = problem.holding_out(problem.fold, 1)
        assert held_out.folds == [2, 3, 4]
        result = fit_ensemble(builder(held_out, s), held_out, s, Serial(1, s))
        predicted.append(result.predictions * held_out.y_sd + held_out.y_mean)
        train = held_out.observed[held_out.train_idx.numpy()]
        assert (held_out.y_mean, held_out.y_sd) == pytest.approx((train.mean(), train.std()))
    np.testing.assert_allclose(predicted[0], predicted[1], rtol=1e-5)


def test_out_of_fold_predictions_are_taken_at_the_other_members_median_best_epoch(monkeypatch):
    """Each member's validation predictions at every epoch are 10 * epoch + fold: the out-of-fold
    prediction of a fold's accessions names the epoch it was taken at."""
    import gpgcn.gcn.training

    problem = toy_problem()
    best = {1: 2, 2: 5, 3: 9, 4: 4}

    def fake_fit(model, own, settings, strategy, val_fold, *args):
        n_val = int((own.fold == val_fold).sum())
        history = [[(10 * epoch + val_fold - own.y_mean) / own.y_sd] * n_val for epoch in range(12)]
        record = {"fold": val_fold, "epoch": 0, "val_r": 0.0}
        stopping = EarlyStopping(patience=5, best_epoch=best[val_fold], around_best=[np.zeros(200)], history=history)
        return stopping, [record] * 12

    monkeypatch.setattr(gpgcn.gcn.training, "fit", fake_fit)
    s = settings(ensemble=True)
    result = fit_ensemble(lambda: None, problem, s, Serial(1, s))
    # fold 1: median of 5, 9, 4 is 5; fold 2: of 2, 9, 4 is 4; fold 3: of 2, 5, 4 is 4; fold 4: of 2, 5, 9 is 5
    expected = {1: 51, 2: 42, 3: 43, 4: 54}
    for fold, value in expected.items():
        np.testing.assert_allclose(result.validation_predictions[problem.fold == fold], value)
    assert np.isnan(result.validation_predictions[problem.fold == 0]).all()


def test_best_prediction_averages_the_window_around_the_best_epoch():
    """Every node's prediction at epoch e is e², the validation loss falls to its minimum at epoch 5
    and rises after: with a window of 2 the prediction is the mean of epochs 3 to 7, not 25."""
    losses = [9, 8, 7, 6, 5, 1, 2, 3, 4, 5, 6, 7]

    def run(window, epochs=12):
        stopping = EarlyStopping(patience=100, window=window)
        for epoch in range(epochs):
            stopping.record(epoch, losses[epoch], np.full(3, float(epoch**2)), np.array([0, 2]))
        return stopping

    assert run(2).best_pred == pytest.approx(np.full(3, (9 + 16 + 25 + 36 + 49) / 5))
    assert run(0).best_pred == pytest.approx(np.full(3, 25.0))
    assert run(2, epochs=7).best_pred == pytest.approx(np.full(3, (9 + 16 + 25 + 36) / 4))  # ended at 6
    # An earlier best keeps its own window, fewer epochs where it starts near the first.
    losses[1] = 0.5
    assert run(2).best_pred == pytest.approx(np.full(3, (0 + 1 + 4 + 9) / 4))
    assert run(2).validation_around(10) == pytest.approx(np.full(2, (64 + 81 + 100 + 121) / 4))
    assert run(2).validation_around(5) == pytest.approx(np.full(2, 27.0))
    # A member whose loss then stops being finite keeps no epoch after its best, however long ago.
    losses[1] = 8
    for epochs in (7, 11):
        stopping = run(2, epochs)
        stopping.diverged()
        assert stopping.best_pred == pytest.approx(np.full(3, (9 + 16 + 25) / 3))


def test_seconds_per_epoch_leaves_out_each_members_warm_up(tmp_path):
    """Two members of 5 epochs, the first 3 of each slow (100 s): counted, they would be the median."""
    problem = toy_problem()
    epochs = [{"fold": f, "epoch": e, "seconds": 100.0 if e < 3 else 1.0 + f} for f in (1, 2) for e in range(5)]
    assert seconds_per_epoch(epochs, 3) == pytest.approx(2.5)
    assert seconds_per_epoch(epochs, 0) == 100.0
    result = TrainResult(np.zeros(200), [4, 4], [0.5, 0.5], np.zeros(200), epochs)
    outputs = {name: tmp_path / f"{name}.out" for name in ("metrics", "predictions", "epochs")}
    write_training_outputs(
        outputs,
        problem,
        settings(warmup_epochs=3),
        result,
        {"model": "gcn", "strategy": "serial", "seconds_total": 10.0},
    )
    assert json.loads(outputs["metrics"].read_text())["seconds_per_epoch_median"] == pytest.approx(2.5)


def test_one_member_stops_on_a_fold_its_outer_fold_trains_on():
    """With `ensemble: false` the member stops on `val_fold`; in an outer CV fold that holds
    `val_fold` out, on the first fold it trains on."""
    problem = toy_problem()
    settings = train_settings(ensemble=False, val_fold=1)
    assert settings.validation_folds(problem) == [1]
    held_out = problem.holding_out(problem.fold, 1)
    assert settings.validation_folds(held_out) == [2]
