"""What every model writes, and every figure: one home for the training stages and the report."""

import numpy as np
import pandas as pd

from .io import atomic_path, write_json, write_tsv
from .metrics import model_record
from .train import seconds_per_epoch


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
    """predictions.tsv (every accession, on the trait's scale), epochs.tsv and metrics.json;
    `record` adds to (or overrides) what metrics.json says of the run."""
    frame = prediction_frame(problem, result.predictions)
    write_tsv(outputs["predictions"], frame, float_format="%.6g")
    write_tsv(outputs["epochs"], pd.DataFrame(result.epochs), float_format="%.6g")
    test = problem.test_idx.cpu().numpy()
    metrics = model_record(
        **{
            "observed": problem.observed[test],
            "predicted": frame["predicted"].to_numpy()[test],
            "n_train": len(problem.train_idx),
            "n_snps": problem.n_snps,
            "n_features": problem.n_snps,
            "epochs": len(result.epochs),
            "seconds_per_epoch_median": seconds_per_epoch(result.epochs, settings.warmup_epochs),
            "seed": settings.seed,
            "ensemble_members": len(result.best_epochs),
            "best_epochs": result.best_epochs,
            # Each member's r on the fold that also chose its stopping epoch: slightly optimistic.
            "validation_pearson_r_mean": float(np.mean(result.validation_r)),
            "validation_pearson_r_sd": float(np.std(result.validation_r)),
            "settings": vars(settings),
            **record,
        }
    )
    write_json(outputs["metrics"], metrics)


def save_figure(fig, path):
    """A figure as a PNG, written atomically, then closed (the plotting modules chose the backend)."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
