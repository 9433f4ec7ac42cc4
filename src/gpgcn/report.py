"""Summary tables and plots for the Snakemake report."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path, write_tsv  # noqa: E402
from .kinship import genome_funnel  # noqa: E402
from .metrics import pearson_r  # noqa: E402


def read_model(metrics_path, predictions_path):
    with open(metrics_path) as handle:
        metrics = json.load(handle)
    predictions = pd.read_csv(predictions_path, sep="\t", dtype={"ID": str})
    return metrics, predictions


def model_name(metrics):
    if metrics["strategy"] == "gblup":
        return "GBLUP"
    return f"GCN {metrics['strategy']} ({metrics['n_devices']})"


def accuracy_table(models, genetic_values=None):
    """A row per model: test accuracy, and against the simulation's truth where known."""
    rows = []
    for metrics, predictions in models:
        test = predictions[predictions["set"] == "test"]
        row = {
            "model": model_name(metrics),
            "test_pearson_r": metrics["test_pearson_r"],
            "test_r2": metrics["test_r2"],
            "test_rmse": metrics["test_rmse"],
            "n_train": metrics["n_train"],
            "n_test": metrics["n_test"],
        }
        if metrics.get("cv_pearson_r_mean") is not None:
            row["cv_pearson_r_mean"] = metrics["cv_pearson_r_mean"]
            row["cv_pearson_r_sd"] = metrics["cv_pearson_r_sd"]
        if genetic_values is not None:
            truth = genetic_values.reindex(test["ID"]).to_numpy()
            row["ceiling_r"] = pearson_r(truth, test["observed"])
            row["r_prediction_true_genetic_value"] = pearson_r(test["predicted"], truth)
        rows.append(row)
    return pd.DataFrame(rows)


def save_figure(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_predicted_vs_observed(models, path):
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4), squeeze=False)
    for ax, (metrics, predictions) in zip(axes[0], models):
        for name, colour in (("train", "#bbbbbb"), ("test", "#d62728")):
            part = predictions[predictions["set"] == name]
            if len(part):
                ax.scatter(part["observed"], part["predicted"], s=10, c=colour, label=name, alpha=0.8)
        lo = np.nanmin(predictions[["observed", "predicted"]].to_numpy())
        hi = np.nanmax(predictions[["observed", "predicted"]].to_numpy())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(f"{model_name(metrics)}: test r = {metrics['test_pearson_r']:.3f}")
        ax.set_xlabel("observed")
        ax.set_ylabel("predicted")
        ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_learning_curves(runs, path):
    fig, (loss_ax, r_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for name, epochs in runs:
        loss_ax.plot(epochs["epoch"], epochs["train_loss"], label=f"{name} train")
        loss_ax.plot(epochs["epoch"], epochs["val_loss"], "--", label=f"{name} validation")
        r_ax.plot(epochs["epoch"], epochs["val_r"], label=name)
    loss_ax.set(xlabel="epoch", ylabel="MSE (standardised trait)", yscale="log", title="loss")
    r_ax.set(xlabel="epoch", ylabel="Pearson r", title="validation r")
    loss_ax.legend(fontsize=8)
    r_ax.legend(fontsize=8)
    save_figure(fig, path)


def data_table(snp_tables, funnels, graph_summary_path, split_summary_path):
    """What went into the models: the SNP filter funnel and SNPs per chromosome, graph shape,
    phenotypes kept and dropped."""
    rows = [("SNP filters, whole genome", step, count) for step, count in genome_funnel(funnels).items()]
    per_chromosome = {}  # the tables are per region, in genome order
    for path in snp_tables:
        for chrom, count in (
            pd.read_csv(path, sep="\t", usecols=["chrom"], dtype=str)["chrom"].value_counts(sort=False).items()
        ):
            per_chromosome[chrom] = per_chromosome.get(chrom, 0) + count
    rows += [("SNPs after filters", f"chromosome {chrom}", count) for chrom, count in per_chromosome.items()]
    with open(graph_summary_path) as handle:
        graph = json.load(handle)
    with open(split_summary_path) as handle:
        split = json.load(handle)
    rows += [
        ("graph", "k", graph["k"]),
        ("graph", "edges", graph["n_edges"]),
        (
            "graph",
            "degree min / median / max",
            f"{graph['degree_min']} / {graph['degree_median']:g} / {graph['degree_max']}",
        ),
        ("graph", "connected components", graph["n_components"]),
        ("phenotypes", "accessions", split["n_accessions"]),
        ("phenotypes", "phenotyped (train + test)", split["n_phenotyped"]),
        ("phenotypes", "train / test", f"{split['n_train']} / {split['n_test']}"),
        ("phenotypes", "dropped: missing value", len(split["missing_value_ids"])),
        ("phenotypes", "dropped: not in phenotype table", len(split["no_phenotype_ids"])),
    ]
    return pd.DataFrame(rows, columns=["what", "item", "value"])


def report_stage(
    model_files, epochs_files, snp_tables, funnels, graph_summary, split_summary, outputs, genetic_values_path=None
):
    models = [read_model(m, p) for m, p in model_files]
    genetic = None
    if genetic_values_path:
        table = pd.read_csv(genetic_values_path, sep="\t", dtype={"ID": str})
        genetic = table.set_index("ID")["genetic_value"]
    write_tsv(outputs.accuracy, accuracy_table(models, genetic), float_format="%.4f")
    write_tsv(outputs.data, data_table(snp_tables, funnels, graph_summary, split_summary))
    plot_predicted_vs_observed(models, outputs.scatter)
    runs = [(model_name(metrics), pd.read_csv(e, sep="\t")) for (metrics, _), e in zip(models, epochs_files)]
    plot_learning_curves(runs, outputs.learning_curves)
