"""Phenotype tables and the train/test/cross-validation split."""

import numpy as np
import pandas as pd

from .errors import InputError
from .genotypes import load_accessions
from .io import sniff_delimiter, write_json, write_tsv

# Cells read as "no measurement": such rows are dropped and counted, never guessed.
MISSING_VALUES = {"", "na", "nan", "n/a", "none", "null", "."}


def read_phenotypes(path, trait, id_column=None):
    """Trait values by accession ID, and the IDs whose value is missing.

    A missing value (empty, NA, NaN, ...) drops the row and is counted; any other non-numeric
    value or a duplicate ID is an error naming the line.
    """
    table = pd.read_csv(path, sep=sniff_delimiter(path), dtype=str, keep_default_na=False)
    columns = list(table.columns)
    id_column = id_column or columns[0]
    for column, what in ((id_column, "ID column"), (trait, "trait column")):
        if column not in columns:
            raise InputError(path, f"no {what} {column!r}; columns are: {', '.join(columns)}")
    ids = table[id_column].str.strip()
    line = pd.Series(np.arange(len(table)) + 2, index=table.index)  # header is line 1
    duplicated = ids.duplicated(keep="first")
    if duplicated.any():
        first = ids[duplicated].iloc[0]
        lines = ", ".join(map(str, line[ids == first]))
        raise InputError(path, f"duplicate ID {first!r} on lines {lines}")
    raw = table[trait].str.strip()
    missing = raw.str.lower().isin(MISSING_VALUES)
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = (values.isna() | ~np.isfinite(values)) & ~missing
    if bad.any():
        i = bad.idxmax()
        raise InputError(path, f"line {line[i]}: ID {ids[i]!r} has non-numeric {trait} value {raw[i]!r}")
    values.index = ids
    return values[~missing.to_numpy()], list(ids[missing])


def make_split(accessions, phenotypes, *, test_fraction, n_folds, seed):
    """Seeded test hold-out and k-fold assignment of the training accessions.

    Accessions without a phenotype stay in the graph as unlabelled nodes (set 'unlabelled').
    """
    rng = np.random.default_rng(seed)
    labelled = [a for a in accessions if a in phenotypes.index]
    if len(labelled) < 2 * n_folds:
        raise ValueError(f"only {len(labelled)} phenotyped accessions for {n_folds}-fold cross-validation")
    order = rng.permutation(len(labelled))
    n_test = int(round(test_fraction * len(labelled)))
    test = {labelled[i] for i in order[:n_test]}
    train = [labelled[i] for i in order[n_test:]]
    fold = {a: 1 + i % n_folds for i, a in enumerate(train)}
    frame = pd.DataFrame({"ID": accessions})
    frame["y"] = [phenotypes.get(a, np.nan) for a in accessions]
    frame["set"] = ["test" if a in test else "train" if a in fold else "unlabelled" for a in accessions]
    frame["fold"] = [fold.get(a, 0) for a in accessions]
    return frame


def split_stage(phenotypes_path, accessions_paths, split_path, summary_path, *, trait, id_column, test_fraction, n_folds, seed):
    accessions = load_accessions(accessions_paths)
    values, missing_ids = read_phenotypes(phenotypes_path, trait, id_column)
    frame = make_split(accessions, values, test_fraction=test_fraction, n_folds=n_folds, seed=seed)
    in_study = set(accessions)
    summary = {
        "trait": trait,
        "n_accessions": len(accessions),
        "n_phenotyped": int(frame["set"].ne("unlabelled").sum()),
        "n_train": int(frame["set"].eq("train").sum()),
        "n_test": int(frame["set"].eq("test").sum()),
        "missing_value_ids": [i for i in missing_ids if i in in_study],
        "no_phenotype_ids": [a for a in accessions if a not in values.index and a not in set(missing_ids)],
    }
    write_tsv(split_path, frame, float_format="%.6g")
    write_json(summary_path, summary)
