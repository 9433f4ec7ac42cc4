"""The stack: the recommended model. It combines the models fitted on the fold (GBLUP, RKHS,
GBLUP + loci, the GCN) with non-negative weights that sum to one: the mean, over bootstrap
resamples of the training accessions, of each resample's least-squares weights on the models'
centred out-of-fold predictions (bagged stacking). Chosen anew in every outer CV fold.

Bagged, not one choice: on a small cohort the models' out-of-fold scores differ by noise, and a
choice of one subset (the rule before: the simplest within one standard error of the best) flips
all or nothing between folds and runs; each flip costs the difference between the models. The
mean over resamples moves by as much as the evidence does. A model that adds nothing gets little
weight (no resample's least squares needs it), and one that is clearly better gets nearly all.
docs/benchmarks/stack_rules.md replays both rules, and others, on every outer fold of the shared
cohorts' runs.

Every model is weighed by out-of-fold predictions of the predictor it deploys, unflattered by its
own choices: the GCN's are the mean of its averaged candidates' members that never learnt from
each accession, the candidates chosen without the accession's inner fold (`gcn.py`); GBLUP +
loci's, its marker count chosen without it (`loci.py`); RKHS's, its bandwidth chosen without it.

The weights sum to one rather than rescale the models: every model predicts on the trait's scale
already, a stack of one model is that model exactly, and a rescaling fitted in each outer fold
would differ between folds and cost r where the folds' predictions are pooled.
"""

import numpy as np
from scipy.optimize import nnls

from . import MODELS
from .fold import FoldFit, ModelFailure

RESAMPLES = 200


def members():
    """The baselines and the graph model (None if there is none), as the registry declares them
    when the stack is fitted."""
    baselines = tuple(name for name, model in MODELS.items() if model.stack_role == "baseline")
    return baselines, next((name for name, model in MODELS.items() if model.stack_role == "graph"), None)


def covered(out_of_fold, y):
    """The accessions every model's out-of-fold predictions and y cover."""
    return np.isfinite(y) & np.all([np.isfinite(p) for p in out_of_fold.values()], axis=0)


def least_squares_weights(columns, y):
    """Non-negative least-squares weights of the centred columns for the centred y, scaled to sum
    to one; equal weights where no column predicts y (all zero)."""
    weights, _ = nnls(columns - columns.mean(axis=0), y - y.mean())
    return weights / weights.sum() if weights.sum() > 0 else np.full(columns.shape[1], 1 / columns.shape[1])


def stack_weights(out_of_fold, y, n_resamples=RESAMPLES, seed=0):
    """{model: weight} (summing to one): the bagged least-squares weights of the models'
    out-of-fold predictions, on the accessions every model and y cover."""
    names = list(out_of_fold)
    if len(names) == 1:
        return {names[0]: 1.0}  # a stack of one model is that model
    known = covered(out_of_fold, y)
    columns, target = np.column_stack([out_of_fold[name][known] for name in names]), y[known]
    rng = np.random.default_rng(seed)
    total = np.zeros(len(names))
    for _ in range(n_resamples):
        pick = rng.integers(0, len(target), len(target))
        total += least_squares_weights(columns[pick], target[pick])
    return dict(zip(names, (total / n_resamples).tolist()))


def fit_fold(fold, settings):
    """The stack of the models fitted on the fold (a failed one has no weight)."""
    baselines, graph_model = members()
    every = (*baselines, *([graph_model] if graph_model else []))
    fitted = [name for name in every if not fold.fits[name].failed]
    if not fitted:
        raise ModelFailure("every model it combines failed")
    weights = stack_weights({name: fold.fits[name].out_of_fold for name in fitted}, fold.y)
    return FoldFit(
        sum(w * fold.fits[name].predicted for name, w in weights.items()),
        sum(w * fold.fits[name].out_of_fold for name, w in weights.items()),
        {
            **{f"weight_{name}": weights.get(name, 0.0) for name in every},
            # The graph model's share of the stack: what it adds.
            **({f"{graph_model}_share": weights.get(graph_model, 0.0)} if graph_model else {}),
        },
    )
