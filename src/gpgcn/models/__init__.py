"""The accuracy models of a trait, one module each, and `MODELS`, their one list: the rules, the
per-trait job, the cross-validation, the report and the benchmarks iterate over it, in its order
(a model may use the fits of those before it on the same fold: the GCN learns around GBLUP +
loci's fixed effects, the stack combines them all).

A model is fitted on a fold (`Fold`): the training accessions of one outer CV fold (or all of
them), with their inner CV folds. Its module's `fit_fold(fold)` returns its predictions of every
accession and its out-of-fold predictions of the fold's training accessions (`FoldFit`), both on
the scale of the trait's problem; `settings`: its own (`Model.settings`). A module may also define
- `prepare(settings, inputs)`: its settings for every fold of the trait's job, with what it
  builds once from the job's inputs (`inputs.TraitInputs`): the GCN's candidates and their problems;
- `fit_training_accessions(fold, settings)`: its fit on every training accession where that
  records more than an outer fold's (the GCN: its choice, in metrics.json);
- `fit_folds(folds, settings)`: its fits on many outer CV folds at once (the GCN batches the
  members of every fold), per fold a FoldFit or the exception that failed that fold alone;
- `write_files(outputs, problem, fit, record)`: its files where they hold more than the two every
  model writes (its `extra_outputs`).
"""

import importlib
import importlib.util
import logging
import time
from dataclasses import dataclass

import numpy as np

from .fold import Fold, FoldFit, ModelFailure

log = logging.getLogger(__name__)
# What marks one model failed on a fold rather than stopping the job: the others' fits stand.
FAILURES = (np.linalg.LinAlgError, FloatingPointError, ModelFailure)


@dataclass(frozen=True)
class Model:
    name: str  # its folder, results/models/{trait}/{name}/, and metrics.json's "model"
    display: str  # its name in the report
    module: str  # its module, relative to this package (".gblup") or absolute
    # Its part in the stack: "baseline" or "graph" (a member the stack weighs; the graph model's
    # weight is recorded as its share), or None (not a member).
    stack_role: str = None
    learns_around: str = None  # the model whose fixed effects (FoldFit.offsets) it learns around
    # The config keys it reads ("section.key", or a whole "section"), given to it on every fold
    # as fold.settings[name] = {key: value} (the last part of each path its key).
    settings: tuple = ()
    extra_outputs: tuple = ()  # its files beside metrics.json and predictions.tsv, in its folder
    needs_genotypes: bool = False  # without them (mode kinship) it is written as failed, with why
    reference: bool = False  # the model every other is compared with (paired CV, the report)
    combines: bool = False  # its predictions hold the others': its record carries their choices
    recommended: bool = False  # the model results/predictions/{trait}.tsv comes from

    @property
    def implementation(self):
        # Imported on first use: the rules read this registry whenever Snakemake loads the
        # workflow (dry runs too), and the GCN's module brings torch, seconds to import.
        return importlib.import_module(self.module, __package__)

    def fit_fold(self, fold):
        return self.implementation.fit_fold(fold, fold.settings[self.name])

    def fit_training_accessions(self, fold):
        own = getattr(self.implementation, "fit_training_accessions", None)
        return own(fold, fold.settings[self.name]) if own else self.fit_fold(fold)

    def prepare(self, settings, inputs):
        own = getattr(self.implementation, "prepare", None)
        return own(settings, inputs) if own else settings


MODELS = {
    model.name: model
    for model in (
        Model("gblup", "GBLUP", ".gblup", stack_role="baseline", reference=True),
        Model("rkhs", "RKHS", ".rkhs", stack_role="baseline"),
        Model("gblup_loci", "GBLUP + loci", ".loci", stack_role="baseline", settings=("select.loci_counts",)),
        Model(
            "gcn",
            "GCN",
            ".gcn",
            stack_role="graph",
            learns_around="gblup_loci",
            settings=("train", "graph", "select.candidates", "select.node_features", "select.snp_feature_limit"),
            extra_outputs=("epochs.tsv", "candidates.tsv"),
        ),
        Model("stack", "stack (recommended)", ".stack", combines=True, recommended=True),
    )
}
RECOMMENDED = next(name for name, model in MODELS.items() if model.recommended)
REFERENCE = next(name for name, model in MODELS.items() if model.reference)


def registered(module):
    """The model whose module is `module` (a module's own entry, by its __name__)."""
    return next(m for m in MODELS.values() if importlib.util.resolve_name(m.module, __package__) == module)


def prepared_settings(settings, inputs):
    """Every model's settings for the folds of one trait's job (`Model.prepare`)."""
    return {name: model.prepare(settings[name], inputs) for name, model in MODELS.items()}


def model_settings(config):
    """{model: {key: value}} of every model's settings, from the run's config."""
    settings = {}
    for name, model in MODELS.items():
        settings[name] = {}
        for path in model.settings:
            value = config
            for part in path.split("."):
                value = value[part]
            settings[name][path.rsplit(".", 1)[-1]] = value
    return settings


def model_files(folder, name):
    """What a model writes under `folder`/{name}/, by output name: metrics, predictions and its
    extra outputs (named by their stems)."""
    extra = {file.split(".")[0]: f"{folder}/{name}/{file}" for file in MODELS[name].extra_outputs}
    return {"metrics": f"{folder}/{name}/metrics.json", "predictions": f"{folder}/{name}/predictions.tsv", **extra}


def trait_model_outputs(folder):
    """Every model's files, as the per-trait job's outputs ({model}_{output})."""
    return {f"{name}_{key}": path for name in MODELS for key, path in model_files(folder, name).items()}


def fit_every_model(fold, training_accessions=False, only=None):
    """Every model on `fold` in registry order (those of `only`, if given), but those fitted
    already: on every training accession (`Model.fit_training_accessions`) or on an outer CV
    fold. A model that fails (FAILURES) is marked failed with the reason (`FoldFit.failed`)."""
    for name, model in MODELS.items():
        if name in fold.fits or (only is not None and name not in only):
            continue
        start = time.perf_counter()
        fold.kinship.effects.where = fold.label  # where an aliased fixed effect is recorded
        try:
            check_needs(model, fold)
            fold.fits[name] = model.fit_training_accessions(fold) if training_accessions else model.fit_fold(fold)
        except FAILURES as error:
            fold.fits[name] = failure(fold, model, error)
        fold.seconds[name] = time.perf_counter() - start
    return fold.fits


def fit_every_model_on_folds(folds):
    """fit_every_model on every outer CV fold: the models fitted fold by fold, but one whose module
    fits many folds at once (`fit_folds(folds, settings)`: the GCN, its members of every fold
    batched) given every fold together once the models before it are fitted on each."""
    run = []
    for name, model in MODELS.items():
        together = getattr(model.implementation, "fit_folds", None)
        if together is None:
            run.append(name)
            continue
        for fold in folds:
            fit_every_model(fold, only=run)
        run = []
        fit_together(folds, name, model, together)
    for fold in folds:
        fit_every_model(fold, only=run)


def fit_together(folds, name, model, together):
    """One model on many folds in one call; each fold's time is an equal share of it. Its answer
    for a fold may be the failure of that fold alone."""
    pending = [fold for fold in folds if name not in fold.fits]
    if not pending:
        return
    start = time.perf_counter()
    try:
        for fold in pending:
            check_needs(model, fold)
        fitted = together(pending, pending[0].settings[name])
    except FAILURES as error:
        fitted = [error] * len(pending)
    share = (time.perf_counter() - start) / len(pending)
    for fold, fit in zip(pending, fitted):
        fold.fits[name] = failure(fold, model, fit) if isinstance(fit, Exception) else fit
        fold.seconds[name] = share


def check_needs(model, fold):
    if model.needs_genotypes and fold.markers is None:
        raise ModelFailure("it needs genotypes, and the run has none (mode kinship)")


def failure(fold, model, error):
    """The FoldFit of a model that failed on `fold`, its reason logged."""
    reason = f"{fold.label}: {type(error).__name__}: {error}"
    log.warning("%s failed: %s", model.display, reason)
    return FoldFit.failure(reason, len(fold.y))


__all__ = [
    "FAILURES",
    "MODELS",
    "RECOMMENDED",
    "REFERENCE",
    "Fold",
    "FoldFit",
    "Model",
    "ModelFailure",
    "fit_every_model",
    "fit_every_model_on_folds",
    "model_files",
    "model_settings",
    "prepared_settings",
    "registered",
    "trait_model_outputs",
]
