import numpy as np
import pytest
import torch

from gpgcn.metrics import pearson_r
from gpgcn.model import GCN
from gpgcn.strategies import Serial
from gpgcn.train import TrainingDiverged, TrainSettings, fit, fit_ensemble

from toy import toy_problem


def settings(**kw):
    base = dict(hidden=32, dropout=0.1, lr=0.005, weight_decay=1e-4, max_epochs=80, patience=80, ensemble=False)
    return TrainSettings(**{**base, **kw})


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
    import gpgcn.train

    problem = toy_problem()
    s = settings(max_epochs=6, ensemble=True)
    monkeypatch.setattr(gpgcn.train, "PROGRESS_EVERY_S", 0.0)  # a line every epoch
    with caplog.at_level("INFO", logger="gpgcn.train"):
        fit_ensemble(builder(problem, s), problem, s, Serial(1, s))
    lines = [r.getMessage() for r in caplog.records]
    assert "training: member 1 of 4, epoch 1, train loss" in lines[0]
    assert "best epoch 1, elapsed 0 s, at most" in lines[0] and lines[0].endswith("s left")
    done = [line for line in lines if line.endswith("(member done)")]
    assert len(done) == 4 and "member 4 of 4, epoch 6" in done[-1] and "at most 0 s left" in done[-1]
