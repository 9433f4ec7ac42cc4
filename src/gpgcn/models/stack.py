"""The stack: the recommended model. Candidate stacks are the non-empty subsets of the models it
combines (GBLUP, RKHS, GBLUP + loci, the GCN); each is combined with non-negative weights (least
squares on the centred out-of-fold predictions inside the training accessions), scaled to sum to
one. The stack chosen is the simplest whose out-of-fold r is within one standard error of the
best (`statistics.one_standard_error_choice`), and the best-scoring of those as simple: simpler
is fewer models. So a model joins only where the evidence for it is more than noise, and of
stacks equally simple the better one stands (not the first listed): where one model is best, it
is the stack. A stack counts the models its weights use. Chosen anew in every outer CV fold.

Every model is weighed by out-of-fold predictions of the predictor it deploys: the GCN's are
the mean of the averaged candidates' members that never learnt from each accession (`gcn.py`).
Its members alone would be noisier than the ensemble that predicts new accessions, and a
rule that counts noise against a model cannot see its gains: with single members' evidence, and
the GCN counted as more complex than any baseline, the stack kept GBLUP where the GCN was clearly
better (`test_the_gcn_counts_as_one_model_in_the_stack`).

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


def stack_weights(out_of_fold, y):
    """{model: weight} of the chosen subset (summing to one), from out-of-fold predictions by model."""
    names = list(out_of_fold)
    known = np.isfinite(y) & np.all([np.isfinite(p) for p in out_of_fold.values()], axis=0)
    fitted, combined, complexity = [], [], []
    for subset in subsets(names):
        if len(subset) == 1:
            weights = np.ones(1)  # a stack of one model is that model
        else:
            columns = np.column_stack([out_of_fold[name][known] for name in subset])
            weights, _ = nnls(columns - columns.mean(axis=0), y[known] - y[known].mean())
            weights = weights / weights.sum() if weights.sum() > 0 else weights
        # As simple as the models it weighs: one the weights leave out does not count.
        complexity.append(int((weights > 0).sum()) or len(subset))
        fitted.append(dict(zip(subset, weights.tolist())))
        combined.append(np.column_stack([out_of_fold[name] for name in subset]) @ weights)
    choice, _ = one_standard_error_choice(combined, y, complexity)
    return {name: fitted[choice].get(name, 0.0) for name in names}


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
