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

from ..dataset import load_problem
from ..errors import InputError
from ..graph import relationship_graph
from ..kinship import read_kinship
from ..metrics import pearson_r
from ..strategies import Serial
from ..train import TrainSettings, fit_ensemble
from .fold import FoldFit

log = logging.getLogger(__name__)

# What a candidate may change: graph settings and training settings.
GRAPH_KEYS = ("k", "self_loop_weight")
TRAIN_KEYS = ("lr", "weight_decay", "features", "dropout")


@dataclasses.dataclass
class Candidate:
    change: dict  # the keys it changes from the configured settings
    settings: TrainSettings
    k: int
    self_loop_weight: float

    @property
    def name(self):
        return ", ".join(f"{key}={value}" for key, value in self.change.items()) or "as configured"


def candidates(train, graph, changes):
    """One Candidate per change (a dict of GRAPH_KEYS and TRAIN_KEYS) to the configured settings."""
    found = []
    for change in changes or [{}]:
        unknown = sorted(set(change) - set(GRAPH_KEYS) - set(TRAIN_KEYS))
        if unknown:
            raise ValueError(f"select.candidates: unknown key {', '.join(unknown)}")
        settings = TrainSettings(**{**train, **{k: v for k, v in change.items() if k in TRAIN_KEYS}})
        found.append(
            Candidate(
                dict(change),
                settings,
                change.get("k", graph["k"]),
                change.get("self_loop_weight", graph["self_loop_weight"]),
            )
        )
    return found


class CandidateProblems:
    """The training problem of each candidate: features loaded once per scaling, the kNN graph
    of the relationship matrix once per k (by the graph rule's own function)."""

    def __init__(self, problem_files, grm_path):
        self.problem_files, self.grm_path = problem_files, grm_path
        self.grm = read_kinship(grm_path)
        self.features, self.graphs = {}, {}

    def problem(self, candidate):
        scaling = candidate.settings.features
        if scaling not in self.features:
            self.features[scaling] = load_problem(**self.problem_files, graph_path=None, features=scaling)
        problem = self.features[scaling]
        if candidate.k not in self.graphs:
            self.graphs[candidate.k] = relationship_graph(*self.grm, candidate.k)
        if problem.ids != self.grm[1]:
            raise InputError(self.grm_path, "accession order differs from the node features'")
        return problem.with_graph(*self.graphs[candidate.k], candidate.self_loop_weight)


def train_gcn(problem, settings, label, offsets=None):
    """The fold ensemble; `offsets`: fit_ensemble's, by inner fold."""
    serial = Serial(1, settings)
    problem = serial.prepare(problem)
    return fit_ensemble(
        lambda: serial.build_model(problem, settings), problem, settings, serial, label=label, offsets=offsets
    )


def choose_gcn(problems, choices, y, trait, offsets):
    """Train every candidate's fold ensemble; return the table of scores, and the best
    candidate with its problem and result."""
    rows, best = [], None
    for i, candidate in enumerate(choices, 1):
        start = time.perf_counter()
        problem = problems.problem(candidate)
        label = f"{trait}: candidate {i} of {len(choices)} ({candidate.name})"
        result = train_gcn(problem, candidate.settings, label, offsets)
        score = pearson_r(*finite_pairs(result.validation_predictions, y))
        log.info("%s: candidate %s: out-of-fold r %.4f", trait, candidate.name, score)
        rows.append({"candidate": candidate.name, "cv_pearson_r": score, "seconds": time.perf_counter() - start})
        if best is None or score > best[0]:
            best = (score, candidate, problem, result)
    return pd.DataFrame(rows), best[1:]


def finite_pairs(predicted, y):
    known = np.isfinite(predicted) & np.isfinite(y)
    return predicted[known], y[known]


def fit_fold(fold):
    """The chosen settings' ensemble trained on the fold's training accessions."""
    offsets = {f: fold.held_out.rescaled(o, fold.problem) for f, o in fold.fits["gblup_loci"].offsets.items()}
    result = train_gcn(fold.held_out, fold.settings, fold.label, offsets)
    return FoldFit(
        fold.problem.rescaled(result.predictions, fold.held_out),
        fold.problem.rescaled(result.validation_predictions, fold.held_out),
    )
