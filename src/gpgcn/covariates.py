"""Covariates (`input.covariates`): columns of the phenotype table that enter every model as
fixed effects.

The split carries each covariate's raw values as a column `covariate:<name>`; `design_matrix`
turns them into the fixed-effect design every model uses: an intercept, each numeric covariate
centred and scaled on the training accessions, each categorical one as indicator columns of its
training levels but the first. An accession whose value is missing (only unphenotyped ones may
lack one) or a level no training accession has gets the training accessions' mean of each of
that covariate's columns: the average effect, not a guess at its own.
"""

import numpy as np
import pandas as pd

from .errors import InputError
from .io import MISSING_VALUES, sniff_delimiter

PREFIX = "covariate:"


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


def add_covariates(frame, covariates, lines, path):
    """`frame` (a split) with a `covariate:<name>` column per covariate. Refuses a covariate
    missing for a phenotyped accession, or one with a single value among the training accessions
    (it would be the intercept again)."""
    phenotyped = frame["set"].ne("unlabelled").to_numpy()
    train = frame["set"].eq("train").to_numpy()
    for name in covariates.columns:
        values = covariates[name].reindex(frame["ID"])
        gaps = np.flatnonzero(values.isna().to_numpy() & phenotyped)
        if len(gaps):
            first = frame["ID"].iloc[gaps[0]]
            where = f"line {lines[first]}: " if first in lines.index else ""
            raise InputError(
                path,
                f"{where}covariate {name!r} is missing for phenotyped accession {first!r} "
                f"({len(gaps)} phenotyped accessions lack it)",
            )
        levels = values[train].unique()
        if len(levels) < 2:
            raise InputError(
                path,
                f"covariate {name!r} has one value ({levels[0]!r}) among the training accessions: no effect to fit",
            )
        frame[PREFIX + name] = values.to_numpy()
    return frame


def covariate_names(split):
    return [c[len(PREFIX) :] for c in split.columns if c.startswith(PREFIX)]


def design_matrix(split):
    """The fixed-effect design of every accession of a split: intercept first, then the
    covariates' columns (see the module's docstring), fitted on the training accessions."""
    train = split["set"].eq("train").to_numpy()
    columns = [np.ones(len(split))]
    for name in covariate_names(split):
        raw = split[PREFIX + name]
        numeric = pd.to_numeric(raw, errors="coerce")
        if numeric[raw.notna()].notna().all():
            known = numeric.notna().to_numpy()
            mean, sd = numeric[train].mean(), numeric[train].std() or 1.0
            columns.append(np.where(known, (numeric.to_numpy() - mean) / sd, 0.0))
            continue
        raw = raw.astype(object).where(raw.notna(), None)
        levels = sorted({str(v) for v in raw[train]})
        indicators = np.column_stack([(raw.astype(str) == level).to_numpy(float) for level in levels[1:]])
        known = raw.isin(levels).to_numpy()
        indicators[~known] = indicators[train].mean(axis=0)
        columns.extend(indicators.T)
    return np.column_stack(columns)
