"""Training strategies: each builds the model, splits the work, and runs the shared `fit`."""

import logging
import platform
import time

import numpy as np
import pandas as pd
import torch

from .dataset import load_problem
from .io import write_json, write_tsv
from .metrics import accuracy, host_info, versions
from .model import GCN
from .train import TrainSettings, fit_ensemble, seconds_per_epoch

log = logging.getLogger(__name__)


def gcn_builder(problem, settings):
    """A function returning a fresh GCN, identically initialised every time (same seed)."""

    def build():
        torch.manual_seed(settings.seed)
        return GCN(problem.n_snps, settings.hidden, settings.layers, settings.dropout)

    return build


def train_serial(problem, settings, n_devices):
    """The reference: one process on one CPU core."""
    torch.set_num_threads(1)
    return fit_ensemble(gcn_builder(problem, settings), problem, settings), {"device": "cpu", "threads": 1}


STRATEGIES = {"serial": train_serial}


def node_sets(problem):
    sets = np.full(len(problem.ids), "unlabelled", dtype=object)
    sets[problem.train_idx.cpu().numpy()] = "train"
    sets[problem.test_idx.cpu().numpy()] = "test"
    return sets


def write_training_outputs(outputs, problem, settings, result, strategy, n_devices, run_info, seconds_total):
    predicted = result.predictions * problem.y_sd + problem.y_mean
    sets = node_sets(problem)
    test = sets == "test"
    write_tsv(
        outputs.predictions,
        pd.DataFrame({"ID": problem.ids, "observed": problem.observed, "predicted": predicted, "set": sets}),
        float_format="%.6g",
    )
    write_tsv(outputs.epochs, pd.DataFrame(result.epochs), float_format="%.6g")
    metrics = {
        "strategy": strategy,
        "n_devices": n_devices,
        **accuracy(problem.observed[test], predicted[test]),
        "n_train": int(len(problem.train_idx)),
        "n_test": int(test.sum()),
        "n_snps": int(problem.n_snps),
        "epochs": len(result.epochs),
        "ensemble_members": len(result.best_epochs),
        "best_epochs": result.best_epochs,
        # Each member's r on the fold that also chose its stopping epoch: slightly optimistic.
        "validation_pearson_r_mean": float(np.mean(result.validation_r)),
        "validation_pearson_r_sd": float(np.std(result.validation_r)),
        "seconds_total": seconds_total,
        "seconds_per_epoch_median": seconds_per_epoch(result.epochs, settings.warmup_epochs),
        "seed": settings.seed,
        "settings": vars(settings),
        "versions": versions(),
        "platform": platform.platform(),
        **host_info(),
        **run_info,
    }
    write_json(outputs.metrics, metrics)


def train_stage(
    *, strategy, n_devices, matrix_paths, accessions_paths, graph_path, split_path, settings, self_loop_weight, outputs
):
    settings = TrainSettings(**settings)
    problem = load_problem(
        matrix_paths,
        accessions_paths,
        graph_path,
        split_path,
        features=settings.features,
        self_loop_weight=self_loop_weight,
    )
    log.info("%s on %d device(s): %d accessions, %d SNPs", strategy, n_devices, len(problem.ids), problem.n_snps)
    start = time.perf_counter()
    result, run_info = STRATEGIES[strategy](problem, settings, n_devices)
    seconds_total = time.perf_counter() - start
    log.info("%d epochs over %d member(s), best epochs %s", len(result.epochs), len(result.best_epochs), result.best_epochs)
    write_training_outputs(outputs, problem, settings, result, strategy, n_devices, run_info, seconds_total)
