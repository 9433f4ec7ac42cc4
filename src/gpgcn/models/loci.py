"""GBLUP + loci: GBLUP with the m markers of largest effect as fixed effects, for traits where a
few loci carry much of the variance and GBLUP's kinship spreads their effects thin.

The markers come from a GRM-corrected association scan (EMMAX: the null model's variance ratio
by REML, each marker's generalised-least-squares t at that ratio, covariates fitted beside it)
of the accessions the fit learns from, discoveries only (Benjamini-Hochberg, 5 %); m is the
count of `select.loci_counts` whose out-of-fold r over the inner CV folds is within one standard
error of the best, the smallest such (m = 0 is GBLUP). Its fixed effects fitted without each
inner fold are what the GCN learns around (`models.gcn`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data.covariates import new_part
from ..data.genotypes import centred
from ..errors import InputError
from ..statistics import cross_validated_choice, one_standard_error_choice
from .fold import FoldFit

SCAN_BLOCK = 20_000  # markers rotated at a time: bounds the scan's memory
MAX_R2 = 0.95  # two markers in higher LD are one locus
# A fixed effect is not shrunk: a marker that tops a scan by chance (the rule, not the exception
# in a hundred accessions) enters with an inflated effect and costs accuracy. Only discoveries at
# this false discovery rate may enter: with no real locus none is one but by a 5 % chance (as
# with Bonferroni), and where several are real, markers beside them pass more easily.
FALSE_DISCOVERY_RATE = 0.05
NO_MARKERS = "no genotypes to scan: GBLUP + loci is GBLUP"


@dataclass
class Markers:
    """Every accession's centred dosages (missing calls at the mean), split order, and the
    markers' sites (chrom, pos, id)."""

    dosage: np.ndarray
    sites: pd.DataFrame

    @classmethod
    def load(cls, matrix_paths, snps_paths):
        dosage = np.concatenate([centred(np.load(path))[0] for path in matrix_paths], axis=1)
        sites = pd.concat(
            [pd.read_csv(path, sep="\t", dtype={"chrom": str, "id": str}) for path in snps_paths], ignore_index=True
        )
        return cls(dosage, sites[["chrom", "pos", "id"]])

    def names(self, columns):
        """The markers' IDs, or chrom:pos where a marker has none."""
        sites = self.sites.iloc[columns]
        ids = sites["id"].astype(str)
        return [i if i not in ("", ".", "nan") else f"{c}:{p}" for i, c, p in zip(ids, sites["chrom"], sites["pos"])]

    def check_counts(self, counts):
        if max(counts) > self.dosage.shape[1]:
            raise InputError(
                "select.loci_counts", f"{max(counts)} markers asked for, but the genotypes hold {self.dosage.shape[1]}"
            )


def association(split_kinship, y, fit_mask, markers):
    """Each marker's t statistic on `fit_mask`'s accessions: GLS at the null model's REML
    variance ratio, in the kinship's eigenbasis, the fixed-effect design projected out; and its
    degrees of freedom."""
    null, x = split_kinship.fit(y, fit_mask)
    s, u = split_kinship.eigen(fit_mask, null.ratios)
    root_w = 1.0 / np.sqrt(s + null.delta)
    basis, _ = np.linalg.qr((u.T @ x[fit_mask]) * root_w[:, None])
    uy = (u.T @ y[fit_mask]) * root_w
    uy -= basis @ (basis.T @ uy)
    dof = fit_mask.sum() - x.shape[1] - 1
    t = np.empty(markers.shape[1])
    # The markers' rotation, the scan's one large product, in float32: twice as fast, and each t
    # moves by ~1e-6 (the null model and all after the rotation stay float64).
    rotation = u.T.astype(np.float32)
    for start in range(0, markers.shape[1], SCAN_BLOCK):
        block = markers[fit_mask, start : start + SCAN_BLOCK].astype(np.float32)
        um = (rotation @ block).astype(float) * root_w[:, None]
        um -= basis @ (basis.T @ um)
        spread = np.sum(um**2, axis=0)
        dot = um.T @ uy
        safe = np.where(spread > 1e-12, spread, 1.0)
        beta = dot / safe
        residual = np.maximum(uy @ uy - beta * dot, 1e-300) / max(dof, 1)
        t[start : start + SCAN_BLOCK] = np.where(spread > 1e-12, beta / np.sqrt(residual / safe), 0.0)
    return t, dof


def discovery_threshold(t, dof):
    """|t| a marker must reach to be a locus: the Benjamini-Hochberg step-up at
    FALSE_DISCOVERY_RATE over every marker's two-sided p; infinite where none passes."""
    # No marker with p above the rate itself passes at any rank: only those below it (a margin
    # for rounding) are sorted and given a p, the strongest of every marker's ranks.
    reach = stats.t.isf(FALSE_DISCOVERY_RATE / 2, max(dof, 1)) * (1 - 1e-9)
    strongest = np.sort(np.abs(t[np.abs(t) >= reach]))[::-1]
    p = 2 * stats.t.sf(strongest, max(dof, 1))  # ascending, as |t| descends
    passed = np.flatnonzero(p <= FALSE_DISCOVERY_RATE * np.arange(1, len(p) + 1) / len(t))
    return float(strongest[passed[-1]]) if len(passed) else np.inf


def top_markers(split_kinship, y, fit_mask, markers, m):
    """The m markers of largest |t| on `fit_mask`, strongest first, and their t; fewer where fewer
    are discoveries (`discovery_threshold`). A marker in near-complete LD with one taken already (r² >
    MAX_R2 on `fit_mask`), or that the fixed effects and the markers taken already determine
    completely (complete LD with several, or with a covariate), marks a locus taken already and is
    passed over: it would spend the count m on nothing, and alias a fixed effect."""
    if m == 0:
        return np.array([], dtype=int), np.array([])
    t, dof = association(split_kinship, y, fit_mask, markers)
    threshold = discovery_threshold(t, dof)
    basis = split_kinship.effects.design(fit_mask)[2]
    chosen = []
    discoveries = np.flatnonzero(np.abs(t) >= threshold)
    for j in discoveries[np.argsort(-np.abs(t[discoveries]), kind="stable")]:
        column = markers[fit_mask, j]
        if column.std() == 0:
            continue  # constant on these accessions: its t is rounding, not a locus
        if any(np.corrcoef(column, markers[fit_mask, k])[0, 1] ** 2 > MAX_R2 for k in chosen):
            continue
        part = new_part(basis, column)
        if part is None:
            continue
        chosen.append(j)
        basis = np.column_stack([basis, part])
        if len(chosen) == m:
            break
    chosen = np.array(chosen, dtype=int)
    return chosen, t[chosen]


def fit_with_markers(split_kinship, y, fit_mask, markers, chosen):
    """GBLUP with the `chosen` markers (a Markers' columns) as fixed effects: the fit, every
    accession's prediction and the part the GCN learns around (Xβ and its random covariates'
    BLUPs)."""
    extra = (markers.dosage[:, chosen], markers.names(chosen)) if len(chosen) else (None, None)
    fit, x, predicted = split_kinship.fit_predict(y, fit_mask, *extra)
    return fit, predicted, x @ fit.beta + split_kinship.random_part(fit, fit_mask)


def fits_by_count(kinship, y, fit_mask, markers, dosage, counts):
    """{m: `fit_with_markers`' (fit, predictions, fixed part)} for each count of `counts` on
    `fit_mask`. Counts beyond the discoveries take the same markers: one fit serves them (without a
    discovery, the usual case, one GBLUP fit serves every count)."""
    ranked, _ = top_markers(kinship, y, fit_mask, dosage, max(counts))
    fitted = {}
    for m in counts:
        taken = min(m, len(ranked))
        if taken not in fitted:
            fitted[taken] = fit_with_markers(kinship, y, fit_mask, markers, ranked[:taken])
    return {m: fitted[min(m, len(ranked))] for m in counts}


def fit_fold(fold, settings):
    """GBLUP + loci on the fold's training accessions, m chosen over its inner folds."""
    counts, kinship, dosage = sorted(settings["loci_counts"]), fold.kinship, None
    if fold.markers is None:
        counts = [0]
    else:
        fold.markers.check_counts(counts)
        dosage = fold.markers.dosage
    trained = fold.folds > 0
    n = len(fold.y)
    out_of_fold = {m: np.full(n, np.nan) for m in counts}
    fixed = {m: {} for m in counts}
    for inner, held, fit_mask in fold.inner_folds():
        fitted = fold.inner_fit(
            "gblup_loci", fit_mask, lambda mask: fits_by_count(kinship, fold.y, mask, fold.markers, dosage, counts)
        )
        for m in counts:
            _, predicted, fixed[m][inner] = fitted[m]
            out_of_fold[m][held] = predicted[held]
    by_count = [out_of_fold[m] for m in counts]
    choice, _ = one_standard_error_choice(by_count, fold.y, counts)
    m = counts[choice]
    # The stack weighs GBLUP + loci by predictions whose m was not chosen on them.
    evidence = cross_validated_choice(by_count, fold.y, fold.folds, counts)
    chosen, t = top_markers(kinship, fold.y, trained, dosage, m)
    fit, predicted, _ = fit_with_markers(kinship, fold.y, trained, fold.markers, chosen)
    # Per allele, on the trait's own scale (top_markers took no marker the fit would alias).
    effects = fit.beta[len(fit.beta) - len(chosen) :] * fold.problem.y_sd if len(chosen) else []
    loci = [
        {
            "rank": rank,
            "chrom": str(fold.markers.sites["chrom"].iat[j]),
            "pos": int(fold.markers.sites["pos"].iat[j]),
            "id": str(fold.markers.sites["id"].iat[j]),
            "effect": float(effect),
            "t": float(t[rank - 1]),
        }
        for rank, (j, effect) in enumerate(zip(chosen, effects), 1)
    ]
    # The markers taken: m, or fewer where fewer are discoveries.
    details = {"loci": loci, "note": None if fold.markers is not None else NO_MARKERS}
    return FoldFit(predicted, evidence, {"loci_m": len(chosen)}, details=details, offsets=fixed[m])
