"""The kernel between a split's accessions and its training accessions, with their fixed effects
and random covariates: what GBLUP, RKHS and GBLUP + loci fit on any subset of the training
accessions, and how they predict every accession."""

import numpy as np

from ..data.covariates import FixedEffects
from ..errors import InputError
from .gblup import decompose, fit_gblup, tridiagonalise
from .random_effects import RandomCovariates, choose_ratios


class SplitKinship:
    """A kernel between every accession of a split (rows, split order) and its training
    accessions (columns), and the fixed effects of every accession (`covariates.FixedEffects`):
    all GBLUP needs to fit on any subset of the training accessions and predict every accession.
    The same with another kernel (RKHS) is `with_kernel`. Random covariates
    (`random_effects.RandomCovariates`) add to the kernel with the ratios each fit chooses.

    `factorise`: how a fit decomposes the kernel on its accessions: the relationships' fits share
    their eigendecomposition with the loci scan, which rotates the markers into it (`decompose`,
    `eigen`); another kernel's fits need only REML and the BLUP (`tridiagonalise`)."""

    CACHED = 8  # decompositions kept: a fold's own and its inner folds'

    def __init__(self, k, train, effects, diagonal, factorise=decompose, random=None):
        self.k, self.train, self.effects, self.factorise = k, train, effects, factorise
        self.random = random or RandomCovariates()
        self.diagonal = diagonal  # each row's self-relationship; NaN where the matrix lacks it
        self.column = np.full(len(train), -1)
        self.column[train] = np.arange(train.sum())
        self._decomposed, self._distances, self._ratios = {}, None, {}

    @classmethod
    def of(cls, relationships, split, kinship_path, split_path):
        """`relationships`: read_kinship's (matrix, row IDs, column IDs) of `kinship_path`;
        `split`: the split table read from `split_path`."""
        kinship, rows, cols = relationships
        missing = [i for i in split["ID"] if i not in set(rows)]
        if missing:
            raise InputError(
                kinship_path, f"accessions of {split_path} missing from the kinship's rows: {', '.join(missing[:10])}"
            )
        train = split["set"].eq("train").to_numpy()
        training = list(split["ID"][train])
        not_columns = [a for a in training if a not in set(cols)]
        if not_columns:
            raise InputError(
                kinship_path, f"training accessions missing from the kinship's columns: {', '.join(not_columns[:10])}"
            )
        row_of = {a: i for i, a in enumerate(rows)}
        col_of = {a: i for i, a in enumerate(cols)}
        order = [row_of[a] for a in split["ID"]]
        diagonal = np.array([kinship[row_of[a], col_of[a]] if a in col_of else np.nan for a in split["ID"]])
        k = kinship[np.ix_(order, [col_of[a] for a in training])]
        return cls(k, train, FixedEffects.of_split(split), diagonal, random=RandomCovariates.of_split(split))

    def with_kernel(self, k):
        return SplitKinship(k, self.train, self.effects, None, tridiagonalise, self.random)

    def squared_distances(self):
        """Squared distances between every accession and each training accession: from the
        relationships (G_ii + G_jj − 2 G_ij, for a VanRaden GRM the genotypes' own distance up to
        one scale) where every self-relationship is known, else between the accessions' rows of
        relationships with the training accessions. Computed once."""
        if self._distances is None:
            self._distances = self._squared_distances()
        return self._distances

    def _squared_distances(self):
        if np.isfinite(self.diagonal).all():
            distances = self.diagonal[:, None] + self.diagonal[self.train][None, :] - 2 * self.k
        else:
            norms = np.sum(self.k**2, axis=1)
            distances = norms[:, None] + norms[self.train][None, :] - 2 * self.k @ self.k[self.train].T
        return np.clip(distances, 0.0, None)

    def kernel(self, rows, fit_mask, ratios=()):
        """The kernel between `rows` and `fit_mask`'s accessions, random covariates in at `ratios`."""
        columns = self.column[fit_mask]
        k = self.k[rows][:, columns]
        return k + self.random.kernel(ratios, rows, columns) if any(ratios) else k

    def decomposed(self, fit_mask, ratios=()):
        key = (fit_mask.tobytes(), tuple(ratios))
        if key not in self._decomposed:
            self._keep(key, self.factorise(self.kernel(fit_mask, fit_mask, ratios)))
        return self._decomposed[key]

    def _keep(self, key, decomposition):
        if len(self._decomposed) >= self.CACHED:
            self._decomposed.pop(next(iter(self._decomposed)))
        self._decomposed[key] = decomposition

    def eigen(self, fit_mask, ratios=()):
        """The kernel's eigendecomposition on `fit_mask`'s accessions, (eigenvalues, eigenvectors):
        the fits' own where they decompose it so (`factorise`), else taken here."""
        if self.factorise is decompose:
            return self.decomposed(fit_mask, ratios)
        return decompose(self.kernel(fit_mask, fit_mask, ratios))

    def ratios(self, y, fit_mask):
        """The random covariates' ratios for a fit of `y` on `fit_mask` (`random_effects`), chosen
        once per fit beside the covariates' fixed effects; () without random covariates."""
        if not self.random:
            return ()
        key = (fit_mask.tobytes(), y.tobytes())
        if key not in self._ratios:
            x, tried = self.effects.matrix(fit_mask)[fit_mask], {}

            def likelihood(kernel, ratios):
                tried[ratios] = self.factorise(kernel)
                return fit_gblup(None, y[fit_mask], x, tried[ratios]).loglik

            kernel = self.kernel(fit_mask, fit_mask)
            ratios = choose_ratios(self.random, kernel, fit_mask, self.column[fit_mask], likelihood)
            self._ratios[key] = ratios
            self._keep((fit_mask.tobytes(), ratios), tried[ratios])
        return self._ratios[key]

    def fit(self, y, fit_mask, extra=None, extra_names=None, ratios=None):
        """REML GBLUP on the accessions of `fit_mask` (training accessions only), `extra` columns
        (markers) beside the fixed effects, the random covariates at `ratios` (None: the fit's own
        choice); returns the fit (its `ratios` set) and every accession's design (aliased columns
        left out)."""
        x = self.effects.matrix(fit_mask, extra, extra_names)
        ratios = self.ratios(y, fit_mask) if ratios is None else ratios
        fit = fit_gblup(None, y[fit_mask], x[fit_mask], self.decomposed(fit_mask, ratios))
        fit.ratios = ratios
        return fit, x

    def fit_predict(self, y, fit_mask, extra=None, extra_names=None, ratios=None):
        """The fit on `fit_mask`, every accession's design, and every accession's prediction."""
        fit, x = self.fit(y, fit_mask, extra, extra_names, ratios)
        return fit, x, fit.predict(self.kernel(slice(None), fit_mask, fit.ratios), x)

    def random_part(self, fit, fit_mask):
        """Every accession's BLUP of its random covariates' levels in `fit` (on `fit_mask`)."""
        if not any(fit.ratios):
            return np.zeros(len(self.k))
        return self.random.kernel(fit.ratios, slice(None), self.column[fit_mask]) @ fit.alpha

    def predict(self, y, fit_mask):
        """Predictions for every accession from GBLUP fitted on `fit_mask`."""
        return self.fit_predict(y, fit_mask)[2]
