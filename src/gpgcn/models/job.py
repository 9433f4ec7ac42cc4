"""The per-trait model job: every model of the registry (`models`) fitted on the training
accessions (the GCN with its settings chosen by cross-validation inside them), their
cross-validation over the published CV repeats gathered from the trait's CV jobs
(`cross_validation.py`), each one's files written, and the table of every accession's
prediction from the recommended model. The test accessions never influence a choice.
"""

import logging
import time

import pandas as pd
import torch

from ..data.covariates import RANDOM_PREFIX, covariate_names
from ..io import write_tsv
from ..records import prediction_frame, write_model_outputs
from . import MODELS, RECOMMENDED, fit_every_model, model_files
from .cross_validation import cross_validate, cross_validation_records
from .inputs import TraitInputs, training_fold

log = logging.getLogger(__name__)


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


def trait_models_stage(*, files, settings, outputs, threads=1, cv_parts=None):
    """Fit every model of the registry on one trait's training accessions, gather their CV on the
    same folds, and write each one's files and the table of every accession's prediction from the
    recommended model. A model that fails (`models.FAILURES`) is written as failed, with the
    reason; the others are written as usual.

    `files`: TraitInputs' arguments (trait, split_path, grm_path, and with genotypes matrix_paths,
    snps_paths, accessions_paths, matrix_chromosomes); `settings`: every model's
    (`models.model_settings`); `outputs`: every model's files ({model}_{output}, as
    `models.trait_model_outputs` names them), cv_predictions and table; `threads`: the CPU
    threads the job was given, which its GCN fits use; `cv_parts`: the files of the trait's CV
    jobs (`cross_validation_stage`), or None to cross-validate here.
    """
    start = time.perf_counter()
    torch.set_num_threads(threads)
    inputs = TraitInputs(**files)
    every = training_fold(inputs, settings)
    records, cv_elsewhere, cv_aliased = cross_validation_records(every, inputs.trait, cv_parts)
    fits = fit_every_model(every, training_accessions=True)
    for name, fit in fits.items():
        if fit.extra:
            log.info("%s: %s %s", inputs.trait, name, fit.extra)
    cv, cv_extras, cv_predictions, cv_seconds, cv_failures = cross_validate(every.problem, records, inputs.trait)
    failed = {**cv_failures, **{name: fit.failed for name, fit in fits.items() if fit.failed}}
    aliased = {**every.kinship.effects.aliased_record(), **cv_aliased}
    aliased_note(inputs.trait, aliased)
    write_tsv(outputs["cv_predictions"], cv_predictions, float_format="%.6g")
    common = {
        "n_devices": 1,
        # This job's and its CV jobs'.
        "seconds_total": time.perf_counter() - start + cv_elsewhere,
        "covariates": covariate_names(inputs.split),
        "random_covariates": covariate_names(inputs.split, RANDOM_PREFIX),
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
        # Each of those numbers as chosen in every outer CV fold, by repeat.
        "by_outer_fold": {key: cv_extras.get(key, {}) for key in fit.extra},
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
