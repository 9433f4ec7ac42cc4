"""GBLUP with REML variance components, through one eigendecomposition of the kinship.

Model: y = Xβ + g + e, g ~ N(0, σg² K), e ~ N(0, σe² I). With K = U S Uᵀ every REML
evaluation for a variance ratio δ = σe²/σg² is O(n) after the O(n³) decomposition.
"""

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from ..errors import InputError
from ..io import write_json, write_tsv
from ..kinship import read_kinship
from ..metrics import model_record, pearson_r
from ..phenotypes import cv_repeat_columns
from .fold import FoldFit

log = logging.getLogger(__name__)

LOG_DELTA_RANGE = (-10.0, 10.0)


@dataclass
class GBLUPFit:
    beta: np.ndarray  # fixed effects
    delta: float  # σe² / σg²
    sigma_g2: float
    sigma_e2: float
    alpha: np.ndarray  # (K + δI)⁻¹ (y - Xβ): BLUP weights on the training accessions
    loglik: float

    def heritability(self, mean_diagonal=1.0):
        """Genomic heritability on the scale of a kinship whose mean diagonal is given."""
        vg = self.sigma_g2 * mean_diagonal
        return vg / (vg + self.sigma_e2)

    def predict(self, k_new_train, x_new=None):
        """Predictions for new accessions from their kinship with the training accessions."""
        k_new_train = np.atleast_2d(k_new_train)
        x_new = np.ones((k_new_train.shape[0], 1)) if x_new is None else x_new
        return x_new @ self.beta + k_new_train @ self.alpha


class _Eigen:
    """The REML pieces for one kinship, y and X, in the kinship's eigenbasis."""

    def __init__(self, kinship, y, x):
        self.s, self.u = np.linalg.eigh(kinship)
        self.s = np.clip(self.s, 0.0, None)
        self.uy = self.u.T @ y
        self.ux = self.u.T @ x
        self.n, self.q = x.shape

    def terms(self, delta):
        w = 1.0 / (self.s + delta)
        xhx = (self.ux * w[:, None]).T @ self.ux
        xhy = (self.ux * w[:, None]).T @ self.uy
        beta = np.linalg.solve(xhx, xhy)
        yhy = self.uy @ (w * self.uy)
        ypy = yhy - xhy @ beta
        return w, xhx, beta, ypy

    def loglik(self, delta):
        """REML log-likelihood with σg² profiled out (constants dropped)."""
        w, xhx, _, ypy = self.terms(delta)
        dof = self.n - self.q
        return -0.5 * (dof * np.log(ypy / dof) + dof - np.sum(np.log(w)) + np.linalg.slogdet(xhx)[1])


def fit_gblup(kinship, y, x=None):
    kinship = np.asarray(kinship, dtype=float)
    y = np.asarray(y, dtype=float)
    x = np.ones((len(y), 1)) if x is None else np.asarray(x, dtype=float)
    eig = _Eigen(kinship, y, x)
    grid = np.linspace(*LOG_DELTA_RANGE, 81)
    values = [eig.loglik(np.exp(g)) for g in grid]
    best = int(np.argmax(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = minimize_scalar(lambda g: -eig.loglik(np.exp(g)), bounds=(lo, hi), method="bounded")
    log_delta = result.x if -result.fun >= values[best] else grid[best]
    delta = float(np.exp(log_delta))
    w, _, beta, ypy = eig.terms(delta)
    sigma_g2 = ypy / (eig.n - eig.q)
    residual = eig.uy - eig.ux @ beta
    alpha = eig.u @ (w * residual)
    return GBLUPFit(beta, delta, float(sigma_g2), float(sigma_g2 * delta), alpha, float(eig.loglik(delta)))


class SplitKinship:
    """The kinship between every accession of a split (rows, split order) and its training
    accessions (columns): all GBLUP needs to fit on any subset of the training accessions and
    predict every accession."""

    def __init__(self, kinship_path, split, split_path):
        kinship, rows, cols = read_kinship(kinship_path)
        missing = [i for i in split["ID"] if i not in set(rows)]
        if missing:
            raise InputError(
                kinship_path, f"accessions of {split_path} missing from the kinship's rows: {', '.join(missing[:10])}"
            )
        self.train = split["set"].eq("train").to_numpy()
        training = list(split["ID"][self.train])
        not_columns = [a for a in training if a not in set(cols)]
        if not_columns:
            raise InputError(
                kinship_path, f"training accessions missing from the kinship's columns: {', '.join(not_columns[:10])}"
            )
        row_of = {a: i for i, a in enumerate(rows)}
        col_of = {a: i for i, a in enumerate(cols)}
        self.k = kinship[np.ix_([row_of[a] for a in split["ID"]], [col_of[a] for a in training])]
        self.column = np.full(len(split), -1)
        self.column[self.train] = np.arange(self.train.sum())

    def fit(self, y, fit_mask):
        """REML GBLUP on the accessions of `fit_mask` (training accessions only)."""
        columns = self.column[fit_mask]
        return fit_gblup(self.k[np.ix_(fit_mask, columns)], y[fit_mask]), columns

    def predict(self, y, fit_mask):
        """Predictions for every accession from GBLUP fitted on `fit_mask`."""
        fit, columns = self.fit(y, fit_mask)
        return fit.predict(self.k[:, columns])

    def out_of_fold(self, y, folds):
        """Each accession with a fold (> 0) predicted by GBLUP fitted on the other folds; NaN elsewhere."""
        predicted = np.full(len(y), np.nan)
        for fold in np.unique(folds[folds > 0]):
            held = folds == fold
            predicted[held] = self.predict(y, (folds > 0) & ~held)[held]
        return predicted


def gblup_stage(kinship_path, split_path, metrics_path, predictions_path):
    start = time.perf_counter()
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    kinship = SplitKinship(kinship_path, split, split_path)
    train, test = kinship.train, split["set"].eq("test").to_numpy()
    y = split["y"].to_numpy(float)
    fit, columns = kinship.fit(y, train)
    predicted = fit.predict(kinship.k[:, columns])
    h2 = fit.heritability(float(np.mean(np.diag(kinship.k[train]))))
    log.info("REML: delta=%.4g sigma_g2=%.4g sigma_e2=%.4g h2=%.3f", fit.delta, fit.sigma_g2, fit.sigma_e2, h2)
    predictions = pd.DataFrame({"ID": split["ID"], "observed": y, "predicted": predicted, "set": split["set"]})
    write_tsv(predictions_path, predictions, float_format="%.6g")
    cv = [
        pearson_r(kinship.out_of_fold(y, folds)[folds > 0], y[folds > 0])
        for folds in (split[c].to_numpy() for c in cv_repeat_columns(split))
    ]
    metrics = model_record(
        model="gblup",
        observed=y[test],
        predicted=predicted[test],
        n_train=train.sum(),
        seconds_total=time.perf_counter() - start,
        cv_scores=cv,
        reml={"delta": fit.delta, "sigma_g2": fit.sigma_g2, "sigma_e2": fit.sigma_e2, "h2": h2},
    )
    write_json(metrics_path, metrics)


def fit_fold(fold):
    """GBLUP on the fold's training accessions, and on each inner fold's complement."""
    return FoldFit(fold.gblup.predict(fold.y, fold.folds > 0), fold.gblup.out_of_fold(fold.y, fold.folds))
