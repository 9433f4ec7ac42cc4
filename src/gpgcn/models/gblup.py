"""GBLUP with REML variance components, through one decomposition of the kinship.

Model: y = Xβ + g + e, g ~ N(0, σg² K), e ~ N(0, σe² I). With K = U S Uᵀ, or K = Q T Qᵀ with
T tridiagonal, every REML evaluation for a variance ratio δ = σe²/σg² is O(n) after the O(n³)
decomposition.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigvalsh_tridiagonal, lapack
from scipy.optimize import minimize_scalar

from .fold import FoldFit

LOG_DELTA_RANGE = (-10.0, 10.0)
BLOCK = 64  # dormqr's workspace per column
# A kernel whose lowest eigenvalue is above -PSD_TOLERANCE x its largest is positive semi-definite
# to rounding.
PSD_TOLERANCE = 1e-9


@dataclass
class GBLUPFit:
    beta: np.ndarray  # fixed effects
    delta: float  # σe² / σg²
    sigma_g2: float
    sigma_e2: float
    alpha: np.ndarray  # (K + δI)⁻¹ (y - Xβ): BLUP weights on the training accessions
    loglik: float
    ratios: tuple = ()  # random covariates' σc² / σg², in K (split_kinship.SplitKinship)

    def variances(self, mean_diagonal=1.0):
        """The phenotypic variance's parts: the genomic values' (on a kinship whose mean diagonal
        is given), each random covariate's (its C's diagonal is 1 on every accession fitted, as
        each has a level) and the residual."""
        return self.sigma_g2 * mean_diagonal, [ratio * self.sigma_g2 for ratio in self.ratios], self.sigma_e2

    def predict(self, k_new_train, x_new=None):
        """Predictions for new accessions from their kinship with the training accessions."""
        k_new_train = np.atleast_2d(k_new_train)
        x_new = np.ones((k_new_train.shape[0], 1)) if x_new is None else x_new
        return x_new @ self.beta + k_new_train @ self.alpha


def decompose(kinship):
    """Eigenvalues (clipped at 0) and eigenvectors of a relationship matrix."""
    s, u = np.linalg.eigh(np.asarray(kinship, dtype=float))
    return np.clip(s, 0.0, None), u


@dataclass
class Tridiagonal:
    """K = Q T Qᵀ, T tridiagonal (LAPACK's sytrd, K's lower triangle): Q as Householder
    reflectors in QR layout on every row but the first (Q = diag(1, Q′)), T as its diagonal `d`
    and off-diagonal `e`."""

    reflectors: np.ndarray
    tau: np.ndarray
    d: np.ndarray
    e: np.ndarray

    def rotate(self, b, trans):
        """Qᵀ b (`trans` "T") or Q b ("N"), b a matrix."""
        out = np.array(b, dtype=float, order="F")
        work = max(1, out.shape[1]) * BLOCK
        out[1:], _, info = lapack.dormqr("L", trans, self.reflectors, self.tau, out[1:], work)
        if info:
            raise np.linalg.LinAlgError(f"dormqr failed ({info})")
        return out


def tridiagonalise(kernel):
    """A kernel fitted once, as `Tridiagonal`: REML and the BLUP need no eigenvectors, which are
    what an eigendecomposition adds to this reduction. Where the kernel is not positive
    semi-definite to rounding, its eigendecomposition (`decompose`, which clips what is
    negative) instead."""
    k = np.asarray(kernel, dtype=float)
    if len(k) < 3:  # too few accessions for sytrd's layout of reflectors
        return decompose(k)
    work = int(lapack.dsytrd_lwork(len(k), lower=1)[0])
    packed, d, e, tau, info = lapack.dsytrd(k, lower=1, lwork=work)
    scale = np.abs(d).max() + 2 * np.abs(e).max()  # bounds |eigenvalue| (Gershgorin)
    lowest = eigvalsh_tridiagonal(d, e, select="i", select_range=(0, 0))[0]
    if info or lowest < -PSD_TOLERANCE * scale:
        return decompose(k)
    return Tridiagonal(packed[1:, :-1], tau, d, e)


class _Reml:
    """The REML pieces for one kinship (given decomposed), y and X, for many variance ratios δ at
    once: a fit scans a grid of 81 before it refines the best."""

    def loglik(self, deltas):
        """REML log-likelihood with σg² profiled out (constants dropped), for each δ of `deltas`."""
        logdet, xhx, _, ypy = self.terms(deltas)
        dof = self.n - self.q
        return -0.5 * (dof * np.log(ypy / dof) + dof + logdet + np.linalg.slogdet(xhx)[1])


class _Eigen(_Reml):
    """In the kinship's eigenbasis, every δ of the grid in one product (one ratio at a time, that
    scan was most of a GBLUP fit's cost)."""

    def __init__(self, decomposed, y, x):
        self.s, self.u = decomposed
        self.uy = self.u.T @ y
        self.ux = self.u.T @ x
        self.n, self.q = x.shape

    def terms(self, deltas):
        """For each δ of `deltas` (a 1-d array): log det H (H = K + δI), XᵀH⁻¹X, β and the
        residual quadratic form, each with a leading δ dimension."""
        w = 1.0 / (self.s[None, :] + np.asarray(deltas, dtype=float)[:, None])
        xh = np.swapaxes(w[:, :, None] * self.ux, 1, 2)  # XᵀH⁻¹ in the eigenbasis, per δ
        xhx, xhy = xh @ self.ux, xh @ self.uy
        beta = np.linalg.solve(xhx, xhy[:, :, None])[:, :, 0]
        ypy = w @ self.uy**2 - np.sum(xhy * beta, axis=1)
        return -np.sum(np.log(w), axis=1), xhx, beta, ypy

    def alpha(self, delta, beta):
        """H⁻¹ (y − Xβ) at `delta`."""
        return self.u @ ((self.uy - self.ux @ beta) / (self.s + delta))


class _TridiagonalReml(_Reml):
    """Through `Tridiagonal`: H = Q (T + δI) Qᵀ, each δ one O(n) factorisation of T + δI."""

    def __init__(self, tridiagonal, y, x):
        self.tridiagonal = tridiagonal
        rotated = tridiagonal.rotate(np.column_stack([y, x]), "T")
        self.qy, self.qx = rotated[:, 0], rotated[:, 1:]
        self.n, self.q = x.shape

    def solve(self, delta, b):
        """log det (T + δI) and (T + δI)⁻¹ b."""
        pivots, off, info = lapack.dpttrf(self.tridiagonal.d + delta, self.tridiagonal.e)
        if info:
            raise np.linalg.LinAlgError(f"K + {delta:.3g} I is not positive definite")
        solved, info = lapack.dpttrs(pivots, off, b)
        return np.sum(np.log(pivots)), solved

    def terms(self, deltas):
        """As `_Eigen.terms`."""
        both = np.column_stack([self.qy, self.qx])
        found = []
        for delta in np.asarray(deltas, dtype=float):
            logdet, solved = self.solve(delta, both)
            xhy, xhx = self.qx.T @ solved[:, 0], self.qx.T @ solved[:, 1:]
            beta = np.linalg.solve(xhx, xhy)
            found.append((logdet, xhx, beta, self.qy @ solved[:, 0] - xhy @ beta))
        return tuple(np.array(term) for term in zip(*found))

    def alpha(self, delta, beta):
        """H⁻¹ (y − Xβ) at `delta`."""
        solved = self.solve(delta, self.qy - self.qx @ beta)[1]
        return self.tridiagonal.rotate(solved[:, None], "N")[:, 0]


def fit_gblup(kinship, y, x=None, decomposed=None):
    """REML GBLUP; `decomposed` (`decompose(kinship)` or `tridiagonalise(kinship)`) spares the
    decomposition when the same kinship is fitted again with another y or X."""
    y = np.asarray(y, dtype=float)
    x = np.ones((len(y), 1)) if x is None else np.asarray(x, dtype=float)
    decomposed = decomposed or decompose(kinship)
    reml = (_TridiagonalReml if isinstance(decomposed, Tridiagonal) else _Eigen)(decomposed, y, x)
    grid = np.linspace(*LOG_DELTA_RANGE, 81)
    values = reml.loglik(np.exp(grid))
    best = int(np.argmax(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = minimize_scalar(lambda g: -reml.loglik(np.exp([g]))[0], bounds=(lo, hi), method="bounded")
    log_delta = result.x if -result.fun >= values[best] else grid[best]
    delta = float(np.exp(log_delta))
    _, _, beta, ypy = (term[0] for term in reml.terms([delta]))
    sigma_g2 = ypy / (reml.n - reml.q)
    alpha = reml.alpha(delta, beta)
    return GBLUPFit(beta, delta, float(sigma_g2), float(sigma_g2 * delta), alpha, float(reml.loglik([delta])[0]))


def fit_fold(fold, settings):
    """GBLUP on the fold's training accessions, and on each inner fold's complement; its REML
    variance components (on the trait's scale) recorded, h2 the genomic values' share of the
    phenotypic variance (random covariates' included)."""
    trained = fold.folds > 0
    fit, _, predicted = fold.kinship.fit_predict(fold.y, trained)
    scale = fold.problem.y_sd**2
    # The training accessions' self-relationships: each one's row at its own column.
    genomic, random, residual = fit.variances(float(np.mean(fold.kinship.k[trained, fold.kinship.column[trained]])))
    reml = {
        "delta": fit.delta,
        "sigma_g2": fit.sigma_g2 * scale,
        "sigma_e2": residual * scale,
        "genomic_variance": genomic * scale,
        "h2": genomic / (genomic + sum(random) + residual),
    }
    if fold.kinship.random:
        reml["sigma_c2"] = {name: variance * scale for name, variance in zip(fold.kinship.random.names, random)}
    out_of_fold = np.full(len(fold.y), np.nan)
    for _, held, fit_mask in fold.inner_folds():
        out_of_fold[held] = fold.inner_fit("gblup", fit_mask, lambda mask: fold.kinship.predict(fold.y, mask))[held]
    return FoldFit(predicted, out_of_fold, details={"reml": reml})
