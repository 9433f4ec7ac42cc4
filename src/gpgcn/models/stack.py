"""The stack: the recommended model. Candidate stacks are the non-empty subsets of the baselines
(GBLUP, RKHS, GBLUP + loci), then each of those with the GCN; each is combined with non-negative
weights (least squares on the centred out-of-fold predictions inside the training accessions),
scaled to sum to one. The stack chosen is the simplest whose out-of-fold r is within one
standard error of the best (`metrics.one_standard_error_choice`), and the best-scoring of those
as simple: simpler is without the GCN, then fewer models. So a model joins only where the
evidence for it is more than noise, and of baselines equally simple the better one stands (not
the first listed). A stack counts the models its weights use, and one whose weights leave only
the GCN is no candidate. Chosen anew in every outer CV fold.

The GCN enters only beside a baseline: its out-of-fold predictions come from single ensemble
members, noisier than the ensemble that predicts new accessions, so they are evidence for a
share of the stack, not for replacing it (measured on wheat: fold-to-fold swings of ±0.1 in r
made "GCN alone" win folds it then lost on the held-out accessions).

The weights sum to one rather than rescale the models: every model predicts on the trait's scale
already, a stack of one model is that model exactly, and a rescaling fitted in each outer fold
would differ between folds and cost r where the folds' predictions are pooled.
"""

from itertools import combinations

import numpy as np
from scipy.optimize import nnls

from ..statistics import one_standard_error_choice
from . import MODELS
from .fold import FoldFit, ModelFailure


def members():
    """The baselines and the graph model (None if there is none), as the registry declares them
    when the stack is fitted."""
    baselines = tuple(name for name, model in MODELS.items() if model.stack_role == "baseline")
    return baselines, next((name for name, model in MODELS.items() if model.stack_role == "graph"), None)


def subsets(names):
    """Every non-empty subset, smallest first (each in the order of `names`)."""
    return [subset for size in range(1, len(names) + 1) for subset in combinations(names, size)]


def candidate_stacks(baselines, graph_model=None):
    """The baselines' subsets, then each with the graph model (if any): simplest first."""
    alone = subsets(baselines)
    return alone + ([(*subset, graph_model) for subset in alone] if graph_model else [])


def stack_weights(out_of_fold, y):
    """{model: weight} of the chosen subset (summing to one), from out-of-fold predictions by model."""
    names = list(out_of_fold)
    graph_model = members()[1]
    known = np.isfinite(y) & np.all([np.isfinite(p) for p in out_of_fold.values()], axis=0)
    fitted, combined, complexity = [], [], []
    graph = graph_model if graph_model in names else None
    for subset in candidate_stacks([n for n in names if n != graph_model], graph):
        if len(subset) == 1:
            weights = np.ones(1)  # a stack of one model is that model
        else:
            columns = np.column_stack([out_of_fold[name][known] for name in subset])
            weights, _ = nnls(columns - columns.mean(axis=0), y[known] - y[known].mean())
            weights = weights / weights.sum() if weights.sum() > 0 else weights
        used = {name for name, w in zip(subset, weights) if w > 0}
        if not used - {graph_model}:
            continue  # the GCN alone, or nothing at all
        # As simple as the models it weighs: one the weights leave out does not count.
        complexity.append((graph_model in used, len(used)))
        fitted.append(dict(zip(subset, weights.tolist())))
        combined.append(np.column_stack([out_of_fold[name] for name in subset]) @ weights)
    choice, _ = one_standard_error_choice(combined, y, complexity)
    return {name: fitted[choice].get(name, 0.0) for name in names}


def fit_fold(fold, settings):
    """The stack of the models fitted on the fold (a failed one has no weight)."""
    baselines, graph_model = members()
    every = (*baselines, *([graph_model] if graph_model else []))
    fitted = [name for name in every if not fold.fits[name].failed]
    if not set(fitted) - {graph_model}:
        raise ModelFailure("every baseline failed")
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
