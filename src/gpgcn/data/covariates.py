"""Covariates (`input.covariates`): columns of the phenotype table that enter every model as
fixed effects.

The split carries each covariate's raw values as a column `covariate:<name>`; `FixedEffects`
turns them into the design of each fit: an intercept, each numeric covariate centred and scaled
on the training accessions, each categorical one as indicator columns of the levels the fit's
accessions have but the first. An accession whose value is missing (only unphenotyped ones may
lack one) or whose level none of the fit's accessions has gets the fit's mean of each of that
covariate's columns: the average effect, not a guess at its own (nor the reference level's).

A column that the fit's accessions cannot tell from the columns before it (a covariate nested in
another, a marker in complete LD with others) is aliased: it is dropped from that fit, as R's
`lm` does, and recorded (`FixedEffects.aliased`).

A categorical covariate with more levels than MAX_LEVEL_FRACTION of the training accessions (and
more than MIN_LEVEL_LIMIT) is refused: its effects would be estimated from a few accessions each,
and a cross-validation fold would hold levels its fit never saw. Such a grouping (a cage, a field
plot) is a random effect (`input.random_covariates`): the split carries its levels as a column
`random:<name>`, and the models fit it as `models/random_effects.py` says.
"""

import logging

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import MISSING_VALUES, sniff_delimiter

log = logging.getLogger(__name__)

PREFIX = "covariate:"
RANDOM_PREFIX = "random:"
MAX_LEVEL_FRACTION = 0.1
MIN_LEVEL_LIMIT = 10
# A column whose part unexplained by the columns before it is below this fraction of its own
# (centred) norm is aliased with them.
ALIAS_TOLERANCE = 1e-7


def read_covariates(path, columns, id_column=None):
    """The covariate columns of a phenotype table by ID (strings, None where missing), and each
    ID's line in the file."""
    table = pd.read_csv(path, sep=sniff_delimiter(path), dtype=str, keep_default_na=False)
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise InputError(
            path, f"no covariate column {', '.join(map(repr, absent))}; columns are: {', '.join(table.columns)}"
        )
    ids = table[id_column or table.columns[0]].str.strip()
    values = table[list(columns)].apply(lambda column: column.str.strip())
    values = values.where(~values.apply(lambda column: column.str.lower().isin(MISSING_VALUES)), None)
    values.index = ids
    lines = pd.Series(np.arange(len(table)) + 2, index=ids)  # header is line 1
    return values, lines


def line_of(lines, accession):
    return f"line {lines[accession]}: " if accession in lines.index else ""


def is_numeric(values):
    """Whether every known value (None: missing) is a number: such a covariate is one column."""
    known = pd.Series(values).dropna()
    return bool(pd.to_numeric(known, errors="coerce").notna().all())


def check_numeric_or_categorical(name, values, lines, path):
    """Refuse a column that is numbers but for a few values (a typo such as `3x` would otherwise
    turn a numeric covariate into a factor of every distinct number)."""
    known = values.dropna()
    numeric = pd.to_numeric(known, errors="coerce")
    text = numeric.isna()
    if text.any() and text.sum() < numeric.notna().sum():
        first = text.idxmax()
        raise InputError(
            path,
            f"{line_of(lines, first)}covariate {name!r} of accession {first!r} is {known[first]!r}, not a number, "
            f"though {int(numeric.notna().sum())} of its {len(known)} values are numbers: correct it, or mark it "
            "missing (NA)",
        )
    return is_numeric(values)


def check_levels(name, values, train, path):
    """Refuse a categorical covariate of too many levels for fixed effects."""
    counts = values[train].value_counts()
    if len(counts) > max(MIN_LEVEL_LIMIT, MAX_LEVEL_FRACTION * train.sum()):
        raise InputError(
            path,
            f"covariate {name!r} has {len(counts)} levels among {int(train.sum())} training accessions (more than "
            f"{MIN_LEVEL_LIMIT} and {MAX_LEVEL_FRACTION:.0%} of them; {int((counts == 1).sum())} with one accession): "
            "too many to fit as fixed effects; list it under input.random_covariates instead (a grouping such as a "
            "cage is a random effect)",
        )
    single = counts.index[counts == 1]
    if len(single):
        log.warning(
            "covariate %r: %d level(s) with one training accession (%s): its effect is that accession's own",
            name,
            len(single),
            ", ".join(map(str, single[:10])),
        )


def add_covariates(frame, covariates, lines, path, random=()):
    """`frame` (a split) with a `covariate:<name>` column per covariate, `random:<name>` for those
    of `random` (their values are levels, numbers or not). Refuses a covariate missing for a
    phenotyped accession, one with a single value among the training accessions (it would be the
    intercept again), one that is numbers but for a few values, a categorical one of too many
    levels, and a random one whose every training accession is a level of its own (it would be
    the residual again)."""
    phenotyped = frame["set"].ne("unlabelled").to_numpy()
    train = frame["set"].eq("train").to_numpy()
    for name in covariates.columns:
        values = covariates[name].reindex(frame["ID"])
        gaps = np.flatnonzero(values.isna().to_numpy() & phenotyped)
        if len(gaps):
            first = frame["ID"].iloc[gaps[0]]
            raise InputError(
                path,
                f"{line_of(lines, first)}covariate {name!r} is missing for phenotyped accession {first!r} "
                f"({len(gaps)} phenotyped accessions lack it)",
            )
        levels = values[train].unique()
        if len(levels) < 2:
            raise InputError(
                path,
                f"covariate {name!r} has one value ({levels[0]!r}) among the training accessions: no effect to fit",
            )
        if name in random:
            if values[train].nunique() == train.sum():
                raise InputError(
                    path,
                    f"random covariate {name!r} has a level of its own for each of the {int(train.sum())} training "
                    "accessions: its effects are the residuals'",
                )
            frame[RANDOM_PREFIX + name] = values.to_numpy()
            continue
        if not check_numeric_or_categorical(name, values, lines, path):
            check_levels(name, values, train, path)
        frame[PREFIX + name] = values.to_numpy()
    return frame


def covariate_names(split, prefix=PREFIX):
    """The split's covariates (`prefix` RANDOM_PREFIX: its random ones), in the config's order."""
    return [c[len(prefix) :] for c in split.columns if c.startswith(prefix)]


def levels_of(column):
    """A categorical column's values as level strings, None where missing."""
    return np.array([None if pd.isna(v) else str(v) for v in column], dtype=object)


class FixedEffects:
    """The fixed-effect design of every accession of a split, built for each fit from the
    accessions it is fitted to (see the module's docstring). `aliased`: {where: column names}
    of the columns dropped from fits, `where` being what the caller last set (a fold's label)."""

    CACHED = 8  # fits' designs kept: a fold's own and its inner folds'

    def __init__(self, numeric, numeric_names, factors=None):
        self.numeric = np.asarray(numeric, float)  # intercept first, then numeric covariates
        self.numeric_names = list(numeric_names)
        self.factors = factors or {}  # name -> each accession's level (None: missing)
        self.where = "training accessions"
        self.aliased = {}
        self._designs = {}

    @classmethod
    def of_split(cls, split):
        train = split["set"].eq("train").to_numpy()
        columns, names, factors = [np.ones(len(split))], ["intercept"], {}
        for name in covariate_names(split):
            raw = split[PREFIX + name]
            if is_numeric(raw):
                numeric = pd.to_numeric(raw, errors="coerce")
                known = numeric.notna().to_numpy()
                mean, sd = numeric[train].mean(), numeric[train].std() or 1.0
                columns.append(np.where(known, (numeric.to_numpy() - mean) / sd, 0.0))
                names.append(name)
            else:
                factors[name] = levels_of(raw)
        return cls(np.column_stack(columns), names, factors)

    @classmethod
    def intercept(cls, n):
        return cls(np.ones((n, 1)), ["intercept"])

    def columns(self, fit_mask):
        """Every column the fit's accessions can have (aliased ones included), and their names."""
        columns, names = [self.numeric], list(self.numeric_names)
        for name, levels in self.factors.items():
            present = sorted({v for v in levels[fit_mask] if v is not None})
            if len(present) < 2:
                continue  # one level among the fit's accessions: the intercept's
            indicators = np.column_stack([levels == level for level in present[1:]]).astype(float)
            unseen = ~np.isin(levels, present)
            indicators[unseen] = indicators[fit_mask].mean(axis=0)
            columns.append(indicators)
            names += [f"{name}={level}" for level in present[1:]]
        return np.column_stack(columns), names

    def design(self, fit_mask):
        """The covariates' design of a fit on `fit_mask` (every accession's rows, aliased columns
        left out), the names of the columns left out, and an orthonormal basis of the kept
        columns on the fit's accessions. Computed once per fit."""
        key = fit_mask.tobytes()
        if key not in self._designs:
            if len(self._designs) >= self.CACHED:
                self._designs.pop(next(iter(self._designs)))
            x, names = self.columns(fit_mask)
            keep, basis = independent_columns(x[fit_mask])
            self._designs[key] = (x[:, keep], [n for n, kept in zip(names, keep) if not kept], basis)
        return self._designs[key]

    def matrix(self, fit_mask, extra=None, extra_names=None):
        """Every accession's design for a fit on `fit_mask`: the covariates' columns and `extra`
        (markers) after them, less those aliased on the fit's accessions (recorded)."""
        x, dropped, basis = self.design(fit_mask)
        if extra is not None:
            keep, _ = independent_columns(extra[fit_mask], basis)
            names = list(extra_names) if extra_names is not None else [f"extra {j + 1}" for j in range(extra.shape[1])]
            x = np.column_stack([x, extra[:, keep]])
            dropped = dropped + [name for name, kept in zip(names, keep) if not kept]
        if dropped:
            self.aliased.setdefault(self.where, set()).update(dropped)
        return x

    def aliased_record(self):
        """What `aliased` holds, for a metrics.json: {where: sorted column names}."""
        return {where: sorted(names) for where, names in self.aliased.items()}


def independent_columns(x, basis=None):
    """Which columns of `x` to keep: each one not (numerically) a linear combination of those kept
    before it (and of the orthonormal `basis` given), in order, as R's `lm` keeps them; and the
    orthonormal basis of all kept."""
    keep = np.zeros(x.shape[1], bool)
    basis = np.empty((x.shape[0], 0)) if basis is None else basis
    for j in range(x.shape[1]):
        part = new_part(basis, x[:, j])
        if part is not None:
            keep[j] = True
            basis = np.column_stack([basis, part])
    return keep, basis


def new_part(basis, column):
    """The unit direction `column` adds to the span of the orthonormal `basis`, or None where it
    adds none (its part outside the span below ALIAS_TOLERANCE of its norm)."""
    residual = column - basis @ (basis.T @ column)
    residual -= basis @ (basis.T @ residual)  # twice, for Gram-Schmidt's lost orthogonality
    norm = np.linalg.norm(residual)
    return residual / norm if norm > ALIAS_TOLERANCE * np.linalg.norm(column) else None
