"""The GCN of one trait: the average of fold ensembles, one per candidate setting whose score is
within noise of the best, chosen by cross-validation inside the accessions it learns from: on
every training accession for the GCN the trait deploys, and anew inside every outer CV fold, so
its CV and the stack's are nested for every choice.

A candidate (`gcn_candidates.py`) is a change to the configured GCN settings, trained as a fold
ensemble: one member per inner fold, early-stopped on it. Each member predicts the fold it was
stopped on, so each candidate predicts every training accession out of fold. The candidates
whose out-of-fold r is within one standard error of the best one's
(`statistics.within_noise_of_best`) are averaged: one winner flips between candidates whose
scores differ by noise (two runs of one config chose different settings), the average of those
within noise moves little.

The stack weighs the GCN by the same kind of predictor it deploys: for each accession, the mean
of the averaged candidates' members that never learnt from it (one per candidate), the candidates
averaged there chosen without the accession's inner fold (`statistics.cross_validated_average`):
chosen with it, the candidates that noise lifted would over-rate the GCN's evidence.

Covariates and large-effect loci enter as fixed effects the GCN learns around: each member
learns what GBLUP + loci's fixed part (covariates, the chosen markers, and the BLUPs of random
covariates' levels), fitted without the member's validation fold, leaves of the trait, and adds
that part back to its predictions. So
the graph model spends its capacity on the polygenic remainder, and no member's fixed effects
saw the accessions it is early-stopped and scored on.
"""

import dataclasses
import logging
import time

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..gcn.batched import fit_ensembles_batched
from ..gcn.strategies import IntraOp, Serial
from ..gcn.training import TrainResult
from ..io import write_tsv
from ..records import write_model_outputs, write_training_outputs
from ..statistics import cross_validated_average, pearson_r, within_noise_of_best
from . import MODELS, registered
from .fold import FoldFit, ModelFailure
from .gcn_candidates import CandidateProblems, candidates

log = logging.getLogger(__name__)
# The model whose fixed effects the GCN learns around, as the registry declares it.
LEARNS_AROUND = registered(__name__).learns_around
CANDIDATE_COLUMNS = ["candidate", "cv_pearson_r", "averaged", "seconds", "skipped"]


@dataclasses.dataclass
class Search:
    """The candidates the GCN tries on every fold, each with its training problem on every
    training accession (an outer CV fold holds its own accessions out of it), and the rows of
    those it cannot try here."""

    tried: list  # [(Candidate, problem)]
    skipped: list  # candidates.tsv rows of those not tried, with why


def search(settings, inputs):
    """The Search of the configured candidates; an InputError where none can be tried."""
    choices = candidates(settings["train"], settings["graph"], settings["candidates"], settings["node_features"])
    problems = CandidateProblems(inputs, settings["snp_feature_limit"])
    tried, skipped = [], []
    for candidate in choices:
        reason = problems.skip_reason(candidate)
        if reason:
            log.info("%s: candidate %s not tried: %s", inputs.trait, candidate.name, reason)
            skipped.append(
                {
                    "candidate": candidate.name,
                    "cv_pearson_r": np.nan,
                    "averaged": False,
                    "seconds": 0.0,
                    "skipped": reason,
                }
            )
        else:
            tried.append((candidate, problems.problem(candidate)))
    if not tried:
        raise InputError(
            "select.candidates", f"no candidate can be tried here: {'; '.join(r['skipped'] for r in skipped)}"
        )
    return Search(tried, skipped)


@dataclasses.dataclass
class Averaged:
    """The GCN of one fold: its candidates' fold ensembles, those averaged, and every candidate's score."""

    trained: list  # [(Candidate, its problem on this fold, TrainResult)] of the averaged candidates
    table: pd.DataFrame  # every candidate's out-of-fold r, whether it was averaged, seconds


def job_runner(settings):
    """Where the per-trait job trains: on the CPU over the threads the job was given (intra-op),
    or on one GPU with `train.device: cuda`."""
    return IntraOp(torch.get_num_threads(), settings) if settings.device == "cpu" else Serial(1, settings)


def finite_pairs(predicted, y):
    known = np.isfinite(predicted) & np.isfinite(y)
    return predicted[known], y[known]


def prepare(settings, inputs):
    """Its settings for every fold of the trait's job: with the `search` of its candidates, each
    one's problem built once from the job's inputs."""
    return {**settings, "search": search(settings, inputs)}


def fit_training_accessions(fold, settings):
    """The GCN on every training accession, with the record of its choice."""
    fitted = fit_fold(fold, settings)
    found = settings["search"]
    table = pd.concat([fitted.trained.table, pd.DataFrame(found.skipped, columns=CANDIDATE_COLUMNS)])
    averaged = [candidate.name for candidate, _, _ in fitted.trained.trained]
    log.info("%s averaged %s", fold.label, "; ".join(averaged))
    record = {"selection": selection_record(table, averaged, fitted.out_of_fold, fold.y)}
    trained = Averaged(fitted.trained.trained, table)
    return dataclasses.replace(fitted, details=record, trained=trained)


def selection_record(table, averaged, evidence, y):
    """What metrics.json says of the choice (the stack's, whose predictions hold the GCN's, too)."""
    return {
        "candidates": table.to_dict("records"),
        "averaged": averaged,
        # The out-of-fold r of the evidence the stack weighs the GCN by.
        "stack_evidence_cv_pearson_r": pearson_r(*finite_pairs(evidence, y)) if averaged else None,
    }


def around_fit(fold):
    """The fit whose fixed effects the GCN learns around; where it failed, the GCN fails too."""
    around = fold.fits[LEARNS_AROUND]
    if around.failed:
        raise ModelFailure(f"it learns around {MODELS[LEARNS_AROUND].display}'s fixed effects, which failed")
    return around


def fit_fold(fold, settings):
    """The GCN trained and chosen on the fold's training accessions."""
    fitted = fit_folds([fold], settings)[0]
    if isinstance(fitted, Exception):
        raise fitted
    return fitted


def fit_folds(folds, settings):
    """The GCN of each fold: every candidate trained as a fold ensemble on each fold's training
    accessions (every member of every fold in shared batched models, candidate by candidate: the
    members of one candidate share its features and graph), and those within noise of the best
    averaged, fold by fold. Per fold its FoldFit, or the ModelFailure of a fold whose fixed
    effects failed."""
    results, offsets = {}, {}
    for i, fold in enumerate(folds):
        try:
            offsets[i] = around_fit(fold).offsets
        except ModelFailure as error:
            results[i] = error
    if not offsets:
        return [results[i] for i in range(len(folds))]
    tried = settings["search"].tried
    trained = [train_candidate(candidate, problem, folds, offsets) for candidate, problem in tried]
    for i in offsets:
        results[i] = average(folds[i], [(candidate, by_fold[i], seconds) for candidate, by_fold, seconds in trained])
    return [results[i] for i in range(len(folds))]


def train_candidate(candidate, problem, folds, offsets):
    """One candidate's fold ensemble on each fold of `offsets` (fold index -> the fixed effects its
    members learn around), all trained in shared batched models; returns the candidate, {fold
    index: (its problem on that fold, TrainResult)} and the seconds it took."""
    start = time.perf_counter()
    runner = job_runner(candidate.settings)
    ensembles = {}
    for i, around in offsets.items():
        held_out = runner.prepare(problem.with_sets_of(folds[i].held_out))
        ensembles[i] = (held_out, {f: held_out.rescaled(o, folds[i].problem) for f, o in around.items()})
    label = f"{folds[0].label.rsplit(':', 1)[0]}: candidate {candidate.name}, {len(ensembles)} fold(s)"
    first = next(iter(ensembles.values()))[0]
    results = fit_ensembles_batched(
        lambda: runner.build_model(first, candidate.settings), list(ensembles.values()), candidate.settings, label
    )
    by_fold = {i: (ensembles[i][0], result) for i, result in zip(ensembles, results)}
    return candidate, by_fold, time.perf_counter() - start


def average(fold, trained):
    """The fold's GCN from its candidates [(Candidate, (problem, TrainResult), seconds)]: those whose
    out-of-fold r is within noise of the best averaged, on the fold problem's scale."""
    predicted, out_of_fold = [], []
    for _, (problem, result), _ in trained:
        predicted.append(fold.problem.rescaled(result.predictions, problem))
        out_of_fold.append(fold.problem.rescaled(result.validation_predictions, problem))
    kept, scores = within_noise_of_best(out_of_fold, fold.y)
    if not len(kept):
        kept = np.arange(len(trained))  # none predicts: none is better than another
    table = pd.DataFrame(
        {
            "candidate": [candidate.name for candidate, _, _ in trained],
            "cv_pearson_r": scores,
            "averaged": np.isin(np.arange(len(trained)), kept),
            "seconds": [seconds for _, _, seconds in trained],
            "skipped": "",
        }
    )
    averaged = Averaged([(trained[k][0], *trained[k][1]) for k in kept], table)
    return FoldFit(
        np.mean([predicted[k] for k in kept], axis=0),
        cross_validated_average(out_of_fold, fold.y, fold.folds),
        extra={
            "gcn_candidates_averaged": len(kept),
            # Every candidate's members' epochs summed: what the fold's GCN cost, in the unit its
            # time grows with (docs/benchmarks/batched_job.md's cost model); a trajectory two
            # members share (`gcn.batched`) counts for each.
            "gcn_member_epochs": sum(len(result.epochs) for _, (_, result), _ in trained),
        },
        trained=averaged,
    )


def write_files(outputs, problem, fit, record):
    """Its metrics.json and predictions.tsv with what the training says of the run, its epochs
    (each averaged candidate's members, by candidate) and its candidates' scores (empty where it
    failed)."""
    # Trained by the job's batched members, not by one of the timed strategies.
    record = {"strategy": None, "batched_members": True, "threads": torch.get_num_threads(), **record}
    if fit.failed:
        table = pd.DataFrame(columns=CANDIDATE_COLUMNS)
        write_tsv(
            outputs["epochs"],
            pd.DataFrame(columns=["candidate", "fold", "epoch", "train_loss", "val_loss", "val_r", "seconds"]),
        )
        record["selection"] = selection_record(table, [], None, None)
        write_model_outputs(outputs, problem, fit.predicted, record)
    else:
        table = fit.trained.table
        trained = fit.trained.trained
        combined = TrainResult(
            fit.predicted,
            [epoch for _, _, result in trained for epoch in result.best_epochs],
            [r for _, _, result in trained for r in result.validation_r],
            fit.out_of_fold,
            [{"candidate": candidate.name, **epoch} for candidate, _, result in trained for epoch in result.epochs],
        )
        record["settings"] = {candidate.name: vars(candidate.settings) for candidate, _, _ in trained}
        record["n_features"] = {candidate.name: own.n_snps for candidate, own, _ in trained}
        # The directions of the features the first layer's product went through (None: all of them).
        record["first_layer_factor"] = {
            candidate.name: None if own.feature_basis is None else own.x.shape[1] for candidate, own, _ in trained
        }
        write_training_outputs(outputs, problem, trained[0][0].settings, combined, record)
    write_tsv(outputs["candidates"], table, float_format="%.6g")
