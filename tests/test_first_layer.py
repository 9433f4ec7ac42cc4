"""The batched members' first layer through a low-rank factor of the node features
(`train.first_layer_variance`): exact where the factor holds every direction of the features,
the fewest directions holding the share asked for, and only where it costs less."""

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from test_batched import both, with_folds
from test_trait_models import GRAPH, TRAIN, cohort_files, write_cohort

from gpgcn.config.check import config_errors
from gpgcn.gcn.batched import member_bytes
from gpgcn.gcn.first_layer import factored
from gpgcn.gcn.strategies import PREDICTION_TOLERANCE
from gpgcn.models.gcn_candidates import CandidateProblems, candidates
from gpgcn.models.inputs import TraitInputs

from helpers import REPO, default_config, train_settings
from toy import toy_problem


def low_rank_problem(rank=5, n_features=60, noise=1e-3):
    """The toy problem with features of `rank` directions (and a trace of noise in the others)."""
    problem = toy_problem()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(len(problem.ids), rank)) @ rng.normal(size=(rank, n_features))
    x += noise * rng.normal(size=x.shape)
    return dataclasses.replace(problem, x=torch.from_numpy(x.astype(np.float32)), chrom_sizes=[n_features])


def test_a_factor_of_every_direction_trains_the_members_the_features_train():
    """X·W taken as (X·V)·(Vᵀ·W) with V all of X's right singular vectors: the same weights, the
    same Adam steps, so the same members to float rounding (a factor whose components got weights
    of their own would not be: Adam steps each coordinate by its own scale)."""
    problem = with_folds(toy_problem(), 4)
    _, _, vt = np.linalg.svd(problem.x.double().numpy(), full_matrices=False)
    basis = torch.from_numpy(np.ascontiguousarray(vt.T, dtype=np.float32))
    through = dataclasses.replace(problem, x=problem.x @ basis, feature_basis=basis)
    _, plain = both(problem, patience=1000)
    _, factor = both(through, patience=1000)
    assert factor.best_epochs == plain.best_epochs
    np.testing.assert_allclose(factor.predictions, plain.predictions, atol=PREDICTION_TOLERANCE)
    np.testing.assert_allclose(factor.validation_predictions, plain.validation_predictions, atol=PREDICTION_TOLERANCE)


def test_the_factor_keeps_the_fewest_directions_that_hold_the_share():
    problem = low_rank_problem(rank=5)
    factor = factored(problem, 0.999)
    assert factor.x.shape == (len(problem.ids), 5)
    assert factor.feature_basis.shape == (60, 5)
    np.testing.assert_allclose(factor.feature_basis.T @ factor.feature_basis, np.eye(5), atol=1e-5)
    scale = problem.x.abs().max().item()
    np.testing.assert_allclose(factor.x @ factor.feature_basis.T, problem.x, atol=0.01 * scale)
    assert factored(problem, 0.5).x.shape[1] < 5


def test_the_features_stay_as_they_are_where_a_factor_would_cost_more():
    """The toy's 30 independent features need 29 of 30 directions for 99.9 %: (200 + 30) × 29
    is more than 200 × 30."""
    problem = toy_problem()
    assert factored(problem, 0.999) is problem
    assert factored(low_rank_problem(), 1.0).feature_basis is None


def test_a_members_first_weight_is_counted_on_the_features_not_the_factor():
    problem = low_rank_problem()
    settings = train_settings()
    assert member_bytes(factored(problem, 0.999), settings) == member_bytes(problem, settings)


def test_the_factor_moves_with_its_problem():
    moved = factored(low_rank_problem(), 0.999).to("meta")
    assert moved.feature_basis.device.type == "meta" and moved.x.device.type == "meta"


@pytest.mark.parametrize("value, message", [(0, "less than or equal to the minimum of 0"), (1.5, "greater than")])
def test_a_first_layer_variance_outside_0_to_1_is_one_line(value, message):
    config = default_config()
    config["train"]["first_layer_variance"] = value
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    errors = config_errors(config, schema)
    assert len(errors) == 1 and errors[0].startswith(f"train.first_layer_variance = {value}: ") and message in errors[0]


def test_each_candidate_trains_through_the_configured_factor(tmp_path):
    """The per-trait job's candidate problems: write_cohort's GRM rows through the factor that
    holds half their sum of squares, and as they are with `first_layer_variance: 1`."""
    write_cohort(tmp_path)
    inputs = TraitInputs(**cohort_files(tmp_path, genotyped=False))
    for variance, through_factor in ((0.5, True), (1.0, False)):
        candidate = candidates({**TRAIN, "first_layer_variance": variance}, GRAPH, [{}])[0]
        problem = CandidateProblems(inputs, 4).problem(candidate)
        assert (problem.feature_basis is not None) is through_factor
        assert problem.edge_index is not None
