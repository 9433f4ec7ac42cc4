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
from .train import TrainSettings, fit, seconds_per_epoch

log = logging.getLogger(__name__)


def build_gcn(problem, settings):
    torch.manual_seed(settings.seed)
    return GCN(problem.n_snps, settings.hidden, settings.layers, settings.dropout)


def train_serial(problem, settings, n_devices):
    """The reference: one process on one CPU core."""
    torch.set_num_threads(1)
    model = build_gcn(problem, settings)
    return fit(model, problem, settings), {"device": "cpu", "threads": 1}


STRATEGIES = {"serial": train_serial}


def node_sets(problem):
    sets = np.full(len(problem.ids), "unlabelled", dtype=object)
    sets[problem.fit_idx.cpu().numpy()] = "train"
    sets[problem.val_idx.cpu().numpy()] = "validation"
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
        "n_train": int(len(problem.fit_idx) + len(problem.val_idx)),
        "n_fit": int(len(problem.fit_idx)),
        "n_validation": int(len(problem.val_idx)),
        "n_test": int(test.sum()),
        "n_snps": int(problem.n_snps),
        "epochs": len(result.epochs),
        "best_epoch": result.best_epoch,
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


def train_stage(*, strategy, n_devices, matrix_paths, accessions_paths, graph_path, split_path, settings, outputs):
    settings = TrainSettings(**settings)
    problem = load_problem(matrix_paths, accessions_paths, graph_path, split_path, settings.val_fold)
    log.info("%s on %d device(s): %d accessions, %d SNPs", strategy, n_devices, len(problem.ids), problem.n_snps)
    start = time.perf_counter()
    result, run_info = STRATEGIES[strategy](problem, settings, n_devices)
    seconds_total = time.perf_counter() - start
    log.info("stopped after %d epochs (best %d)", len(result.epochs), result.best_epoch)
    write_training_outputs(outputs, problem, settings, result, strategy, n_devices, run_info, seconds_total)
