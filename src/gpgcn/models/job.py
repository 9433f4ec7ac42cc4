"""The per-trait model job: every model of the registry (`models`) fitted on the training
accessions (the GCN with its settings chosen by cross-validation inside them), all of them
cross-validated over the published CV repeats, each one's files written, and the table of every
accession's prediction from the recommended model. The test accessions never influence a choice.
"""

import dataclasses
import logging
import time
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from ..data.covariates import covariate_names
from ..data.kinship import read_kinship
from ..gcn.first_layer import factored
from ..gcn.problem import load_problem
from ..io import write_tsv
from ..records import prediction_frame, write_model_outputs
from ..statistics import pearson_r
from . import MODELS, RECOMMENDED, Fold, fit_every_model, fit_every_model_on_folds, model_files
from .gblup import SplitKinship
from .loci import Markers

log = logging.getLogger(__name__)


class TraitInputs:
    """The per-trait job's input files, each read once, when first needed: the split table and the
    relationship matrix; the dosage matrices (`matrix_paths`, their SNP tables `snps_paths`, sample
    lists `accessions_paths`, one chromosome name each in `matrix_chromosomes`; none without
    genotypes) are memory-mapped where read."""

    def __init__(
        self, trait, split_path, grm_path, matrix_paths=(), snps_paths=(), accessions_paths=(), matrix_chromosomes=None
    ):
        self.trait, self.split_path, self.grm_path = trait, split_path, grm_path
        self.matrix_paths, self.snps_paths = list(matrix_paths), list(snps_paths)
        self.accessions_paths, self.matrix_chromosomes = list(accessions_paths), matrix_chromosomes
        self._problems = {}

    @cached_property
    def split(self):
        return pd.read_csv(self.split_path, sep="\t", dtype={"ID": str})

    @cached_property
    def relationships(self):
        return read_kinship(self.grm_path)

    @cached_property
    def n_snps(self):
        """The genotype stage's SNP count (None without genotypes), from the matrices' headers."""
        if not self.matrix_paths:
            return None
        return sum(np.load(path, mmap_mode="r").shape[1] for path in self.matrix_paths)

    def problem(self, on_snps, scaling, variance=1.0):
        """The trait's problem (no graph) with node features from the SNP dosages or the
        relationship matrix's rows, scaled as `scaling`, through their low-rank factor holding
        `variance` of them (`first_layer.factored`; 1: as they are); built once each."""
        key = (on_snps and bool(self.matrix_paths), scaling, variance)
        if key in self._problems:
            return self._problems[key]
        if variance < 1:
            self._problems[key] = factored(self.problem(on_snps, scaling), variance)
        else:
            self._problems[key] = load_problem(
                self.matrix_paths,
                self.accessions_paths,
                None,
                self.split_path,
                features=scaling,
                matrix_chromosomes=self.matrix_chromosomes,
                relationships=None if key[0] else self.relationships,
                split=self.split,
            )
        return self._problems[key]


def cross_validate(every, trait):
    """Out-of-fold predictions of every model for each published CV repeat, each outer fold
    predicted by models fitted on the other folds only, every choice made anew inside them.
    `every`: the Fold of all training accessions, its models fitted; one that failed there is not
    fitted again. Returns {repeat: {model: r}}, what each model
    recorded of itself in each outer fold ({model: {key: {repeat: [value per fold]}}}), a table of
    the predictions (on the trait's scale) with those records, the seconds each model's fits took,
    and why each model that failed in a fold failed ({model: reason})."""
    problem, y = every.problem, every.y
    folds = outer_folds(every, trait)
    fit_every_model_on_folds([fold for _, _, fold in folds])
    scores, extras, tables, seconds = {}, {name: {} for name in MODELS}, [], dict.fromkeys(MODELS, 0.0)
    failures = {}
    for repeat, repeat_folds in problem.cv_repeats.items():
        predicted = {name: np.full(len(y), np.nan) for name in MODELS}
        recorded = {key: np.full(len(y), np.nan) for fit in every.fits.values() for key in fit.extra}
        for held, fold in ((held, fold) for r, held, fold in folds if r == repeat):
            for name, fit in fold.fits.items():
                seconds[name] += fold.seconds[name]
                if fit.failed:
                    failures.setdefault(name, fit.failed)
                predicted[name][held] = fit.predicted[held]
                for key, value in fit.extra.items():
                    extras[name].setdefault(key, {}).setdefault(repeat, []).append(value)
                    recorded[key][held] = value
        trained = repeat_folds > 0
        scores[repeat] = {name: pearson_r(p[trained], y[trained]) for name, p in predicted.items()}
        log.info("%s: cross-validation %s: %s", trait, repeat, {m: round(r, 4) for m, r in scores[repeat].items()})
        tables.append(cv_table(problem, repeat, repeat_folds, predicted, recorded))
    columns = ["ID", "repeat", "fold", "observed", *MODELS, *(k for fit in every.fits.values() for k in fit.extra)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    return scores, extras, table, seconds, failures


def outer_folds(every, trait):
    """(repeat, the accessions held out, the Fold of the others) of every outer fold of every
    published CV repeat; a model that failed on every training accession is failed there too."""
    found = []
    for repeat, folds in every.problem.cv_repeats.items():
        for held_fold in sorted(set(folds[folds > 0].tolist())):
            held = folds == held_fold
            fold = dataclasses.replace(
                every,
                held_out=every.problem.holding_out(folds, held_fold),
                folds=np.where(held, 0, folds),
                label=f"{trait}: cross-validation {repeat}, outer fold {held_fold}",
                fits={name: fit for name, fit in every.fits.items() if fit.failed},
                seconds=dict.fromkeys(MODELS, 0.0),
            )
            found.append((repeat, held, fold))
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


def aliased_note(trait, aliased):
    """One log line for every fixed-effect column dropped as aliased, with the fits it was dropped from."""
    by_column = {}
    for where, names in aliased.items():
        for name in names:
            by_column.setdefault(name, []).append(where)
    if by_column:
        log.warning(
            "%s: fixed effects aliased with others, dropped from the fits (as R's lm drops them): %s",
            trait,
            "; ".join(f"{name} in {len(where)} fit(s), first {where[0]!r}" for name, where in by_column.items()),
        )


def training_fold(inputs, settings):
    """The Fold of every training accession: the trait's problem (its node features are the
    GCN's candidates' business: the baselines use its target, scale and folds), relationships,
    fixed effects and markers."""
    # The relationships first: their error names the accessions they lack.
    kinship = SplitKinship.of(inputs.relationships, inputs.split, inputs.grm_path, inputs.split_path)
    problem = inputs.problem(on_snps=False, scaling="centred")
    return Fold(
        problem=problem,
        held_out=problem,
        folds=problem.fold,
        y=problem.y.numpy().astype(float),
        kinship=kinship,
        # The loci scan takes markers its SNP tables name; without them it has none to take.
        markers=Markers.load(inputs.matrix_paths, inputs.snps_paths) if inputs.snps_paths else None,
        settings=settings,
        label=f"{inputs.trait}: training accessions",
    )


def trait_models_stage(*, files, settings, outputs, threads=1):
    """Fit every model of the registry on one trait's training accessions, cross-validate them all
    on the same folds, and write each one's files and the table of every accession's prediction
    from the recommended model. A model that fails (`models.FAILURES`) is written as failed, with
    the reason; the others are written as usual.

    `files`: TraitInputs' arguments (trait, split_path, grm_path, and with genotypes matrix_paths,
    snps_paths, accessions_paths, matrix_chromosomes); `settings`: every model's
    (`models.model_settings`); `outputs`: every model's files ({model}_{output}, as
    `models.trait_model_outputs` names them), cv_predictions and table; `threads`: the CPU
    threads the job was given, which its GCN fits use.
    """
    start = time.perf_counter()
    torch.set_num_threads(threads)
    inputs = TraitInputs(**files)
    every = training_fold(inputs, settings)
    fits = fit_every_model(every, inputs)
    for name, fit in fits.items():
        if fit.extra:
            log.info("%s: %s %s", inputs.trait, name, fit.extra)
    cv, cv_extras, cv_predictions, cv_seconds, cv_failures = cross_validate(every, inputs.trait)
    failed = {**cv_failures, **{name: fit.failed for name, fit in fits.items() if fit.failed}}
    aliased = every.kinship.effects.aliased_record()
    aliased_note(inputs.trait, aliased)
    write_tsv(outputs["cv_predictions"], cv_predictions, float_format="%.6g")
    common = {
        "n_devices": 1,
        "seconds_total": time.perf_counter() - start,
        "covariates": covariate_names(inputs.split),
        "n_snps": inputs.n_snps,
        # Fixed-effect columns dropped as aliased: {fit: [columns]}.
        "aliased_fixed_effects": aliased,
        # Each model's fits in this job: on the training accessions (the GCN's: its candidate
        # search), and in the CV.
        "seconds_by_model": {
            name: {"training_accessions": every.seconds[name], "cross_validation": cv_seconds[name]} for name in MODELS
        },
    }
    for name in MODELS:
        record = {
            **common,
            **model_record(name, fits, cv_extras[name]),
            "cv_scores": [] if name in failed else [s[name] for s in cv.values()],
            "failed": failed.get(name),
        }
        write_model(outputs, name, every.problem, fits[name], record)
    frame = prediction_frame(every.problem, fits[RECOMMENDED].predicted)
    write_tsv(outputs["table"], prediction_table(frame, inputs.trait), float_format="%.6g")


def model_record(name, fits, cv_extras):
    """What a model's metrics.json says of its own fits: its records, and a model that combines the
    others carries their choices."""
    fit, model = fits[name], MODELS[name]
    combined = [other for other, m in MODELS.items() if model.combines and m.stack_role]
    choices = {key: value for other in combined for key, value in fits[other].details.items() if key == "selection"}
    return {
        "model": name,
        "recommended": model.recommended,
        **fit.extra,
        **fit.details,
        **choices,
        **{f"cv_{key}s": cv_extras.get(key, {}) for key in fit.extra},
    }


def write_model(outputs, name, problem, fit, record):
    """A model's files: by its own writer where its module has one."""
    files = {key: outputs[f"{name}_{key}"] for key in model_files("", name)}
    writer = getattr(MODELS[name].implementation, "write_files", None)
    if writer:
        writer(files, problem, fit, record)
    else:
        write_model_outputs(files, problem, fit.predicted, record)


def prediction_table(frame, trait):
    """Every accession's prediction, flagged by whether it has a phenotype (train or test)."""
    return pd.DataFrame(
        {
            "ID": frame["ID"],
            "trait": trait,
            "predicted": frame["predicted"],
            "phenotyped": frame["set"].ne("unlabelled"),
            "observed": frame["observed"],
            "set": frame["set"],
        }
    )
