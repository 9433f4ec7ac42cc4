"""RKHS regression with a Gaussian kernel: K = exp(−d² / (h · median d²)), d the distance between
two accessions' genotypes (through the relationship matrix, `SplitKinship.squared_distances`),
the median over pairs of the accessions fitted to. The bandwidth multiple h is the one of
BANDWIDTHS whose REML likelihood is highest on those accessions, and the variance ratio is REML's,
as in GBLUP (same fixed effects and random covariates): both chosen inside the accessions the
fit learns from.
"""

import numpy as np

from .fold import FoldFit

# Powers of two: each kernel is the square of the next wider one's, one exp for them all.
BANDWIDTHS = tuple(2.0**power for power in range(-2, 4))
MIDDLE = 1.0


def kernels(split_kinship, fit_mask):
    """The Gaussian kernel of each bandwidth multiple, scaled on `fit_mask`'s pairs."""
    distances = split_kinship.squared_distances()
    among = distances[np.ix_(fit_mask, split_kinship.column[fit_mask])]
    median = float(np.median(among[np.triu_indices(len(among), 1)]))
    found = {BANDWIDTHS[-1]: np.exp(-distances / (BANDWIDTHS[-1] * median))}
    for wider, h in zip(BANDWIDTHS[:0:-1], BANDWIDTHS[-2::-1]):
        found[h] = found[wider] * found[wider]
    return {h: split_kinship.with_kernel(found[h]) for h in BANDWIDTHS}


def fit_rkhs(split_kinship, y, fit_mask):
    """(bandwidth multiple, every accession's prediction) of the most likely kernel. Random
    covariates' ratios are chosen once, at the middle bandwidth, and kept for the others."""
    best, found = None, kernels(split_kinship, fit_mask)
    ratios = found[MIDDLE].ratios(y, fit_mask)
    for h, kernel in found.items():
        fit, _, predicted = kernel.fit_predict(y, fit_mask, ratios=ratios)
        if best is None or fit.loglik > best[0]:
            best = (fit.loglik, h, predicted)
    return best[1:]


def fit_fold(fold, settings):
    """RKHS on the fold's training accessions, and on each inner fold's complement (its bandwidth
    chosen again there)."""
    trained = fold.folds > 0
    bandwidth, predicted = fit_rkhs(fold.kinship, fold.y, trained)
    out_of_fold = np.full(len(fold.y), np.nan)
    for _, held, fit_mask in fold.inner_folds():
        _, predicted_without = fold.inner_fit("rkhs", fit_mask, lambda mask: fit_rkhs(fold.kinship, fold.y, mask))
        out_of_fold[held] = predicted_without[held]
    return FoldFit(predicted, out_of_fold, {"rkhs_bandwidth": bandwidth})
