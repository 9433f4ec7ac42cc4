"""Ensemble members trained as one batched model give the predictions they give trained one after
another (same seeds, same dropout draws), each with its own early stopping."""

import dataclasses
import logging

import numpy as np
import pytest
import torch
import yaml

from gpgcn.config.check import config_errors
from gpgcn.gcn.batched import (
    BatchedGCN,
    adjacency,
    fit_ensemble_batched,
    fit_ensembles_batched,
    fit_members,
    member_bytes,
    members_per_batch,
)
from gpgcn.gcn.first_layer import KnownProduct, product
from gpgcn.gcn.strategies import PREDICTION_TOLERANCE, Serial
from gpgcn.gcn.training import fit, fit_ensemble, member_problem

from helpers import REPO, default_config, train_settings
from toy import toy_problem


def with_folds(problem, n_folds):
    """The toy problem's training accessions in `n_folds` inner folds."""
    fold = np.zeros(len(problem.ids), dtype=int)
    train = problem.train_idx.numpy()
    fold[train] = 1 + np.arange(len(train)) % n_folds
    return dataclasses.replace(problem, fold=fold)


def both(problem, offsets=None, **changes):
    """The ensemble trained member after member, and as batched models."""
    torch.set_num_threads(1)
    settings = train_settings(**{"hidden": 16, "dropout": 0.2, "lr": 0.01, "max_epochs": 120, **changes})
    serial = Serial(1, settings)
    problem = serial.prepare(problem)
    build = lambda: serial.build_model(problem, settings)  # noqa: E731
    return fit_ensemble(build, problem, settings, serial, offsets=offsets), fit_ensemble_batched(
        build, problem, settings, offsets=offsets
    )


def assert_same(sequential, batched):
    assert batched.best_epochs == sequential.best_epochs
    np.testing.assert_allclose(batched.predictions, sequential.predictions, atol=PREDICTION_TOLERANCE)
    np.testing.assert_allclose(
        batched.validation_predictions, sequential.validation_predictions, atol=PREDICTION_TOLERANCE
    )
    for key in ("val_loss", "train_loss", "val_r"):
        assert [r[key] for r in batched.epochs] == pytest.approx([r[key] for r in sequential.epochs], abs=1e-5), key


@pytest.mark.parametrize("n_members", [1, 5])
def test_batched_members_predict_as_sequential_ones(n_members):
    problem = with_folds(toy_problem(), max(n_members, 2))
    assert_same(*both(problem, ensemble=n_members > 1, patience=1000))


def test_early_and_late_stoppers_in_one_batch():
    """Patience 5: members stop between a few and a hundred epochs apart, each at its own best."""
    sequential, batched = both(with_folds(toy_problem(), 5), patience=5)
    assert max(sequential.best_epochs) - min(sequential.best_epochs) >= 10
    assert_same(sequential, batched)


def test_members_on_large_folds_stop_after_the_shrunk_patience_as_sequential_ones():
    """Folds larger than `patience_accessions`: each batched member waits the patience its own
    fold's size gives, as it does trained alone."""
    problem = with_folds(toy_problem(), 5)
    sequential, batched = both(problem, patience=10, patience_accessions=1)
    assert_same(sequential, batched)
    settings = train_settings(patience=10, patience_accessions=1)
    for fold, best in zip(problem.folds, batched.best_epochs):
        epochs = [r for r in batched.epochs if r["fold"] == fold]
        assert len(epochs) == best + 1 + settings.patience_for(len(problem.validation_split(fold)[1])) == best + 6


def test_members_learn_around_their_own_fixed_effects():
    problem = with_folds(toy_problem(), 4)
    rng = np.random.default_rng(1)
    offsets = {fold: 0.5 * rng.normal(size=len(problem.ids)) for fold in range(1, 5)}
    assert_same(*both(problem, offsets=offsets, patience=20))


def test_a_batch_over_the_memory_bound_is_split_not_cut(monkeypatch):
    """Room for two members a batch: five members run as batches of 2, 2 and 1, and the ensemble
    is the one trained member after member."""
    from gpgcn.gcn import batched as module

    sizes = []
    real = module.fit_members

    def recording(gcn, problems, folds, settings, label="training"):
        sizes.append(len(problems))
        return real(gcn, problems, folds, settings, label)

    problem = with_folds(toy_problem(), 5)
    settings = train_settings(hidden=16)
    monkeypatch.setattr(module, "BATCH_BYTES", 2 * member_bytes(problem, settings) + 1)
    assert members_per_batch(problem, settings) == 2
    monkeypatch.setattr(module, "fit_members", recording)
    assert_same(*both(problem, patience=10))
    assert sizes == [2, 2, 1]


def test_a_member_whose_loss_diverges_stops_alone(caplog):
    """A target no float holds makes one member's loss infinite at once: it leaves the batch with a
    logged reason and no records, and the others train as they would without it."""
    torch.set_num_threads(1)
    problem = with_folds(toy_problem(), 3)
    settings = train_settings(hidden=16, dropout=0.2, lr=0.01, max_epochs=60, patience=1000)
    serial = Serial(1, settings)
    problems = [member_problem(problem, fold, None) for fold in (1, 2, 3)]
    broken = problems[1].y.clone()
    broken[problems[1].validation_split(2)[0][0]] = float("inf")
    problems[1] = dataclasses.replace(problems[1], y=broken)
    with caplog.at_level(logging.WARNING):
        fitted = fit_members(serial.build_model(problem, settings), problems, [1, 2, 3], settings, "toy")
    assert "toy: member 2 stopped at epoch 0: its loss is not finite" in caplog.text
    assert fitted[1][1] == [] and fitted[1][0].best_pred is None
    for member, fold in ((0, 1), (2, 3)):
        alone, _ = fit(serial.build_model(problem, settings), problems[member], settings, serial, fold)
        np.testing.assert_allclose(fitted[member][0].best_pred, alone.best_pred, atol=PREDICTION_TOLERANCE)


def test_the_batched_model_starts_every_member_from_the_one_gcn():
    settings = train_settings(hidden=8)
    serial = Serial(1, settings)
    problem = serial.prepare(toy_problem())
    gcn = serial.build_model(problem, settings)
    model = BatchedGCN(gcn, 3).eval()
    gcn.eval()
    with torch.no_grad():
        single = gcn(problem.x, problem.edge_index, problem.edge_weight)
        graph = adjacency(problem)
        stacked = model(torch.sparse.mm(graph, problem.x), graph)
    assert stacked.shape == (3, len(problem.ids))
    for member in range(3):
        np.testing.assert_allclose(stacked[member].numpy(), single.numpy(), atol=1e-5)


@pytest.mark.parametrize("value", [0, -3])
def test_batch_members_below_one_is_one_line(value):
    config = default_config()
    config["train"]["batch_members"] = value
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    assert config_errors(config, schema) == [f"train.batch_members = {value}: {value} is less than the minimum of 1"]


def test_a_first_layer_in_bfloat16_learns_what_float32_learns():
    """The same members with their first layer's products in bfloat16: not float32's predictions
    to float rounding (bfloat16 really ran), yet the same fit."""
    sequential, half = both(with_folds(toy_problem(), 5), patience=1000, first_layer_precision="bfloat16")
    difference = np.abs(half.predictions - sequential.predictions)
    assert difference.max() > 10 * PREDICTION_TOLERANCE
    assert difference.mean() < 0.05 * sequential.predictions.std()
    assert np.corrcoef(half.predictions, sequential.predictions)[0, 1] > 0.999
    np.testing.assert_allclose(half.validation_r, sequential.validation_r, atol=0.02)


@pytest.mark.parametrize("through_factor", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_known_product_has_the_products_gradient(dtype, through_factor):
    """The training step's first product, known from the evaluation: the gradient the product
    gives the weight, through the features' factor (basis_t @ weight) where there is one."""
    torch.manual_seed(0)
    features, upstream = torch.randn(30, 5).to(dtype), torch.randn(30, 8)
    basis_t = torch.linalg.qr(torch.randn(12, 5))[0].T.contiguous() if through_factor else None
    weight = torch.randn(12 if through_factor else 5, 8, requires_grad=True)

    def factored(w):
        return w if basis_t is None else basis_t @ w

    (product(features, factored(weight)) * upstream).sum().backward()
    expected, weight.grad = weight.grad, None
    known = product(features, factored(weight)).detach()
    (KnownProduct.apply(features, basis_t, weight, known) * upstream).sum().backward()
    assert known.dtype == torch.float32
    assert torch.equal(weight.grad, expected)


def test_a_first_layer_precision_other_than_float32_or_bfloat16_is_one_line():
    config = default_config()
    config["train"]["first_layer_precision"] = "float16"
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    assert config_errors(config, schema) == [
        "train.first_layer_precision = 'float16': 'float16' is not one of ['float32', 'bfloat16']"
    ]


def test_the_ensembles_of_several_outer_folds_train_in_one_batch():
    """Two outer folds' ensembles (each its own training accessions, inner folds and fixed
    effects) trained as one batch of 8 members: each as its own sequential ensemble."""
    torch.set_num_threads(1)
    settings = train_settings(hidden=16, dropout=0.2, lr=0.01, max_epochs=80, patience=10)
    serial = Serial(1, settings)
    problem = with_folds(toy_problem(), 5)
    outer = [problem.holding_out(problem.fold, held) for held in (1, 2)]
    rng = np.random.default_rng(2)
    offsets = [{f: rng.normal(size=len(problem.ids)) for f in held_out.folds} for held_out in outer]
    build = lambda: serial.build_model(problem, settings)  # noqa: E731
    together = fit_ensembles_batched(build, list(zip(outer, offsets)), settings)
    for held_out, own_offsets, batched in zip(outer, offsets, together):
        assert_same(fit_ensemble(build, held_out, settings, serial, offsets=own_offsets), batched)


def test_members_that_learn_from_the_same_accessions_share_one_trajectory(monkeypatch):
    """Outer fold 1's member stopped on inner fold 2 and outer fold 2's stopped on inner fold 1
    learn from the same accessions with the same target: one trajectory of the batch (8 members on
    7), each stopping on its own fold, each ensemble still its own sequential one."""
    from gpgcn.gcn import batched as module

    torch.set_num_threads(1)
    sizes = []
    monkeypatch.setattr(module, "BatchedGCN", lambda gcn, n, basis=None: sizes.append(n) or BatchedGCN(gcn, n, basis))
    settings = train_settings(hidden=16, dropout=0.2, lr=0.01, max_epochs=80, patience=10)
    serial = Serial(1, settings)
    problem = with_folds(toy_problem(), 5)
    outer = [problem.holding_out(problem.fold, held) for held in (1, 2)]
    build = lambda: serial.build_model(problem, settings)  # noqa: E731
    together = fit_ensembles_batched(build, [(held_out, None) for held_out in outer], settings)
    assert sizes == [7]
    for held_out, batched in zip(outer, together):
        assert_same(fit_ensemble(build, held_out, settings, serial), batched)
    # The shared pair: the same predictions epoch by epoch, each record its own fold's.
    first = [r for r in together[0].epochs if r["fold"] == 2]
    second = [r for r in together[1].epochs if r["fold"] == 1]
    shared = min(len(first), len(second))
    assert [r["train_loss"] for r in first[:shared]] == [r["train_loss"] for r in second[:shared]]
    assert [r["val_loss"] for r in first[:shared]] != [r["val_loss"] for r in second[:shared]]
