"""Markdown tables of a finished workflow run's per-trait models, for the accuracy benchmark pages
(real_genotypes.py, real_traits_table.py): every model of the registry against the reference
model (GBLUP), read from the registry's fields, never a model's name."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gpgcn.models import MODELS, RECOMMENDED, REFERENCE  # noqa: E402

# What the recommended model is held against on every trait: every single model (not a combination).
SINGLE_MODELS = tuple(name for name, model in MODELS.items() if not model.combines)
GRAPH_MODEL = next(name for name, model in MODELS.items() if model.stack_role == "graph")
# The model that chooses its settings among candidates (the GCN), by the table it writes of them.
CHOOSING = next(name for name, model in MODELS.items() if "candidates.tsv" in model.extra_outputs)


def metrics(run, trait, model):
    return json.loads((run / f"results/models/{trait}/{model}/metrics.json").read_text())


def cv_difference(record, reference):
    """Mean and sd over the CV repeats of the paired difference in r to a reference model."""
    difference = np.subtract(record["cv_pearson_r"], reference["cv_pearson_r"])
    return difference.mean(), difference.std()


def what_it_chose(record):
    """The choices a model made on all training accessions, in a few words: a combination's
    weights, the candidates averaged, or the numbers it records of itself in every fold (those it also
    records per outer fold, in by_outer_fold)."""
    if MODELS[record["model"]].combines:
        weights = {name: record.get(f"weight_{name}", 0) for name in MODELS}
        return ", ".join(f"{MODELS[n].display} {w:.2f}" for n, w in weights.items() if w)
    if "selection" in record:
        return " + ".join(f"({name})" for name in record["selection"]["averaged"])
    own = list(record["by_outer_fold"])
    return ", ".join(f"{key} = {record[key]:g}" for key in own)


def accuracy_rows(run, traits):
    """Per trait and model: test r, its difference to the reference's with the paired-bootstrap
    interval, CV r and its paired difference to the reference's, and what the model chose."""
    accuracy = pd.read_csv(run / "results/summary/accuracy.tsv", sep="\t")
    name = MODELS[REFERENCE].display
    lines = [
        f"| trait | model | test r | test r − {name} [95 % bootstrap] | CV r (mean ± sd) | CV r − {name} (mean ± sd) |"
        " chosen on the training accessions |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        reference = metrics(run, trait, REFERENCE)
        for model, entry in MODELS.items():
            record = metrics(run, trait, model)
            row = accuracy[(accuracy["trait"] == trait) & (accuracy["model"] == entry.display)].iloc[0]
            cv_mean, cv_sd = cv_difference(record, reference)
            difference = row[f"test_r_minus_{REFERENCE}"]
            test = (
                ""
                if model == REFERENCE
                else f"{difference:+.3f} [{row.bootstrap_95_low:+.3f}, {row.bootstrap_95_high:+.3f}]"
            )
            lines.append(
                f"| {trait} | {entry.display} | {record['test_pearson_r']:.3f} | {test} | "
                f"{record['cv_pearson_r_mean']:.3f} ± {record['cv_pearson_r_sd']:.3f} | "
                f"{'' if model == REFERENCE else f'{cv_mean:+.3f} ± {cv_sd:.3f}'} | {what_it_chose(record)} |"
            )
    return lines


def average_rows(run, traits):
    """Each model's test and CV r averaged over the traits, and its difference to the reference's."""
    name = MODELS[REFERENCE].display
    lines = [f"| model | test r | CV r | test r − {name} | CV r − {name} |", "| --- | --- | --- | --- | --- |"]
    reference_test = np.mean([metrics(run, t, REFERENCE)["test_pearson_r"] for t in traits])
    reference_cv = np.mean([metrics(run, t, REFERENCE)["cv_pearson_r_mean"] for t in traits])
    for model, entry in MODELS.items():
        test = np.mean([metrics(run, t, model)["test_pearson_r"] for t in traits])
        cv = np.mean([metrics(run, t, model)["cv_pearson_r_mean"] for t in traits])
        lines.append(
            f"| {entry.display} | {test:.3f} | {cv:.3f} | {test - reference_test:+.3f} | {cv - reference_cv:+.3f} |"
        )
    return lines


def goal_rows(run, traits):
    """The recommended model's CV r against the best single model's on each trait, with the graph
    model's share of it."""
    graph = MODELS[GRAPH_MODEL].display
    lines = [
        "| trait | recommended CV r | best single model (CV r) | difference |"
        f" {graph}'s share (mean over outer folds) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        record = metrics(run, trait, RECOMMENDED)
        best = max(SINGLE_MODELS, key=lambda m: metrics(run, trait, m)["cv_pearson_r_mean"])
        best_r = metrics(run, trait, best)["cv_pearson_r_mean"]
        shares = [s for repeat in record["by_outer_fold"].get(f"{GRAPH_MODEL}_share", {}).values() for s in repeat]
        lines.append(
            f"| {trait} | {record['cv_pearson_r_mean']:.3f} | {MODELS[best].display} ({best_r:.3f}) | "
            f"{record['cv_pearson_r_mean'] - best_r:+.3f} | {np.mean(shares) if shares else 0:.2f} |"
        )
    return lines


def loci_rows(run, traits):
    """The loci of the model that records them (GBLUP + loci), per trait."""
    lines = ["| trait | m | markers (chrom:pos, joint effect per allele, scan t) |", "| --- | --- | --- |"]
    scanning = next(name for name in MODELS if "loci" in metrics(run, traits[0], name))
    for trait in traits:
        record = metrics(run, trait, scanning)
        loci = "; ".join(f"{x['chrom']}:{x['pos']} ({x['effect']:+.3g}, t {x['t']:.1f})" for x in record["loci"])
        lines.append(f"| {trait} | {record['loci_m']} | {loci or '–'} |")
    return lines


def write_page(page, lines):
    """A benchmark page from its lines."""
    page.write_text("\n".join(lines))
    print(f"wrote {page}")


def job_seconds(run, trait):
    """The wall seconds of each of a trait's model jobs, by job (cross_validate_N, trait_models)."""
    return {
        path.stem: float(pd.read_csv(path, sep="\t")["s"].iloc[0])
        for path in sorted((run / f"results/benchmarks/models/{trait}").glob("*.tsv"))
    }


def model_job_seconds(run, trait):
    """The wall seconds of a trait's model jobs summed: its CV jobs' and the job that gathers them."""
    return sum(job_seconds(run, trait).values())


def cost_rows(run, traits):
    """Seconds each model's fits took in its trait's jobs (on the training accessions, in the CV),
    and those jobs' wall times summed."""
    lines = [
        "| trait | " + " | ".join(MODELS[m].display for m in MODELS) + " | per-trait jobs |",
        "| --- |" + " --- |" * (len(MODELS) + 1),
    ]
    for trait in traits:
        spent = metrics(run, trait, RECOMMENDED)["seconds_by_model"]
        cells = [f"{spent[m]['training_accessions']:.0f} + {spent[m]['cross_validation']:.0f}" for m in MODELS]
        lines.append(f"| {trait} | " + " | ".join(cells) + f" | {model_job_seconds(run, trait) / 60:.1f} min |")
    return lines


# The commit whose pages hold the runs before every choice was nested (the GCN's settings chosen
# once among eight candidates and kept for the CV; the stack's GCN evidence from single members).
BEFORE_NESTED = "a2c627b"


def file_at(path, commit):
    """The repository's file at `path` (relative to its root) as it was at `commit`."""
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
    ).stdout


def page_before(page, commit=BEFORE_NESTED):
    """A benchmark page as it was at `commit` (docs/benchmarks/{page})."""
    return file_at(f"docs/benchmarks/{page}", commit)


def accuracy_cells(text, section=None):
    """{(trait, model display): (CV r mean, what was chosen)} from an accuracy table of a page's
    text (the part after the heading `## {section}`, up to the next one, where given)."""
    if section:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"-?\d\.\d{3} ± \d\.\d{3}", cells[4]):
            found[cells[0], cells[1]] = (float(cells[4].split()[0]), cells[6])
    return found


def cv_before(text, section=None):
    """{(trait, model display): CV r mean} from an accuracy table of a page's text."""
    return {key: cv for key, (cv, _) in accuracy_cells(text, section).items()}


def nested_rows(run, traits, before):
    """Per trait, the GCN's and the recommended model's CV r before (`before`: cv_before's, the
    choices not nested) and now (nested), and their difference."""
    lines = [
        "| trait | model | CV r before (not nested) | CV r now (nested) | before − now |",
        "| --- | --- | --- | --- | --- |",
    ]
    for trait in traits:
        for model in (GRAPH_MODEL, RECOMMENDED):
            display, now = MODELS[model].display, metrics(run, trait, model)["cv_pearson_r_mean"]
            old = before.get((trait, display))
            cells = ("–", "–") if old is None else (f"{old:.3f}", f"{old - now:+.3f}")
            lines.append(f"| {trait} | {display} | {cells[0]} | {now:.3f} | {cells[1]} |")
    return lines
