"""Summary tables and plots for the Snakemake report."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.kinship import genome_funnel  # noqa: E402
from ..io import write_tsv  # noqa: E402
from ..models import MODELS, REFERENCE  # noqa: E402
from ..statistics import paired_bootstrap_difference, pearson_r  # noqa: E402
from .figures import save_figure  # noqa: E402


def read_model(metrics_path, predictions_path):
    with open(metrics_path) as handle:
        metrics = json.load(handle)
    predictions = pd.read_csv(predictions_path, sep="\t", dtype={"ID": str})
    return metrics, predictions


def model_name(metrics):
    return MODELS[metrics["model"]].display


def accuracy_table(models, genetic_values=None):
    """A row per trait and model: test accuracy, cross-validated r, the paired-bootstrap interval of
    the test r's difference to GBLUP's, and against the simulation's truth where known.

    `models`: (trait, metrics, predictions) with each trait's GBLUP among them.
    """
    rows = []
    by_reference = {trait: predictions for trait, metrics, predictions in models if metrics["model"] == REFERENCE}
    reference_cv = {trait: metrics["cv_pearson_r"] for trait, metrics, _ in models if metrics["model"] == REFERENCE}
    for trait, metrics, predictions in models:
        test = predictions[predictions["set"] == "test"]
        reference = by_reference[trait].set_index("ID").loc[test["ID"], "predicted"].to_numpy()
        low, high = (
            (np.nan, np.nan)
            if metrics.get("failed")
            else paired_bootstrap_difference(test["observed"], test["predicted"], reference)
        )
        row = {
            "trait": trait,
            "model": model_name(metrics),
            "test_pearson_r": metrics["test_pearson_r"],
            f"test_r_minus_{REFERENCE}": metrics["test_pearson_r"] - pearson_r(reference, test["observed"]),
            "bootstrap_95_low": low,
            "bootstrap_95_high": high,
            "cv_pearson_r_mean": metrics["cv_pearson_r_mean"],
            "cv_pearson_r_sd": metrics["cv_pearson_r_sd"],
            "cv_repeats": metrics["cv_repeats"],
            # Paired over the CV repeats: the same folds for both models.
            **cv_difference(metrics["cv_pearson_r"], reference_cv[trait]),
            "test_r2": metrics["test_r2"],
            "test_rmse": metrics["test_rmse"],
            "n_train": metrics["n_train"],
            "n_test": metrics["n_test"],
            "predicted_without_phenotype": int(predictions["set"].eq("unlabelled").sum()),
            "stack_weights": stack_weights_text(metrics),
            "gcn_share": metrics.get("gcn_share"),
            "loci_m": metrics.get("loci_m"),
            "gcn_settings": "; ".join(metrics["selection"]["averaged"]) if "selection" in metrics else None,
            # Why the model has no predictions; or what it was in this run (GBLUP + loci without genotypes).
            "note": f"failed: {metrics['failed']}" if metrics.get("failed") else metrics.get("note"),
        }
        if genetic_values is not None:
            truth = genetic_values[trait].reindex(test["ID"]).to_numpy()
            row["ceiling_r"] = pearson_r(truth, test["observed"])
            row["r_prediction_true_genetic_value"] = pearson_r(test["predicted"], truth)
        rows.append(row)
    return pd.DataFrame(rows)


def cv_difference(scores, reference_scores):
    """Mean and sd over the CV repeats of a model's r minus the reference model's (GBLUP's) on
    the same folds."""
    if not scores or len(scores) != len(reference_scores):
        return {f"cv_r_minus_{REFERENCE}_mean": None, f"cv_r_minus_{REFERENCE}_sd": None}
    difference = np.subtract(scores, reference_scores)
    return {
        f"cv_r_minus_{REFERENCE}_mean": float(difference.mean()),
        # One repeat has no spread to measure.
        f"cv_r_minus_{REFERENCE}_sd": float(difference.std()) if len(difference) > 1 else None,
    }


def stack_weights_text(metrics):
    """The stack's non-zero weights by model name ("GBLUP 0.62, RKHS 0.41"); None for another model."""
    weights = {name: metrics.get(f"weight_{name}") for name in MODELS}
    if not any(weight is not None for weight in weights.values()):
        return None
    return ", ".join(f"{MODELS[name].display} {w:.3g}" for name, w in weights.items() if w) or "none"


def loci_table(models):
    """The markers GBLUP + loci chose for each trait (on all its training accessions)."""
    rows = [{"trait": trait, **locus} for trait, metrics, _ in models for locus in metrics.get("loci", [])]
    return pd.DataFrame(rows, columns=["trait", "rank", "chrom", "pos", "id", "effect", "t"])


def variance_components_table(models):
    """Per trait, the phenotypic variance's parts as GBLUP's REML fit on all training accessions
    estimates them, on the trait's scale and as shares of their sum: the genomic values' (the
    share is the genomic heritability), each random covariate's, the residual."""
    rows = []
    for trait, metrics, _ in models:
        if metrics["model"] != REFERENCE or "reml" not in metrics:
            continue  # GBLUP failed: nothing estimated
        reml = metrics["reml"]
        parts = {
            "genomic": reml["genomic_variance"],
            **{f"random covariate {name}": value for name, value in reml.get("sigma_c2", {}).items()},
            "residual": reml["sigma_e2"],
        }
        total = sum(parts.values())
        rows += [{"trait": trait, "component": name, "variance": v, "share": v / total} for name, v in parts.items()]
    return pd.DataFrame(rows, columns=["trait", "component", "variance", "share"])


def model_choice_table(candidate_tables):
    """Every (trait, model, path) candidates table with their out-of-fold r and which were averaged."""
    frames = []
    for trait, _, path in candidate_tables:
        table = pd.read_csv(path, sep="\t")
        table.insert(0, "trait", trait)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def plot_accuracy_by_trait(table, path):
    """Each model's r minus GBLUP's per trait: on the test accessions with the paired-bootstrap
    95 % interval, and over the CV repeats (mean ± sd of the paired differences). The differences
    between models are a few hundredths of r; drawn from 0 they would not show."""
    traits = list(dict.fromkeys(table["trait"]))
    models = [m for m in dict.fromkeys(table["model"]) if m != MODELS[REFERENCE].display]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 0.5 * len(traits) * len(models) + 3), 4.2), sharey=True)
    width = 0.8 / len(models)
    panels = (
        (f"test_r_minus_{REFERENCE}", f"test r − {MODELS[REFERENCE].display}'s (95 % paired bootstrap)"),
        (f"cv_r_minus_{REFERENCE}_mean", f"CV r − {MODELS[REFERENCE].display}'s (mean ± sd over repeats)"),
    )
    for ax, (column, title) in zip(axes, panels):
        for i, model in enumerate(models):
            rows = table[table["model"] == model].set_index("trait").reindex(traits)
            x = np.arange(len(traits)) + (i - (len(models) - 1) / 2) * width
            value = rows[column].astype(float).to_numpy()
            if column == f"test_r_minus_{REFERENCE}":
                low, high = (rows[f"bootstrap_95_{end}"].astype(float).to_numpy() for end in ("low", "high"))
                # A percentile interval need not hold the estimate itself (few test accessions).
                error = np.clip([value - low, high - value], 0, None)
            else:
                error = rows[f"cv_r_minus_{REFERENCE}_sd"].astype(float).to_numpy()
            ax.bar(x, np.nan_to_num(value), width, yerr=np.nan_to_num(error), label=model, capsize=2)
        ax.set_xticks(np.arange(len(traits)), traits, rotation=30, ha="right")
        ax.set_title(title, fontsize=10)
        ax.axhline(0, color="k", lw=0.8)
        ax.grid(axis="y", lw=0.3)
        if table[column].isna().all():
            ax.text(0.5, 0.5, "no CV repeats in this split", transform=ax.transAxes, ha="center", color="0.4")
    axes[0].set_ylabel(f"difference in Pearson r to {MODELS[REFERENCE].display}")
    # Outside the axes: with few traits a legend inside covers the bars.
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    save_figure(fig, path)


def plot_predicted_vs_observed(models, path):
    """One panel per trait and model: predicted against observed, test accessions in red."""
    traits = list(dict.fromkeys(trait for trait, _, _ in models))
    per_trait = len(models) // len(traits)
    fig, axes = plt.subplots(len(traits), per_trait, figsize=(4.2 * per_trait, 4 * len(traits)), squeeze=False)
    for ax, (trait, metrics, predictions) in zip(axes.ravel(), models):
        for name, colour in (("train", "#bbbbbb"), ("test", "#d62728")):
            part = predictions[predictions["set"] == name]
            if len(part):
                ax.scatter(part["observed"], part["predicted"], s=10, c=colour, label=name, alpha=0.8)
        lo = np.nanmin(predictions[["observed", "predicted"]].to_numpy())
        hi = np.nanmax(predictions[["observed", "predicted"]].to_numpy())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(f"{trait}, {model_name(metrics)}: test r = {metrics['test_pearson_r']:.3f}", fontsize=9)
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


def data_table(snp_tables, funnels, graph_summary_path, split_summaries, study="the study list"):
    """What went into the models: where the study accessions came from, the SNP filter funnel and
    SNPs per chromosome, graph shape, and per trait the phenotypes kept, dropped and predicted
    without a phenotype."""
    rows = [("accessions", "study accessions", study)]
    rows += [("SNP filters, whole genome", step, count) for step, count in genome_funnel(funnels).items()]
    per_chromosome = {}  # the tables are per region, in genome order
    for path in snp_tables:
        for chrom, count in (
            pd.read_csv(path, sep="\t", usecols=["chrom"], dtype=str)["chrom"].value_counts(sort=False).items()
        ):
            per_chromosome[chrom] = per_chromosome.get(chrom, 0) + count
    rows += [("SNPs after filters", f"chromosome {chrom}", count) for chrom, count in per_chromosome.items()]
    with open(graph_summary_path) as handle:
        graph = json.load(handle)
    rows += [
        ("graph", "k", graph["k"]),
        ("graph", "edges", graph["n_edges"]),
        (
            "graph",
            "degree min / median / max",
            f"{graph['degree_min']} / {graph['degree_median']:g} / {graph['degree_max']}",
        ),
        ("graph", "connected components", graph["n_components"]),
    ]
    for path in split_summaries:
        with open(path) as handle:
            split = json.load(handle)
        what = f"phenotypes: {split['trait']}"
        rows += [
            (what, "accessions", split["n_accessions"]),
            (what, "phenotyped (train + test)", split["n_phenotyped"]),
            (what, "train / test", f"{split['n_train']} / {split['n_test']}"),
            (what, "predicted without a phenotype", split["n_accessions"] - split["n_phenotyped"]),
            (what, "dropped: missing value", len(split["missing_value_ids"])),
            (what, "dropped: not in phenotype table", len(split["no_phenotype_ids"])),
        ]
    return pd.DataFrame(rows, columns=["what", "item", "value"])


def report_stage(
    traits,
    model_files,
    snp_tables,
    funnels,
    graph_summary,
    split_summaries,
    outputs,
    genetic_values_path=None,
    study="the study list",
):
    """`model_files`: {trait: {model: {"metrics": path, "predictions": path, and its extra
    outputs}}}, read in trait and registry order (a model's epochs.tsv draws its learning curves,
    its candidates.tsv its choice); `study`: where the study accessions came from."""
    models = []
    for trait in traits:
        for name in MODELS:
            metrics, predictions = read_model(
                model_files[trait][name]["metrics"], model_files[trait][name]["predictions"]
            )
            if metrics["model"] != name:
                raise ValueError(f"{model_files[trait][name]['metrics']} is model {metrics['model']}, not {name}")
            models.append((trait, metrics, predictions))
    genetic = None
    if genetic_values_path:
        genetic = pd.read_csv(genetic_values_path, sep="\t", dtype={"ID": str}).set_index("ID")
    table = accuracy_table(models, genetic)
    write_tsv(outputs["accuracy"], table, float_format="%.4f")
    # A model with candidates.tsv chose its settings among them; one with epochs.tsv trained by epochs.
    extra = [(trait, name, model_files[trait][name]) for trait in traits for name in MODELS]
    choices = [(trait, name, files["candidates"]) for trait, name, files in extra if "candidates" in files]
    write_tsv(outputs["model_choice"], model_choice_table(choices), float_format="%.4f")
    write_tsv(outputs["data"], data_table(snp_tables, funnels, graph_summary, split_summaries, study))
    write_tsv(outputs["loci"], loci_table(models), float_format="%.4g")
    write_tsv(outputs["variance_components"], variance_components_table(models), float_format="%.4g")
    plot_accuracy_by_trait(table, outputs["by_trait"])
    plot_predicted_vs_observed(models, outputs["scatter"])
    runs = [
        (f"{trait} {MODELS[name].display}", pd.read_csv(files["epochs"], sep="\t"))
        for trait, name, files in extra
        if "epochs" in files
    ]
    plot_learning_curves(runs, outputs["learning_curves"])
