"""The hybrid, w · GCN + (1 − w) · GBLUP, its weight chosen from their out-of-fold predictions
inside the training accessions (`metrics.blend_weight`: the smallest w within one standard error
of the best)."""

from ..metrics import blend_weight
from .fold import FoldFit


def fit_fold(fold):
    gcn, gblup = fold.fits["gcn"], fold.fits["gblup"]
    weight, weight_r = blend_weight(gcn.out_of_fold, gblup.out_of_fold, fold.y)
    return FoldFit(
        weight * gcn.predicted + (1 - weight) * gblup.predicted,
        weight * gcn.out_of_fold + (1 - weight) * gblup.out_of_fold,
        {"gcn_weight": weight, "gcn_weight_out_of_fold_r": weight_r},
    )
