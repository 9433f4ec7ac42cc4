"""The GCN of one trait: its settings chosen among candidates by cross-validation inside the
training accessions.

A candidate is a change to the configured GCN settings. Each is scored by the fold ensemble it
is trained as anyway: every member predicts the fold it was early-stopped on, and together they
predict every training accession out of fold. The best candidate's ensemble is the trait's GCN.

Covariates and large-effect loci enter as fixed effects the GCN learns around: each member
learns what GBLUP + loci's fixed part (covariates, the chosen markers), fitted without the
member's validation fold, leaves of the trait, and adds that part back to its predictions. So
the graph model spends its capacity on the polygenic remainder, and no member's fixed effects
saw the accessions it is early-stopped and scored on.
"""

import dataclasses
import logging
import time

import numpy as np
import pandas as pd
import torch

from ..data.graph import relationship_graph
from ..errors import InputError
from ..gcn.batched import fit_ensemble_batched, fit_ensembles_batched
from ..gcn.strategies import IntraOp, Serial
from ..gcn.training import TrainSettings
from ..io import write_tsv
from ..records import write_model_outputs, write_training_outputs
from ..statistics import pearson_r
from . import MODELS, registered
from .fold import FoldFit, ModelFailure

log = logging.getLogger(__name__)
# The model whose fixed effects the GCN learns around, as the registry declares it.
LEARNS_AROUND = registered(__name__).learns_around

# What a candidate may change: graph settings, training settings and its node features.
GRAPH_KEYS = ("k", "self_loop_weight")
TRAIN_KEYS = ("lr", "weight_decay", "features", "dropout")
FEATURE_KEYS = ("node_features",)


@dataclasses.dataclass
class Candidate:
    change: dict  # the keys it changes from the configured settings
    settings: TrainSettings
    k: int
    self_loop_weight: float
    node_features: str  # kinship: GRM rows; genotypes: SNP dosages

    @property
    def name(self):
        return ", ".join(f"{key}={value}" for key, value in self.change.items()) or "as configured"


def candidates(train, graph, changes, node_features="kinship"):
    """One Candidate per change (a dict of GRAPH_KEYS, TRAIN_KEYS and FEATURE_KEYS) to the
    configured settings."""
    found = []
    for change in changes or [{}]:
        unknown = sorted(set(change) - set(GRAPH_KEYS) - set(TRAIN_KEYS) - set(FEATURE_KEYS))
        if unknown:
            raise ValueError(f"select.candidates: unknown key {', '.join(unknown)}")
        settings = TrainSettings(**{**train, **{k: v for k, v in change.items() if k in TRAIN_KEYS}})
        found.append(
            Candidate(
                dict(change),
                settings,
                change.get("k", graph["k"]),
                change.get("self_loop_weight", graph["self_loop_weight"]),
                change.get("node_features", node_features),
            )
        )
    return found


class CandidateProblems:
    """The training problem of each candidate: features built once per kind and scaling (by the
    job's `TraitInputs`), the kNN graph of the relationship matrix once per k (by the graph rule's
    own function).

    `snp_feature_limit`: a candidate whose own change asks for SNP features is tried only where
    the SNPs number at most this many per training accession, so its first layer costs at most
    that many times a GRM-row candidate's."""

    def __init__(self, inputs, snp_feature_limit):
        self.inputs, self.snp_feature_limit = inputs, snp_feature_limit
        self.n_train = int(inputs.split["set"].eq("train").sum())
        self.graphs = {}

    def skip_reason(self, candidate):
        """Why a candidate is not tried here, or None."""
        if candidate.change.get("node_features") != "genotypes":
            return None
        if not self.inputs.matrix_paths:
            return "SNP features need genotypes"
        n_snps = self.inputs.n_snps
        if n_snps > self.snp_feature_limit * self.n_train:
            return (
                f"{n_snps} SNPs are more than select.snp_feature_limit ({self.snp_feature_limit:g}) "
                f"x {self.n_train} training accessions"
            )
        return None

    def problem(self, candidate):
        problem = self.inputs.problem(candidate.node_features == "genotypes", candidate.settings.features)
        relationships = self.inputs.relationships
        rows = relationships[1]
        if candidate.k not in self.graphs:
            self.graphs[candidate.k] = relationship_graph(*relationships, candidate.k)
        if problem.ids != rows:
            raise InputError(self.inputs.grm_path, "accession order differs from the node features'")
        return problem.with_graph(*self.graphs[candidate.k], candidate.self_loop_weight)


@dataclasses.dataclass
class Chosen:
    """The candidate chosen on every training accession, with its training problem: what the GCN
    of each CV fold trains with."""

    candidate: Candidate
    problem: object
    table: pd.DataFrame  # every candidate's score


def train_gcn(problem, settings, label, offsets=None):
    """The fold ensemble, its members trained as batched models; `offsets`: fit_ensemble's, by
    inner fold."""
    runner = job_runner(settings)
    problem = runner.prepare(problem)
    return fit_ensemble_batched(lambda: runner.build_model(problem, settings), problem, settings, label, offsets)


def job_runner(settings):
    """Where the per-trait job trains: on the CPU over the threads the job was given (intra-op),
    or on one GPU with `train.device: cuda`."""
    return IntraOp(torch.get_num_threads(), settings) if settings.device == "cpu" else Serial(1, settings)


def choose_gcn(problems, choices, y, trait, offsets):
    """Train every candidate's fold ensemble; return the table of scores, and the best
    candidate with its problem and result."""
    rows, best = [], None
    for i, candidate in enumerate(choices, 1):
        skipped = problems.skip_reason(candidate)
        if skipped:
            log.info("%s: candidate %s not tried: %s", trait, candidate.name, skipped)
            rows.append({"candidate": candidate.name, "cv_pearson_r": np.nan, "seconds": 0.0, "skipped": skipped})
            continue
        start = time.perf_counter()
        problem = problems.problem(candidate)
        label = f"{trait}: candidate {i} of {len(choices)} ({candidate.name})"
        result = train_gcn(problem, candidate.settings, label, offsets)
        score = pearson_r(*finite_pairs(result.validation_predictions, y))
        log.info("%s: candidate %s: out-of-fold r %.4f", trait, candidate.name, score)
        rows.append(
            {"candidate": candidate.name, "cv_pearson_r": score, "seconds": time.perf_counter() - start, "skipped": ""}
        )
        if best is None or score > best[0]:
            best = (score, candidate, problem, result)
    if best is None:
        raise InputError(
            "select.candidates", f"no candidate can be tried here: {'; '.join(r['skipped'] for r in rows)}"
        )
    return pd.DataFrame(rows), best[1:]


def finite_pairs(predicted, y):
    known = np.isfinite(predicted) & np.isfinite(y)
    return predicted[known], y[known]


def fit_training_accessions(fold, settings, inputs):
    """The GCN on every training accession: its settings chosen among the candidates, the chosen
    candidate's ensemble, and for the stack's evidence the same settings refitted from another
    seed (`FoldFit.chosen`: the choice, kept for the CV folds)."""
    around = around_fit(fold)
    choices = candidates(settings["train"], settings["graph"], settings["candidates"], settings["node_features"])
    problems = CandidateProblems(inputs, settings["snp_feature_limit"])
    table, (chosen, problem, result) = choose_gcn(problems, choices, fold.y, inputs.trait, around.offsets)
    log.info("%s: chose %s", inputs.trait, chosen.name)
    # The chosen candidate's out-of-fold r is the best of several, so it flatters the GCN; the
    # stack weighs it by the same settings refitted from another seed, as it does in every CV fold
    # (where the settings are given, not chosen).
    refit_settings = dataclasses.replace(chosen.settings, seed=chosen.settings.seed + 1)
    refit = train_gcn(
        problem, refit_settings, f"{inputs.trait}: chosen settings refitted for the stack", around.offsets
    )
    record = {"selection": selection_record(table, chosen, refit.validation_predictions, fold.y)}
    return FoldFit(
        result.predictions,
        refit.validation_predictions,
        details=record,
        chosen=Chosen(chosen, problem, table),
        trained=result,
    )


def selection_record(table, chosen, evidence, y):
    """What metrics.json says of the choice (the stack's, whose predictions hold the GCN's, too)."""
    return {
        "candidates": table.to_dict("records"),
        "chosen": chosen.name if chosen else None,
        "graph_k": chosen.k if chosen else None,
        "self_loop_weight": chosen.self_loop_weight if chosen else None,
        # The out-of-fold r of the refit whose predictions the stack is weighed on.
        "stack_evidence_cv_pearson_r": pearson_r(*finite_pairs(evidence, y)) if chosen else None,
    }


def around_fit(fold):
    """The fit whose fixed effects the GCN learns around; where it failed, the GCN fails too."""
    around = fold.fits[LEARNS_AROUND]
    if around.failed:
        raise ModelFailure(f"it learns around {MODELS[LEARNS_AROUND].display}'s fixed effects, which failed")
    return around


def fit_fold(fold, settings):
    """The chosen settings' ensemble trained on the fold's training accessions."""
    fitted = fit_folds([fold], settings)[0]
    if isinstance(fitted, Exception):
        raise fitted
    return fitted


def fit_folds(folds, settings):
    """The chosen settings' ensemble on each outer fold's training accessions, every member of
    every fold trained in shared batched models (they share the chosen candidate's features and
    graph); per fold its FoldFit, or the ModelFailure of a fold whose fixed effects failed."""
    chosen = settings["chosen"]
    runner = job_runner(chosen.candidate.settings)
    results, ensembles = {}, []
    for i, fold in enumerate(folds):
        try:
            around = around_fit(fold)
        except ModelFailure as error:
            results[i] = error
            continue
        held_out = runner.prepare(chosen.problem.with_sets_of(fold.held_out))
        offsets = {f: held_out.rescaled(o, fold.problem) for f, o in around.offsets.items()}
        ensembles.append((i, held_out, offsets))
    if ensembles:
        build = lambda: runner.build_model(ensembles[0][1], chosen.candidate.settings)  # noqa: E731
        label = f"{folds[0].label.rsplit(':', 1)[0]}: {len(ensembles)} fold ensembles"
        trained = fit_ensembles_batched(build, [(h, o) for _, h, o in ensembles], chosen.candidate.settings, label)
        for (i, held_out, _), result in zip(ensembles, trained):
            fold = folds[i]
            results[i] = FoldFit(
                fold.problem.rescaled(result.predictions, held_out),
                fold.problem.rescaled(result.validation_predictions, held_out),
            )
    return [results[i] for i in range(len(folds))]


def write_files(outputs, problem, fit, record):
    """Its metrics.json and predictions.tsv with what the training says of the run, its epochs
    and its candidates' scores (empty where it failed)."""
    # Trained by the job's batched members, not by one of the timed strategies.
    record = {"strategy": None, "batched_members": True, "threads": torch.get_num_threads(), **record}
    if fit.failed:
        table = pd.DataFrame(columns=["candidate", "cv_pearson_r", "seconds", "skipped"])
        epochs = pd.DataFrame(columns=["fold", "epoch", "train_loss", "val_loss", "val_r", "seconds"])
        write_tsv(outputs["epochs"], epochs)
        record["selection"] = selection_record(table, None, None, None)
        write_model_outputs(outputs, problem, fit.predicted, record)
    else:
        table = fit.chosen.table
        write_training_outputs(outputs, fit.chosen.problem, fit.chosen.candidate.settings, fit.trained, record)
    write_tsv(outputs["candidates"], table, float_format="%.6g")
