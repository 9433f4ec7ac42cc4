"""The batched members' first layer, their dominant cost (nodes × features × members × hidden per
product, two products an epoch): the precision it is taken in, and the low-rank factor it is
taken through.

`train.first_layer_variance`: GRM rows and SNP dosages of a large cohort hold nearly all their sum
of squares in far fewer directions than they have columns (docs/benchmarks/first_layer.md). With
the features X ≈ (X·V)·Vᵀ, V the fewest right singular vectors holding that share, the product
X·W is taken as (X·V)·(Vᵀ·W), at (nodes + features) × components instead of nodes × features.
The members' weights W stay what they were: the same start, Adam's steps on the same coordinates,
the same weight decay; only the product goes through the factor. Keeping every vector is exact to
float rounding, keeping fewer drops the directions the features barely vary in.

Not the components X·V as features with weights of their own: Adam steps each coordinate by its
own scale, so in the components' basis it moves the weights of the smallest components as fast
as the largest's, and the members fitted noise (tried on default_cost.md's simulated cohort: the
GCN's CV r fell on three of its four traits; not kept).
"""

import dataclasses

import numpy as np
import torch

# `train.first_layer_precision`: the dtype the node features are held in for the first layer's products.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def product(features, weight):
    """features @ weight in the features' precision (float32 or bfloat16: `first_layer_precision`),
    the sums in float32 either way, the result in float32; its gradient for `weight` likewise."""
    return (features @ weight.to(features.dtype)).float()


class KnownProduct(torch.autograd.Function):
    """`product(features, basis_t @ weight)` (`basis_t` None: no factor, `weight` as it is) whose
    value is already known: the forward pass takes it as it is, computing neither the product nor
    the weight through the factor, and the backward pass gives `weight` the gradient the product
    would (the features need none)."""

    @staticmethod
    def forward(ctx, features, basis_t, weight, known):
        ctx.save_for_backward(features, basis_t)
        return known.clone()

    @staticmethod
    def backward(ctx, grad):
        features, basis_t = ctx.saved_tensors
        weight_grad = product(features.T, grad)
        return None, None, weight_grad if basis_t is None else basis_t.T @ weight_grad, None


def directions(singular, share):
    """How many of the singular values (in descending order) hold `share` of their sum of squares."""
    held = np.cumsum(singular**2) / np.sum(singular**2)
    return min(int(np.searchsorted(held, share - 1e-12)) + 1, len(singular))


def factor_cost(n_nodes, n_features, components):
    """The first layer's product through a factor of `components` directions, as a share of X·W's
    multiply-adds: (nodes + features) × components against nodes × features."""
    return (n_nodes + n_features) * components / (n_nodes * n_features)


def factored(problem, variance):
    """The problem with its node features X as X·V and V kept (`Problem.feature_basis`), V the
    fewest right singular vectors of X holding `variance` of its sum of squares; the problem as it
    is where that would not make the first layer's product cheaper."""
    n_nodes, n_features = problem.x.shape
    _, singular, vt = np.linalg.svd(problem.x.double().cpu().numpy(), full_matrices=False)
    components = directions(singular, variance)
    if factor_cost(n_nodes, n_features, components) >= 1:
        return problem
    basis = torch.from_numpy(np.ascontiguousarray(vt[:components].T, dtype=np.float32)).to(problem.x.device)
    return dataclasses.replace(problem, x=problem.x @ basis, feature_basis=basis)
