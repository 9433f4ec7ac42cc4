"""Random covariates (`input.random_covariates`): a grouping such as a cage, a field plot or a
family, each level's effect drawn from N(0, σc²), one variance per covariate.

In the kernel models (GBLUP, RKHS, GBLUP + loci) a random covariate adds ρ·C to the kernel K:
C[i, j] = 1 where accessions i and j share a level (0 where either lacks one), ρ = σc² / σg².
Each fit chooses its ratios by REML on its own accessions (the covariates' fixed effects beside
them) among RATIOS times the kernel's mean diagonal there (`choose_ratios`), one covariate after
another, the variance ratio δ = σe² / σg² refined at each as GBLUP refines it. Every candidate
costs one decomposition of the fit's kernel, so a GBLUP fit with a random covariate takes a few
where it took one; RKHS chooses the ratios once, at its middle bandwidth (`rkhs.py`), and GBLUP +
loci takes GBLUP's (`SplitKinship.ratios`, one choice per fit's accessions and trait).

Each accession's BLUP of its level is ρ·C·α (α the fit's BLUP weights): an accession whose level
no accession of the fit has, or who lacks one, gets none, the mean level's. The GCN learns around
these BLUPs as around the fixed effects (`gcn.py`).
"""

from functools import partial

import numpy as np
import pandas as pd

from ..data.covariates import RANDOM_PREFIX, covariate_names, levels_of

# 0, then doubling from 1/16: up to a grouping that all but replaces the kinship (a trait of low
# heritability in strongly grouped accessions).
RATIOS = (0.0, *(2.0**power for power in range(-4, 7)))
START = RATIOS.index(1 / 2)


class RandomCovariates:
    """The random covariates of a split: per covariate, whether each accession shares a level with
    each training accession (rows: the split's accessions, columns: its training accessions)."""

    def __init__(self, names=(), same_level=()):
        self.names = list(names)
        self.same_level = list(same_level)

    @classmethod
    def of_split(cls, split):
        train = split["set"].eq("train").to_numpy()
        names = covariate_names(split, RANDOM_PREFIX)
        same_level = []
        for name in names:
            codes = pd.factorize(levels_of(split[RANDOM_PREFIX + name]), use_na_sentinel=True)[0]  # None: -1
            shared = (codes[:, None] == codes[train][None, :]) & (codes[:, None] >= 0)
            same_level.append(shared)
        return cls(names, same_level)

    def __bool__(self):
        return bool(self.names)

    def kernel(self, ratios, rows, columns):
        """Σ ρ·C over the covariates, on `rows` (a mask, index or slice of the split's accessions)
        and `columns` (indices of its training accessions)."""
        return sum(ratio * same[rows][:, columns] for ratio, same in zip(ratios, self.same_level))


def choose_ratios(random, kernel, rows, columns, likelihood):
    """The ratios (one per random covariate) of highest REML likelihood for a fit on `rows` (its
    accessions; `columns`: their training-accession columns), `kernel` the model's own there;
    `likelihood(kernel, ratios)`: the REML log-likelihood of a fit with that kernel. Per covariate
    a climb over RATIOS (`climb`)."""
    scale = float(np.mean(np.diag(kernel)))
    ratios = [0.0] * len(random.names)
    for c in range(len(ratios)):
        trials = [(*ratios[:c], ratio * scale, *ratios[c + 1 :]) for ratio in RATIOS]
        ratios[c] = trials[climb(partial(trial_likelihood, random, kernel, rows, columns, likelihood, trials))][c]
    return tuple(ratios)


def trial_likelihood(random, kernel, rows, columns, likelihood, trials, i):
    return likelihood(kernel + random.kernel(trials[i], rows, columns), trials[i])


def climb(value):
    """The index into RATIOS a climb from START ends at, one neighbour at a time while `value(i)`
    (the likelihood at RATIOS[i]) rises, downwards first: a few fits, not one per ratio of the
    grid. REML's likelihood in one variance ratio has one peak as a rule, and the climb then ends at
    the grid's best; where it has more, at the first the climb reaches."""
    values = {}

    def at(i):
        if i not in values:
            values[i] = value(i)
        return values[i]

    i = START
    for step in (-1, 1):
        while 0 <= i + step < len(RATIOS) and at(i + step) > at(i):
            i += step
        if i != START:
            break
    return i
