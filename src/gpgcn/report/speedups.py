"""Speedup, efficiency and accuracy per training strategy, from the runs' own records."""

import html
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..gcn.strategies import STRATEGIES  # noqa: E402
from ..io import write_text, write_tsv  # noqa: E402
from ..models import MODELS  # noqa: E402
from ..statistics import pearson_r  # noqa: E402
from .figures import save_figure  # noqa: E402


def read_run(run_dir):
    with open(f"{run_dir}/metrics.json") as handle:
        metrics = json.load(handle)
    predictions = pd.read_csv(f"{run_dir}/predictions.tsv", sep="\t", dtype={"ID": str})
    epochs = pd.read_csv(f"{run_dir}/epochs.tsv", sep="\t")
    return metrics, predictions, epochs


# Floating-point reductions differ between strategies, so "reaching serial's best" allows 1 %.
REACH_TOLERANCE = 0.01


def seconds_to_reach(epochs, targets):
    """Training seconds until every member's validation loss first comes within 1 % of serial's
    best for that fold (summed over members); NaN if some member never does."""
    total = 0.0
    for fold, member in epochs.groupby("fold"):
        reached = member.index[member["val_loss"] <= targets.get(fold, -np.inf) * (1 + REACH_TOLERANCE)]
        if len(reached) == 0:
            return float("nan")
        total += member.loc[: reached[0], "seconds"].sum()
    return total


def timing_table(runs, planned):
    """A row per strategy and device count; strategies not run get a row saying why."""
    by_key = {(m["strategy"], m["n_devices"]): (m, p, e) for m, p, e in runs}
    serial_metrics, serial_predictions, serial_epochs = by_key[("serial", 1)]
    base = serial_metrics["seconds_per_epoch_median"]
    serial_test = serial_predictions[serial_predictions["set"] == "test"].set_index("ID")["predicted"]
    targets = serial_epochs.groupby("fold")["val_loss"].min().to_dict()
    rows = []
    for strategy in STRATEGIES:
        counts = planned.get(strategy) or []
        if not counts:
            rows.append({"strategy": strategy, "status": STRATEGIES[strategy].not_run})
            continue
        for n in counts:
            metrics, predictions, epochs = by_key[(strategy, n)]
            spe = metrics["seconds_per_epoch_median"]
            test = predictions[predictions["set"] == "test"].set_index("ID")["predicted"]
            row = {
                "strategy": strategy,
                "n_devices": n,
                "device": metrics["device"],
                "seconds_per_epoch_median": spe,
                "speedup": base / spe,
                "efficiency": base / spe / n,
                "speedup_vs_twin": np.nan,
                "seconds_to_serial_best": seconds_to_reach(epochs, targets),
                "test_pearson_r": metrics["test_pearson_r"],
                "r_with_serial_predictions": pearson_r(test, serial_test.reindex(test.index)),
                "cpu_busy_before": metrics.get("cpu_busy_before", np.nan),
                "status": "ok",
            }
            twin = (STRATEGIES[strategy].same_model_as, 1)  # a strategy with a model of its own
            if twin[0] != "serial" and twin in by_key:
                row["speedup_vs_twin"] = by_key[twin][0]["seconds_per_epoch_median"] / spe
            rows.append(row)
    return pd.DataFrame(rows)


def plot_scaling(table, column, ideal, ylabel, path):
    import matplotlib.pyplot as plt

    ran = table[table["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6, 4))
    counts = sorted(ran["n_devices"].unique())
    ax.plot(counts, [ideal(n) for n in counts], "k--", lw=0.8, label="ideal")
    for strategy, part in ran.groupby("strategy", sort=False):
        part = part.sort_values("n_devices")
        ax.plot(part["n_devices"], part[column], "o-", label=strategy)
    ax.set(xlabel="devices (cores or GPUs)", ylabel=ylabel, xticks=counts)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_accuracy(table, reference, reference_r, path):
    """Each run's test r, beside the reference model's (`reference`, its name)."""
    import matplotlib.pyplot as plt

    ran = table[table["status"] == "ok"]
    labels = [f"{s}/{int(n)}" for s, n in zip(ran["strategy"], ran["n_devices"])]
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(labels)), 4))
    ax.bar(labels, ran["test_pearson_r"], color="#4c72b0")
    ax.axhline(reference_r, color="#d62728", ls="--", label=f"{reference} r = {reference_r:.3f}")
    ax.set(ylabel="test Pearson r", ylim=(0, 1))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def scaling_summary(table):
    """Which strategy scaled, with the measured numbers and the mechanism behind them."""
    ran = table[(table["status"] == "ok") & (table["n_devices"] > 1)]
    items = []
    if len(ran):
        best = ran.loc[ran["speedup"].idxmax()]
        items.append(
            f"<p>Fastest: <b>{best['strategy']}</b> on {int(best['n_devices'])} devices, "
            f"{best['speedup']:.2f}× serial ({best['efficiency']:.0%} efficiency).</p>"
        )
    items.append("<ul>")
    for strategy in list(STRATEGIES)[1:]:
        part = table[table["strategy"] == strategy]
        if (part["status"] != "ok").all():
            items.append(f"<li><b>{strategy}</b>: {html.escape(part['status'].iloc[0])}.</li>")
            continue
        numbers = ", ".join(f"{int(n)} → {s:.2f}×" for n, s in zip(part["n_devices"], part["speedup"]))
        twin = part["speedup_vs_twin"].dropna()
        if len(twin):
            numbers += "; vs its twin: " + ", ".join(f"{int(n)} → {s:.2f}×" for n, s in zip(part["n_devices"], twin))
        items.append(
            f"<li><b>{strategy}</b> (speedup vs serial: {numbers}): {html.escape(STRATEGIES[strategy].parallel)}.</li>"
        )
    items.append("</ul>")
    busy = table["cpu_busy_before"].dropna()
    if len(busy):
        items.append(
            f"<p>CPU busy (all cores, other processes) in the second before each timed run: "
            f"{busy.min():.0%}–{busy.max():.0%}; above a few percent the timings are suspect.</p>"
        )
    return "<html><body><h3>Scaling</h3>" + "\n".join(items) + "</body></html>\n"


def aggregate_stage(run_dirs, planned, reference_metrics_path, outputs):
    """The strategies' timing table, plots and summary; `reference_metrics_path`: the metrics.json
    of the model the runs' accuracy is drawn beside (the registry's reference, GBLUP)."""
    runs = [read_run(d) for d in run_dirs]
    table = timing_table(runs, planned)
    write_tsv(outputs["timings"], table, float_format="%.4g")
    with open(reference_metrics_path) as handle:
        reference = json.load(handle)
    plot_scaling(table, "speedup", lambda n: n, "speedup vs serial (1 core)", outputs["speedup"])
    plot_scaling(table, "efficiency", lambda n: 1.0, "parallel efficiency", outputs["efficiency"])
    plot_accuracy(table, MODELS[reference["model"]].display, reference["test_pearson_r"], outputs["accuracy"])
    write_text(outputs["summary"], scaling_summary(table))
