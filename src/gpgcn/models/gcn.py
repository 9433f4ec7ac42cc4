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

from ..data.graph import relationship_graph
from ..data.kinship import read_kinship
from ..errors import InputError
from ..gcn.problem import load_problem
from ..gcn.strategies import Serial
from ..gcn.training import TrainSettings, fit_ensemble
from ..statistics import pearson_r
from . import MODELS
from .fold import FoldFit, ModelFailure

log = logging.getLogger(__name__)
# The model whose fixed effects the GCN learns around, as the registry declares it.
LEARNS_AROUND = next(model.learns_around for model in MODELS.values() if model.module == __name__.rsplit(".", 1)[1])

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
    """The training problem of each candidate: features loaded once per kind and scaling, the
    kNN graph of the relationship matrix once per k (by the graph rule's own function).

    `problem_files`: load_problem's dosage arguments (no matrices in mode kinship, where every
    candidate trains on the GRM's rows); `snp_feature_limit`: a candidate whose own change asks
    for SNP features is tried only where the SNPs number at most this many per training
    accession, so its first layer costs at most that many times a GRM-row candidate's."""

    def __init__(self, problem_files, grm_path, snp_feature_limit):
        self.problem_files, self.grm_path = problem_files, grm_path
        self.grm = read_kinship(grm_path)
        self.snp_feature_limit = snp_feature_limit
        split = pd.read_csv(problem_files["split_path"], sep="\t", usecols=["set"])
        self.n_train = int(split["set"].eq("train").sum())
        self.features, self.graphs = {}, {}

    @property
    def has_genotypes(self):
        return bool(self.problem_files["matrix_paths"])

    def skip_reason(self, candidate):
        """Why a candidate is not tried here, or None."""
        if candidate.change.get("node_features") != "genotypes":
            return None
        if not self.has_genotypes:
            return "SNP features need genotypes"
        n_snps = sum(np.load(path, mmap_mode="r").shape[1] for path in self.problem_files["matrix_paths"])
        if n_snps > self.snp_feature_limit * self.n_train:
            return (
                f"{n_snps} SNPs are more than select.snp_feature_limit ({self.snp_feature_limit:g}) "
                f"x {self.n_train} training accessions"
            )
        return None

    def problem(self, candidate):
        on_snps = candidate.node_features == "genotypes" and self.has_genotypes
        key = (on_snps, candidate.settings.features)
        if key not in self.features:
            kinship_path = None if on_snps else self.grm_path
            self.features[key] = load_problem(
                **self.problem_files, kinship_path=kinship_path, graph_path=None, features=candidate.settings.features
            )
        problem = self.features[key]
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


def fit_fold(fold):
    """The chosen settings' ensemble trained on the fold's training accessions."""
    around = fold.fits[LEARNS_AROUND]
    if around.failed:
        raise ModelFailure(f"it learns around {MODELS[LEARNS_AROUND].display}'s fixed effects, which failed")
    offsets = {f: fold.held_out.rescaled(o, fold.problem) for f, o in around.offsets.items()}
    result = train_gcn(fold.held_out, fold.settings, fold.label, offsets)
    return FoldFit(
        fold.problem.rescaled(result.predictions, fold.held_out),
        fold.problem.rescaled(result.validation_predictions, fold.held_out),
    )
