"""The accuracy models of one trait: the GCN with its settings chosen by cross-validation inside
the training accessions, and the hybrid, a blend of the GCN and GBLUP whose weight is chosen
the same way. The test accessions never influence a choice.

A candidate is a change to the configured GCN settings. Each is scored by the fold ensemble it
is trained as anyway: every member predicts the fold it was early-stopped on, and together they
predict every training accession out of fold. The best candidate's ensemble is the GCN; its
out-of-fold predictions, against GBLUP's on the same folds, choose the hybrid's weight.
"""

import dataclasses
import logging
import time

import numpy as np
import pandas as pd

from .dataset import load_problem
from .errors import InputError
from .gblup import SplitKinship
from .graph import kinship_knn_graph
from .io import write_json, write_tsv
from .metrics import blend_weight, model_record, pearson_r
from .outputs import prediction_frame, write_training_outputs
from .strategies import Serial
from .train import TrainSettings, fit_ensemble

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
        self.features, self.graphs = {}, {}

    def problem(self, candidate):
        scaling = candidate.settings.features
        if scaling not in self.features:
            self.features[scaling] = load_problem(**self.problem_files, graph_path=None, features=scaling)
        problem = self.features[scaling]
        if candidate.k not in self.graphs:
            self.graphs[candidate.k] = kinship_knn_graph(self.grm_path, candidate.k)
        edge_index, edge_weight, ids = self.graphs[candidate.k]
        if problem.ids != ids:
            raise InputError(self.grm_path, "accession order differs from the node features'")
        return problem.with_graph(edge_index, edge_weight, candidate.self_loop_weight)


def train_gcn(problem, settings, label):
    serial = Serial(1, settings)
    problem = serial.prepare(problem)
    return fit_ensemble(lambda: serial.build_model(problem, settings), problem, settings, serial, label=label)


def choose_gcn(problems, choices, y, trait):
    """Train every candidate's fold ensemble; return the table of scores, and the best
    candidate with its problem and result."""
    rows, best = [], None
    for i, candidate in enumerate(choices, 1):
        start = time.perf_counter()
        problem = problems.problem(candidate)
        result = train_gcn(problem, candidate.settings, f"{trait}: candidate {i} of {len(choices)} ({candidate.name})")
        score = pearson_r(*finite_pairs(result.validation_predictions, y))
        log.info("%s: candidate %s: out-of-fold r %.4f", trait, candidate.name, score)
        rows.append({"candidate": candidate.name, "cv_pearson_r": score, "seconds": time.perf_counter() - start})
        if best is None or score > best[0]:
            best = (score, candidate, problem, result)
    return pd.DataFrame(rows), best[1:]


def finite_pairs(predicted, y):
    known = np.isfinite(predicted) & np.isfinite(y)
    return predicted[known], y[known]


def cross_validate(problem, settings, gblup, y, trait):
    """Out-of-fold predictions of GBLUP, the GCN and the hybrid for each published CV repeat,
    each outer fold predicted by models trained on the other folds only; the hybrid's weight is
    chosen inside those other folds. Returns {repeat: {model: r}} and a table of the predictions
    (on the trait's scale) with each outer fold's weight."""
    scores, tables = {}, []
    for repeat, folds in problem.cv_repeats.items():
        predicted = {m: np.full(len(y), np.nan) for m in ("gblup", "gcn", "hybrid")}
        weight_of = np.full(len(y), np.nan)
        for held_fold in sorted(set(folds[folds > 0].tolist())):
            held = folds == held_fold
            inner = np.where(held, 0, folds)
            held_out = problem.holding_out(folds, held_fold)
            gcn = train_gcn(held_out, settings, f"{trait}: cross-validation {repeat}, outer fold {held_fold}")
            # GBLUP is equivariant to the target's scale, so both are blended on `problem`'s.
            gcn_out_of_fold = problem.rescaled(gcn.validation_predictions, held_out)
            gcn_held = problem.rescaled(gcn.predictions, held_out)[held]
            weight, _ = blend_weight(gcn_out_of_fold, gblup.out_of_fold(y, inner), y)
            gblup_held = gblup.predict(y, inner > 0)[held]
            predicted["gblup"][held] = gblup_held
            predicted["gcn"][held] = gcn_held
            predicted["hybrid"][held] = weight * gcn_held + (1 - weight) * gblup_held
            weight_of[held] = weight
        trained = folds > 0
        scores[repeat] = {m: pearson_r(p[trained], y[trained]) for m, p in predicted.items()}
        log.info("%s: cross-validation %s: %s", trait, repeat, {m: round(r, 4) for m, r in scores[repeat].items()})
        tables.append(
            pd.DataFrame(
                {
                    "ID": np.asarray(problem.ids)[trained],
                    "repeat": repeat,
                    "fold": folds[trained],
                    "observed": problem.observed[trained],
                    **{m: p[trained] * problem.y_sd + problem.y_mean for m, p in predicted.items()},
                    "gcn_weight": weight_of[trained],
                }
            )
        )
    columns = ["ID", "repeat", "fold", "observed", "gblup", "gcn", "hybrid", "gcn_weight"]
    return scores, pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


def trait_models_stage(*, problem_files, grm_path, trait, train, graph, changes, outputs):
    """Choose, fit and write the GCN and the hybrid of one trait, and the table of every
    accession's prediction from the hybrid (the recommended model).

    `problem_files`: load_problem's arguments but the graph's (matrix_paths, accessions_paths,
    split_path, and kinship_path or matrix_chromosomes); each candidate's graph is built from
    `grm_path`; `outputs`: gcn_*, hybrid_*, candidates,
    cv_predictions and table paths.
    """
    start = time.perf_counter()
    problems = CandidateProblems(problem_files, grm_path)
    choices = candidates(train, graph, changes)
    split_path = problem_files["split_path"]
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    first = problems.problem(choices[0])
    y = first.y.numpy().astype(float)
    table, (chosen, problem, result) = choose_gcn(problems, choices, y, trait)
    log.info("%s: chose %s", trait, chosen.name)
    gblup = SplitKinship(grm_path, split, split_path)
    train_nodes = problem.fold > 0
    weight, weight_r = blend_weight(result.validation_predictions, gblup.out_of_fold(y, problem.fold), y)
    log.info("%s: hybrid weight of the GCN %.2f (out-of-fold r %.4f)", trait, weight, weight_r)
    cv, cv_predictions = cross_validate(problem, chosen.settings, gblup, y, trait)
    write_tsv(outputs["cv_predictions"], cv_predictions, float_format="%.6g")
    choice = {
        "candidates": table.to_dict("records"),
        "chosen": chosen.name,
        "graph_k": chosen.k,
        "self_loop_weight": chosen.self_loop_weight,
        # Reported CV repeats reuse the training accessions whose folds chose the settings.
        "cv_settings_chosen_on_same_accessions": bool(cv),
    }
    write_tsv(outputs["candidates"], table, float_format="%.6g")
    common = {"n_devices": 1, "seconds_total": time.perf_counter() - start}
    write_training_outputs(
        {"metrics": outputs["gcn_metrics"], "predictions": outputs["gcn_predictions"], "epochs": outputs["gcn_epochs"]},
        problem,
        chosen.settings,
        result,
        {**common, "strategy": "gcn", "cv_scores": [s["gcn"] for s in cv.values()], "selection": choice},
    )
    hybrid = weight * result.predictions + (1 - weight) * gblup.predict(y, train_nodes)
    frame = prediction_frame(problem, hybrid)
    write_tsv(outputs["hybrid_predictions"], frame, float_format="%.6g")
    test = frame["set"].eq("test").to_numpy()
    write_json(
        outputs["hybrid_metrics"],
        model_record(
            strategy="hybrid",
            observed=frame["observed"][test],
            predicted=frame["predicted"][test],
            n_train=int(train_nodes.sum()),
            n_snps=problem.n_snps,
            seed=chosen.settings.seed,
            cv_scores=[s["hybrid"] for s in cv.values()],
            gcn_weight=weight,
            gcn_weight_out_of_fold_r=weight_r,
            cv_gcn_weights={
                repeat: rows.groupby("fold")["gcn_weight"].first().tolist()
                for repeat, rows in cv_predictions.groupby("repeat", sort=False)
            },
            cv_gblup_scores=[s["gblup"] for s in cv.values()],
            selection=choice,
            **common,
        ),
    )
    write_tsv(outputs["table"], prediction_table(frame, trait), float_format="%.6g")


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
