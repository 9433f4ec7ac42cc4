"""What every model writes: its metrics.json record (accuracy, provenance) and its
predictions.tsv; one home for the training stages and the per-trait job."""

import platform
import socket
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from .io import write_json, write_tsv
from .statistics import accuracy


def node_sets(problem):
    sets = np.full(len(problem.ids), "unlabelled", dtype=object)
    sets[problem.train_idx.cpu().numpy()] = "train"
    sets[problem.test_idx.cpu().numpy()] = "test"
    return sets


def prediction_frame(problem, predicted):
    """Every accession's prediction on the trait's scale, from one on the standardised scale."""
    return pd.DataFrame(
        {
            "ID": problem.ids,
            "observed": problem.observed,
            "predicted": predicted * problem.y_sd + problem.y_mean,
            "set": node_sets(problem),
        }
    )


def write_training_outputs(outputs, problem, settings, result, record):
    """A trained GCN's files: epochs.tsv, and its predictions.tsv and metrics.json
    (`write_model_outputs`) with what the training says of the run; `record` adds to (or
    overrides) that."""
    write_tsv(outputs["epochs"], pd.DataFrame(result.epochs), float_format="%.6g")
    training = {
        "n_snps": problem.n_snps,
        "epochs": len(result.epochs),
        "seconds_per_epoch_median": seconds_per_epoch(result.epochs, settings.warmup_epochs),
        "seed": settings.seed,
        "ensemble_members": len(result.best_epochs),
        "best_epochs": result.best_epochs,
        # Each member's r on the fold that also chose its stopping epoch: slightly optimistic.
        "validation_pearson_r_mean": float(np.mean(result.validation_r)),
        "validation_pearson_r_sd": float(np.std(result.validation_r)),
        "settings": vars(settings),
    }
    write_model_outputs(outputs, problem, result.predictions, {**training, **record})


def write_model_outputs(outputs, problem, predicted, record):
    """A model's files from its predictions on `problem`'s standardised scale."""
    return write_model_files(
        outputs,
        prediction_frame(problem, predicted),
        {"n_train": int((problem.fold > 0).sum()), "n_features": problem.n_snps, **record},
    )


def write_model_files(outputs, frame, record):
    """The one writer of a model's files: predictions.tsv (`frame`: every accession's ID,
    observed value, prediction on the trait's scale and set) and metrics.json (its accuracy on the
    test accessions, `record` and the run's provenance: `model_record`)."""
    write_tsv(outputs["predictions"], frame, float_format="%.6g")
    test = frame["set"].eq("test").to_numpy()
    observed, predicted = frame["observed"].to_numpy()[test], frame["predicted"].to_numpy()[test]
    write_json(outputs["metrics"], model_record(observed=observed, predicted=predicted, **record))
    return frame


def seconds_per_epoch(records, warmup_epochs):
    """Median epoch wall time, each member's warm-up epochs excluded."""
    timed = [r["seconds"] for r in records if r["epoch"] >= warmup_epochs] or [r["seconds"] for r in records]
    return float(np.median(timed))


def model_record(
    *,
    model,
    observed,
    predicted,
    n_train,
    seconds_total,
    cv_scores=(),
    n_devices=1,
    device="cpu",
    n_snps=None,
    epochs=None,
    seconds_per_epoch_median=None,
    seed=None,
    strategy=None,
    recommended=False,
    failed=None,
    **extra,
):
    """The metrics.json record every model writes: test accuracy, cross-validated accuracy over
    the published CV repeats (if any), sizes, timings, and provenance; `extra` adds the model's own.
    `model` names it in the model registry, `recommended` marks the model the trait's predictions
    come from; `strategy` the parallel strategy that trained it (None for a model not trained by
    one); `failed` why the model could not be fitted (its predictions are then missing)."""
    return {
        "model": model,
        "recommended": recommended,
        "failed": failed,
        "strategy": strategy,
        "n_devices": n_devices,
        "device": device,
        **accuracy(observed, predicted),
        "n_train": int(n_train),
        "n_test": len(observed),
        "n_snps": None if n_snps is None else int(n_snps),
        "epochs": epochs,
        "seconds_total": seconds_total,
        "seconds_per_epoch_median": seconds_per_epoch_median,
        "seed": seed,
        "cv_repeats": len(cv_scores),
        "cv_pearson_r": [float(r) for r in cv_scores],
        "cv_pearson_r_mean": float(np.mean(cv_scores)) if len(cv_scores) else None,
        # One repeat has no spread to measure.
        "cv_pearson_r_sd": float(np.std(cv_scores)) if len(cv_scores) > 1 else None,
        **extra,
        "versions": versions(),
        **host_info(),
    }


def versions():
    found = {"python": platform.python_version()}
    for package in ("torch", "torch_geometric", "snakemake", "numpy", "pysam"):
        try:
            found[package] = version(package.replace("_", "-"))
        except PackageNotFoundError:
            found[package] = None
    return found


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info():
    return {"host": socket.gethostname(), "cpu_model": cpu_model()}
