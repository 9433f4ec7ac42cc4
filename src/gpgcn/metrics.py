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
