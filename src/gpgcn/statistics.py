"""Accuracy measures and the statistics that choose among models: correlation, the paired
bootstrap, the one-standard-error rule."""

import numpy as np


def pearson_r(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def paired_bootstrap_difference(observed, predicted, reference, n_resamples=2000, seed=0):
    """95 % interval of r(predicted) - r(reference) over the same accessions resampled with
    replacement: how far one test draw can move the difference between two models."""
    observed, predicted, reference = (np.asarray(v, float) for v in (observed, predicted, reference))
    resampled = resampled_r([predicted, reference], observed, n_resamples, seed)
    low, high = np.nanpercentile(resampled[:, 0] - resampled[:, 1], [2.5, 97.5])
    return float(low), float(high)


def resampled_r(candidates, y, n_resamples, seed):
    """[resample, candidate]: each candidate's r with y over the same accessions drawn with
    replacement, one draw per resample (NaN where a draw makes either side constant, as
    `pearson_r`). All resamples at once: a choice among candidates takes hundreds of these, and
    one r at a time was most of a trait's baseline fits."""
    picks = np.random.default_rng(seed).integers(0, len(y), (n_resamples, len(y)))
    return np.column_stack([row_pearson_r(candidate[picks], y[picks]) for candidate in candidates])


def row_pearson_r(a, b, mask=None):
    """`pearson_r` of each row of `a` with the same row of `b` ([rows, n] each), over the columns
    `mask` keeps in that row (all by default); NaN where either side is constant there."""
    mask = np.ones(a.shape, dtype=bool) if mask is None else mask
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    a, b = ((v - np.sum(np.where(mask, v, 0.0), axis=1, keepdims=True) / count) * mask for v in (a, b))
    spread = np.einsum("rn,rn->r", a, a) * np.einsum("rn,rn->r", b, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, np.einsum("rn,rn->r", a, b) / np.sqrt(spread), np.nan)


def within_noise_of_best(candidates, y, n_resamples=200, seed=0):
    """The candidates (predictions of y) whose r is within one standard error of the best one's,
    on the accessions every candidate and y cover, and every candidate's r there. The standard
    error of each difference to the best is a paired bootstrap's; a candidate without an r
    (constant predictions) is never within. Returns (indices, scores); no index where none
    predicts."""
    candidates = np.asarray(candidates, float)
    y = np.asarray(y, float)
    known = np.isfinite(candidates).all(axis=0) & np.isfinite(y)
    candidates, y = candidates[:, known], y[known]
    scores = np.array([pearson_r(c, y) for c in candidates])
    if np.isnan(scores).all():
        return np.array([], dtype=int), scores
    best = int(np.nanargmax(scores))
    resampled = resampled_r(candidates, y, n_resamples, seed)
    differences = resampled - resampled[:, [best]]
    standard_error = np.array([np.std(d[np.isfinite(d)]) if np.isfinite(d).any() else np.nan for d in differences.T])
    return np.flatnonzero(scores >= scores[best] - standard_error), scores


def one_standard_error_choice(candidates, y, complexity=None, n_resamples=200, seed=0):
    """The simplest of `candidates` (predictions of y) whose r is within one standard error of the
    best one's (`within_noise_of_best`: the one-standard-error rule, a more complex candidate wins
    only where the evidence for it is more than noise); among equally simple ones, the best.
    `complexity`: a sortable key per candidate; by default each is simpler than those after it.
    Returns the index and every candidate's r."""
    complexity = list(range(len(candidates))) if complexity is None else list(complexity)
    within, scores = within_noise_of_best(candidates, y, n_resamples, seed)
    if not len(within):
        return int(min(range(len(complexity)), key=complexity.__getitem__)), scores  # none predicts: the simplest
    simplest = min(complexity[i] for i in within)
    return int(max((i for i in within if complexity[i] == simplest), key=scores.__getitem__)), scores


def cross_fitted(candidates, y, folds, choose):
    """Each fold's predictions from the mean of the candidates `choose` picks without that fold
    (`choose(candidates with the fold's predictions NaN)` returns their indices), over those that
    predict each accession. `folds`: each accession's fold (0: none)."""
    candidates = np.asarray(candidates, float)
    combined = np.full(len(y), np.nan)
    for fold in np.unique(folds[folds > 0]):
        held = folds == fold
        combined[held] = mean_where_known(candidates[choose(np.where(held, np.nan, candidates))][:, held])
    return combined


def cross_validated_choice(candidates, y, folds, complexity=None):
    """Out-of-fold predictions that a choice among `candidates` (out-of-fold predictions of y)
    has not flattered: each fold's from the candidate `one_standard_error_choice` picks on the
    other folds. The candidate chosen on all folds predicts them as well as it does partly because
    it was chosen for it; evidence built on its predictions (a stack's weights) would be biased
    towards it. `folds`: each accession's fold (0: none)."""
    return cross_fitted(candidates, y, folds, lambda others: [one_standard_error_choice(others, y, complexity)[0]])


def cross_validated_average(candidates, y, folds):
    """Out-of-fold predictions of the average of the candidates within noise of the best that the
    choice has not flattered: each fold's the mean of those `within_noise_of_best` keeps on the
    other folds (of all, where none predicts there). The candidates kept on all folds include some
    whose scores noise lifted; evidence built on their predictions there (a stack's weights) would
    over-rate their average, as it did the GCN's on small cohorts. `folds`: each accession's fold
    (0: none)."""

    def kept(others):
        found, _ = within_noise_of_best(others, y)
        return found if len(found) else slice(None)

    return cross_fitted(candidates, y, folds, kept)


def mean_where_known(values):
    """The mean over the finite values at each accession (NaN where there is none): a candidate
    without a prediction there (a member that diverged) leaves it to the others."""
    values = np.asarray(values, float)
    known = np.isfinite(values)
    counts = known.sum(axis=0)
    return np.where(counts > 0, np.where(known, values, 0.0).sum(axis=0) / np.maximum(counts, 1), np.nan)


def r_squared(observed, predicted):
    observed, predicted = np.asarray(observed, float), np.asarray(predicted, float)
    return float(1.0 - np.sum((observed - predicted) ** 2) / np.sum((observed - observed.mean()) ** 2))


def rmse(observed, predicted):
    return float(np.sqrt(np.mean((np.asarray(observed, float) - np.asarray(predicted, float)) ** 2)))


def accuracy(observed, predicted, prefix="test"):
    return {
        f"{prefix}_pearson_r": pearson_r(observed, predicted),
        f"{prefix}_r2": r_squared(observed, predicted),
        f"{prefix}_rmse": rmse(observed, predicted),
    }
