"""Phenotype tables and the train/test/cross-validation split."""

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import MISSING_VALUES, check_unique_ids, read_ids, sniff_delimiter, text_to_numbers, write_json, write_tsv
from .covariates import add_covariates, read_covariates
from .formats import study_accessions
from .genotypes import load_accessions


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
    check_unique_ids(path, list(ids), lines=list(line))
    raw = table[trait].str.strip()
    missing = raw.str.lower().isin(MISSING_VALUES)
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = (values.isna() | ~np.isfinite(values)) & ~missing
    if bad.any():
        i = bad.idxmax()
        raise InputError(path, f"line {line[i]}: ID {ids[i]!r} has non-numeric {trait} value {raw[i]!r}")
    values.index = ids
    return values[~missing.to_numpy()], list(ids[missing])


def read_cv_folds(path):
    """Published CV assignments: CSV/TSV, first column ID, then one column per repeat (cv_1..cv_R)
    holding fold numbers."""
    table = pd.read_csv(path, sep=sniff_delimiter(path), dtype=str, keep_default_na=False)
    ids = table.iloc[:, 0].str.strip()
    repeats = [c for c in table.columns[1:]]
    if not repeats:
        raise InputError(path, "no fold columns after the ID column")
    check_unique_ids(path, list(ids), lines=list(range(2, len(ids) + 2)))
    folds = table[repeats].apply(text_to_numbers)
    bad = folds.isna() | (folds < 1) | (folds != folds.round())
    if bad.any().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise InputError(
            path,
            f"line {row + 2}: ID {ids[row]!r} has fold {table.iat[row, col + 1]!r} in {repeats[col]} "
            "(expected 1, 2, ...)",
        )
    folds = folds.astype(int)
    folds.columns = [f"cv_{i + 1}" for i in range(len(repeats))]
    folds.index = ids
    folds.attrs["columns"] = dict(zip(folds.columns, repeats))  # the file's own names, for messages
    return folds


def check_fold_sizes(cv_folds, training, path):
    """Refuse a published fold that holds fewer than two of the trait's training accessions (a
    typo such as fold 6 in a 5-fold column), naming the column, the accessions and their lines."""
    lines = {a: i + 2 for i, a in enumerate(cv_folds.index)}  # header is line 1
    for column in cv_folds.columns:
        folds = cv_folds.loc[training, column]
        counts = folds.value_counts()
        small = sorted(counts.index[counts < 2])
        if small:
            named = cv_folds.attrs.get("columns", {}).get(column, column)
            members = [a for a in training if folds[a] in small]
            usual = sorted(counts.index[counts >= 2])
            raise InputError(
                path,
                f"column {named}: fold {small[0]} holds {counts[small[0]]} training accession(s) "
                f"({', '.join(f'{a!r} on line {lines[a]}' for a in members[:5])}), where the other folds "
                f"({', '.join(map(str, usual)) or 'none'}) hold 2 or more: each fold needs at least 2",
            )


def cv_repeat_columns(split):
    """The published cross-validation repeats (cv_1, cv_2, ...) a split carries, if any."""
    return [c for c in split.columns if c.startswith("cv_")]


def make_split(accessions, phenotypes, *, test_fraction, n_folds, seed, test_ids=None, cv_folds=None):
    """Test hold-out and CV folds of the training accessions: seeded, or a paper's own.

    `test_ids` fixes the test set; `cv_folds` (a frame of cv_1..cv_R by ID) fixes the folds, the
    first repeat serving for early stopping and every repeat for cross-validated accuracy.
    Accessions without a phenotype stay in the graph as unlabelled nodes (set 'unlabelled').
    """
    labelled = [a for a in accessions if a in phenotypes.index]
    if test_ids is not None:
        # A test accession without this trait's phenotype has nothing to be tested on: unlabelled.
        test = set(test_ids) & set(labelled)
        train = [a for a in labelled if a not in test]
    else:
        order = np.random.default_rng(seed).permutation(len(labelled))
        n_test = int(round(test_fraction * len(labelled)))
        test = {labelled[i] for i in order[:n_test]}
        train = [labelled[i] for i in order[n_test:]]
    if cv_folds is not None:
        fold = cv_folds.iloc[:, 0].to_dict()
    else:
        fold = {a: 1 + i % n_folds for i, a in enumerate(train)}
    frame = pd.DataFrame({"ID": accessions})
    frame["y"] = [phenotypes.get(a, np.nan) for a in accessions]
    in_train = set(train)
    frame["set"] = ["test" if a in test else "train" if a in in_train else "unlabelled" for a in accessions]
    frame["fold"] = [fold[a] if a in in_train else 0 for a in accessions]
    if cv_folds is not None:
        for column in cv_folds.columns:
            frame[column] = [int(cv_folds.at[a, column]) if a in in_train else 0 for a in accessions]
    return frame


def check_trainable(split, phenotypes_path, trait):
    """Refuse, before any training, a trait that no model can learn from its training accessions:
    too few of them for the folds, or no variance among them."""
    train = split[split["set"] == "train"]
    folds = train["fold"].nunique()
    smallest = train["fold"].value_counts().min() if len(train) else 0
    if len(train) == 0 or folds < 2 or smallest < 2:
        raise InputError(
            phenotypes_path,
            f"trait {trait}: {len(train)} phenotyped training accessions in {folds} fold(s), too few for "
            "cross-validation (at least 2 folds of 2 accessions each)",
        )
    if train["y"].nunique() < 2:
        raise InputError(
            phenotypes_path,
            f"trait {trait} has no variance among the {len(train)} training accessions (every value is "
            f"{train['y'].iloc[0]:g})",
        )


def published_test_ids(path, accessions):
    """The published test accessions (None without a file); each must be an accession."""
    test_ids = read_ids(path) if path else None
    unknown = [a for a in test_ids or [] if a not in set(accessions)]
    if unknown:
        raise InputError(path, f"test accessions not among the accessions: {', '.join(unknown[:10])}")
    return test_ids


def published_folds(path, cv_repeats, accessions, phenotyped, test_ids):
    """The published CV folds (None without a file), its first `cv_repeats` columns (0: all);
    every training accession must have a fold, and every fold enough accessions."""
    if not path:
        return None
    cv_folds = read_cv_folds(path).iloc[:, : cv_repeats or None]
    training = [a for a in accessions if a in phenotyped and a not in set(test_ids or [])]
    absent = [a for a in training if a not in cv_folds.index]
    if absent:
        raise InputError(path, f"training accessions without folds: {', '.join(absent[:10])}")
    check_fold_sizes(cv_folds, training, path)
    return cv_folds


def trait_split(
    phenotypes_path,
    accessions,
    trait,
    *,
    id_column,
    covariates=(),
    random_covariates=(),
    test_fraction,
    n_folds,
    seed,
    test_ids_path=None,
    cv_folds_path=None,
    cv_repeats=0,
):
    """One trait's split of the accessions (with its covariates' values), and its summary;
    refuses a trait no model can learn."""
    values, missing_ids = read_phenotypes(phenotypes_path, trait, id_column)
    if values.empty:
        raise InputError(phenotypes_path, f"trait {trait} has no values: all {len(missing_ids)} rows are missing")
    if not values.index.isin(accessions).any():
        raise InputError(
            phenotypes_path,
            f"trait {trait}: none of its {len(values)} accessions with a value is a study accession "
            f"(first: {values.index[0]!r})",
        )
    test_ids = published_test_ids(test_ids_path, accessions)
    cv_folds = published_folds(cv_folds_path, cv_repeats, accessions, values.index, test_ids)
    frame = make_split(
        accessions,
        values,
        test_fraction=test_fraction,
        n_folds=n_folds,
        seed=seed,
        test_ids=test_ids,
        cv_folds=cv_folds,
    )
    check_trainable(frame, phenotypes_path, trait)
    if covariates or random_covariates:
        columns = [*covariates, *random_covariates]
        values, lines = read_covariates(phenotypes_path, columns, id_column)
        frame = add_covariates(frame, values, lines, phenotypes_path, random=random_covariates)
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
    return frame, summary


def check_traits_stage(phenotypes_path, study_files, checked_path, *, genotypes, traits, **split_settings):
    """Every trait's split, before any is written or trained, and before the genotype stage
    starts: one error naming every bad trait. The study accessions come from the genotype
    source's header and study list (`formats.study_accessions`)."""
    accessions = study_accessions(genotypes, study_files)
    problems, summaries = [], {}
    for trait in traits:
        try:
            summaries[trait] = trait_split(phenotypes_path, accessions, trait, **split_settings)[1]
        except InputError as error:
            problems.append(f"trait {trait}: {error}")
    if problems:
        unusable = f"{len(problems)} of {len(traits)} traits unusable:\n  " + "\n  ".join(problems)
        raise InputError(phenotypes_path, unusable)
    counts = {trait: {k: v for k, v in s.items() if not k.endswith("_ids")} for trait, s in summaries.items()}
    write_json(checked_path, counts)


def split_stage(phenotypes_path, accessions_paths, split_path, summary_path, *, trait, **split_settings):
    frame, summary = trait_split(phenotypes_path, load_accessions(accessions_paths), trait, **split_settings)
    write_tsv(split_path, frame, float_format="%.6g")
    write_json(summary_path, summary)
