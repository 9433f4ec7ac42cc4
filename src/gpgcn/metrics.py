"""Accuracy measures and the provenance every metrics.json carries."""

import platform
import socket
from importlib.metadata import PackageNotFoundError, version

import numpy as np


def pearson_r(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def paired_bootstrap_difference(observed, predicted, reference, n_resamples=2000, seed=0):
    """95 % interval of r(predicted) - r(reference) over the same accessions resampled with
    replacement: how far one test draw can move the difference between two models."""
    observed, predicted, reference = (np.asarray(v, float) for v in (observed, predicted, reference))
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_resamples):
        pick = rng.integers(0, len(observed), len(observed))
        differences.append(pearson_r(predicted[pick], observed[pick]) - pearson_r(reference[pick], observed[pick]))
    low, high = np.nanpercentile(differences, [2.5, 97.5])
    return float(low), float(high)


def r_squared(observed, predicted):
    observed, predicted = np.asarray(observed, float), np.asarray(predicted, float)
    return float(1.0 - np.sum((observed - predicted) ** 2) / np.sum((observed - observed.mean()) ** 2))


def rmse(observed, predicted):
    return float(np.sqrt(np.mean((np.asarray(observed, float) - np.asarray(predicted, float)) ** 2)))


def accuracy(observed, predicted, prefix="test"):
    return {
        f"{prefix}_pearson_r": pearson_r(observed, predicted),
        f"{prefix}_r2": r_squared(observed, predicted),
        f"{prefix}_rmse": rmse(observed, predicted),
    }


def model_record(
    *,
    strategy,
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
    **extra,
):
    """The metrics.json record every model writes: test accuracy, cross-validated accuracy over
    the published CV repeats (if any), sizes, timings, and provenance; `extra` adds the model's own."""
    return {
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
        "cv_pearson_r_sd": float(np.std(cv_scores)) if len(cv_scores) else None,
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
