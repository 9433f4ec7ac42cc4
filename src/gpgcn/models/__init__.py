"""The accuracy models of a trait, one module each, and `MODELS`, their one list: the rules, the
cross-validation, the report and the benchmarks iterate over it, in its order (a model may use
the fits of those before it on the same fold: the GCN learns around GBLUP + loci's fixed
effects, the stack combines them all).

A model is fitted on a fold (`Fold`): the training accessions of one outer CV fold (or all of
them), with their inner CV folds. It returns its predictions of every accession and its
out-of-fold predictions of the fold's training accessions (`FoldFit`), both on the scale of the
trait's problem.
"""

import importlib
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
    rule: str  # the rule that writes its files
    module: str  # its module in this package, whose fit_fold(Fold) returns a FoldFit
    # Its part in the stack: "baseline" (any subset of the baselines is a candidate stack),
    # "graph" (joins a stack beside a baseline, never alone), or None (not a member).
    stack_role: str = None
    learns_around: str = None  # the model whose fixed effects (FoldFit.offsets) it learns around
    own_writer: bool = False  # its job writes its files with its own record (a training's)
    recommended: bool = False  # the model results/predictions/{trait}.tsv comes from

    def fit_fold(self, fold):
        # Imported on first use: the rules read this registry whenever Snakemake loads the
        # workflow (dry runs too), and the GCN's module brings torch, seconds to import.
        return importlib.import_module(f"{__package__}.{self.module}").fit_fold(fold)


MODELS = {
    model.name: model
    for model in (
        Model("gblup", "GBLUP", "gblup", "gblup", stack_role="baseline"),
        Model("rkhs", "RKHS", "trait_models", "rkhs", stack_role="baseline"),
        Model("gblup_loci", "GBLUP + loci", "trait_models", "loci", stack_role="baseline"),
        Model("gcn", "GCN", "trait_models", "gcn", stack_role="graph", learns_around="gblup_loci", own_writer=True),
        Model("stack", "stack (recommended)", "trait_models", "stack", recommended=True),
    )
}
RECOMMENDED = next(name for name, model in MODELS.items() if model.recommended)
# The models the per-trait job writes with one writer (not those with a writer of their own).
JOB_MODELS = [name for name, model in MODELS.items() if model.rule == "trait_models" and not model.own_writer]


def model_files(folder, name):
    """What every model writes, under `folder`/{name}/."""
    return {"metrics": f"{folder}/{name}/metrics.json", "predictions": f"{folder}/{name}/predictions.tsv"}


def trait_model_outputs(folder):
    """The files of each model the per-trait job fits, by output name ({model}_metrics,
    {model}_predictions)."""
    return {
        f"{name}_{key}": path
        for name, model in MODELS.items()
        if model.rule == "trait_models"
        for key, path in model_files(folder, name).items()
    }


def fit_every_model(fold, until=None):
    """Every model on `fold` in registry order (those before `until`), but those fitted already. A
    model that fails (FAILURES) is marked failed with the reason (`FoldFit.failed`)."""
    for name, model in MODELS.items():
        if name == until:
            break
        if name not in fold.fits:
            start = time.perf_counter()
            fold.gblup.effects.where = fold.label  # where an aliased fixed effect is recorded
            try:
                fold.fits[name] = model.fit_fold(fold)
            except FAILURES as error:
                reason = f"{fold.label}: {type(error).__name__}: {error}"
                log.warning("%s failed: %s", MODELS[name].display, reason)
                fold.fits[name] = FoldFit.failure(reason, len(fold.y))
            fold.seconds[name] = time.perf_counter() - start
    return fold.fits


__all__ = [
    "JOB_MODELS",
    "MODELS",
    "RECOMMENDED",
    "Fold",
    "FoldFit",
    "Model",
    "ModelFailure",
    "fit_every_model",
    "model_files",
    "trait_model_outputs",
]
