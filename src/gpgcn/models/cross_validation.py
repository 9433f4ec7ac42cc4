"""A trait's cross-validation over the published CV repeats: every model fitted in every outer
fold on the other folds only, every choice made anew inside them. The outer folds are dealt, in
order, into contiguous shares, one per CV job (`split.cv_jobs`), each job writing its folds'
records; the per-trait job (`job.py`) gathers them into every model's CV scores and the table
of out-of-fold predictions. A cluster runs a trait's CV jobs side by side."""

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..io import write_json
from ..statistics import pearson_r
from . import MODELS, fit_every_model_on_folds
from .inputs import TraitInputs, training_fold

log = logging.getLogger(__name__)


def cross_validation_part(every, trait, part=1, parts=1):
    """Every model fitted on the `part`-th (from 1) of `parts` contiguous shares of the trait's
    outer CV folds (all published repeats', in order), each fold's fits made on the other folds
    only, every choice made anew inside them. `every`: the Fold of all training accessions, its
    settings prepared (`models.prepared_settings`). Returns each fold's record: its repeat and
    fold, the IDs it holds out, and per model the predictions of those (the problem's scale), what
    the model records of itself there, the seconds its fit took and why it failed (None: it did
    not)."""
    folds = outer_folds(every, trait)
    mine = [folds[i] for i in np.array_split(np.arange(len(folds)), parts)[part - 1]]
    fit_every_model_on_folds([fold for *_, fold in mine])
    ids = np.asarray(every.problem.ids)
    return [
        {
            "repeat": repeat,
            "fold": number,
            "ids": ids[held].tolist(),
            "models": {
                name: {
                    "predicted": fit.predicted[held].tolist(),
                    "extra": fit.extra,
                    "seconds": fold.seconds[name],
                    "failed": fit.failed,
                }
                for name, fit in fold.fits.items()
            },
        }
        for repeat, number, held, fold in mine
    ]


def cross_validate(problem, records, trait):
    """Every model's out-of-fold predictions for each published CV repeat, gathered from the
    records of its outer folds (`cross_validation_part`). Returns {repeat: {model: r}}, what
    each model recorded of itself in each outer fold ({model: {key: {repeat: [value per fold]}}}),
    a table of the predictions (on the trait's scale) with those records, the seconds each model's
    fits took, and why each model that failed in a fold failed ({model: reason})."""
    y, ids = problem.y.numpy().astype(float), np.asarray(problem.ids)
    by_fold = {(record["repeat"], record["fold"]): record for record in records}
    scores, extras, tables, seconds = {}, {name: {} for name in MODELS}, [], dict.fromkeys(MODELS, 0.0)
    failures, keys = {}, {}  # keys: every recorded key, in the order first met
    for repeat, repeat_folds in problem.cv_repeats.items():
        predicted = {name: np.full(len(y), np.nan) for name in MODELS}
        recorded = {}
        for number in sorted(set(repeat_folds[repeat_folds > 0].tolist())):
            held = repeat_folds == number
            record = by_fold.get((repeat, number))
            if record is None or record["ids"] != ids[held].tolist():
                raise ValueError(
                    f"{trait}: no cross-validation part holds outer fold {number} of {repeat} as the "
                    "split has it: the parts were made from another split or CV job count; run them again"
                )
            for name, fit in record["models"].items():
                seconds[name] += fit["seconds"]
                if fit["failed"]:
                    failures.setdefault(name, fit["failed"])
                predicted[name][held] = np.asarray(fit["predicted"], dtype=float)
                for key, value in fit["extra"].items():
                    keys.setdefault(key)
                    extras[name].setdefault(key, {}).setdefault(repeat, []).append(value)
                    recorded.setdefault(key, np.full(len(y), np.nan))[held] = np.nan if value is None else value
        trained = repeat_folds > 0
        scores[repeat] = {name: pearson_r(p[trained], y[trained]) for name, p in predicted.items()}
        log.info("%s: cross-validation %s: %s", trait, repeat, {m: round(r, 4) for m, r in scores[repeat].items()})
        tables.append(cv_table(problem, repeat, repeat_folds, predicted, recorded))
    columns = ["ID", "repeat", "fold", "observed", *MODELS, *keys]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    return scores, extras, table[columns], seconds, failures


def outer_folds(every, trait):
    """(repeat, fold number, the accessions held out, the Fold of the others) of every outer fold
    of every published CV repeat."""
    found = []
    for repeat, folds in every.problem.cv_repeats.items():
        for held_fold in sorted(set(folds[folds > 0].tolist())):
            held = folds == held_fold
            fold = dataclasses.replace(
                every,
                held_out=every.problem.holding_out(folds, held_fold),
                folds=np.where(held, 0, folds),
                label=f"{trait}: cross-validation {repeat}, outer fold {held_fold}",
                fits={},
                seconds=dict.fromkeys(MODELS, 0.0),
            )
            found.append((repeat, held_fold, held, fold))
    return found


def cv_table(problem, repeat, folds, predicted, recorded):
    """One CV repeat's out-of-fold predictions of the training accessions, on the trait's scale."""
    trained = folds > 0
    return pd.DataFrame(
        {
            "ID": np.asarray(problem.ids)[trained],
            "repeat": repeat,
            "fold": folds[trained],
            "observed": problem.observed[trained],
            **{name: p[trained] * problem.y_sd + problem.y_mean for name, p in predicted.items()},
            **{key: values[trained] for key, values in recorded.items()},
        }
    )


def cross_validation_stage(*, files, settings, part, parts, output, threads=1):
    """One job's share of a trait's CV: every model fitted on the `part`-th (from 1) of `parts`
    shares of the outer folds (`cross_validation_part`), written to `output` (JSON) with the
    fixed-effect columns its fits dropped as aliased and the seconds it took; the per-trait job
    gathers the parts. `files`, `settings`, `threads`: as `trait_models_stage`'s."""
    start = time.perf_counter()
    torch.set_num_threads(threads)
    inputs = TraitInputs(**files)
    every = training_fold(inputs, settings)
    folds = cross_validation_part(every, inputs.trait, part, parts)
    record = {"trait": inputs.trait, "part": part, "parts": parts, "folds": folds}
    record["aliased_fixed_effects"] = every.kinship.effects.aliased_record()
    # Unsorted: the order the models record their keys in is the order of the CV table's columns.
    write_json(output, {**record, "seconds": time.perf_counter() - start}, sort_keys=False, indent=None)


def cross_validation_records(every, trait, cv_parts):
    """The trait's outer folds' records (`cross_validation_part`), the seconds taken elsewhere for
    them and the fixed-effect columns dropped there: read from the files of its CV jobs
    (`cv_parts`), or, where None, fitted here (the seconds and columns then this job's own)."""
    if cv_parts is None:
        return cross_validation_part(every, trait), 0.0, {}
    parts = [json.loads(Path(path).read_text()) for path in cv_parts]
    aliased = {where: names for part in parts for where, names in part["aliased_fixed_effects"].items()}
    return [fold for part in parts for fold in part["folds"]], sum(part["seconds"] for part in parts), aliased
