"""The stack's rule, replayed: every outer CV fold's stack inputs (each model's out-of-fold
predictions of the fold's training accessions and its predictions of the held-out ones) as the
accuracy benchmarks' runs wrote them, and the nested CV r each rule would give, per trait, against
the best single model's. Writes docs/benchmarks/stack_rules.md.

The inputs come from the accuracy pages' runs with the dump hook on (benchmarks/stack_dump), each
page's folder under benchmarks/out removed first so that its workflow runs again:

    rm -rf benchmarks/out/{real_traits,real_genotypes,default_cost,stack_rules}
    export PYTHONPATH=$PWD/benchmarks/stack_dump
    GPGCN_STACK_DUMP=$PWD/benchmarks/out/stack_rules/real_traits make benchmark-real-traits
    GPGCN_STACK_DUMP=$PWD/benchmarks/out/stack_rules/real_genotypes .venv/bin/python benchmarks/real_genotypes.py
    GPGCN_STACK_DUMP=$PWD/benchmarks/out/stack_rules/default_cost .venv/bin/python benchmarks/default_cost.py
    .venv/bin/python benchmarks/stack_rules.py
"""

import collections
import pickle
import platform
import sys
from datetime import date
from itertools import combinations

import numpy as np
from model_tables import REPO
from scipy.optimize import nnls

from gpgcn.models import MODELS
from gpgcn.models.stack import covered, least_squares_weights, stack_weights
from gpgcn.statistics import one_standard_error_choice, pearson_r

DUMPS = REPO / "benchmarks" / "out" / "stack_rules"
PAGE = REPO / "docs" / "benchmarks" / "stack_rules.md"
SOURCES = {
    "real_traits": "ft10_383 (306 training accessions, GRM only)",
    "real_genotypes": "wheat_599 and mice_1814 (all ten CV repeats)",
    "default_cost": "default_cost's simulated cohort (162 accessions)",
}


def one_subset(out_of_fold, y):
    """The rule before: of the non-empty subsets (least-squares weights), the simplest whose
    out-of-fold r is within one standard error of the best; simpler is fewer models."""
    names = list(out_of_fold)
    known = covered(out_of_fold, y)
    fitted, combined, complexity = [], [], []
    for subset in (s for size in range(1, len(names) + 1) for s in combinations(names, size)):
        columns = np.column_stack([out_of_fold[name] for name in subset])
        if len(subset) == 1:
            weights = np.ones(1)
        else:
            weights, _ = nnls(columns[known] - columns[known].mean(axis=0), y[known] - y[known].mean())
            weights = weights / weights.sum() if weights.sum() > 0 else weights
        complexity.append(int((weights > 0).sum()) or len(subset))
        fitted.append(dict(zip(subset, weights)))
        combined.append(columns @ weights)
    return fitted[one_standard_error_choice(combined, y, complexity)[0]]


def least_squares_once(out_of_fold, y):
    """Least-squares weights on all accessions, not bagged."""
    known = covered(out_of_fold, y)
    columns = np.column_stack([p[known] for p in out_of_fold.values()])
    return dict(zip(out_of_fold, least_squares_weights(columns, y[known])))


def best_single(out_of_fold, y):
    """The model whose out-of-fold r is highest, alone."""
    known = covered(out_of_fold, y)
    scores = {name: pearson_r(p[known], y[known]) for name, p in out_of_fold.items()}
    return {max(scores, key=scores.get): 1.0}


RULES = {
    "bagged least squares (the stack)": stack_weights,
    "one subset within one standard error (before)": one_subset,
    "least squares, not bagged": least_squares_once,
    "the best single model": best_single,
}


def load(folder):
    """{trait: {"training": the fit on all training accessions, "outer": {(repeat, fold): fit}}},
    each fit its record as the dump hook wrote it."""
    traits = collections.defaultdict(lambda: {"outer": {}})
    for path in sorted(folder.glob("*.pkl")):
        record = pickle.loads(path.read_bytes())
        trait, where = record["label"].split(": ", 1)
        if where.startswith("cross-validation"):
            repeat, fold = where.removeprefix("cross-validation ").split(", outer fold ")
            traits[trait]["outer"][(repeat, int(fold))] = record
        else:
            traits[trait]["training"] = record
    return {trait: found for trait, found in traits.items() if found["outer"] and "training" in found}


def nested_cv(found, weigh):
    """Mean over repeats of the pooled r of the held-out folds' predictions, each fold's weights
    from `weigh` on its own training accessions' out-of-fold predictions."""
    trained = found["training"]["folds"] > 0
    y = found["training"]["y"]
    predicted = collections.defaultdict(lambda: np.full(len(y), np.nan))
    for (repeat, _), record in found["outer"].items():
        held = trained & (record["folds"] == 0)
        weights = weigh({name: fits[0] for name, fits in record["models"].items()}, record["y"])
        combined = sum(w * record["models"][name][1] for name, w in weights.items())
        predicted[repeat][held] = combined[held]
    return float(np.mean([pearson_r(p[trained], y[trained]) for p in predicted.values()]))


def rows():
    """Per trait: its source, each single model's nested CV r, each rule's, and the commit of the
    code whose fits were dumped."""
    found = []
    for source in SOURCES:
        for trait, fits in sorted(load(DUMPS / source).items()):
            singles = {name: nested_cv(fits, lambda oof, y, n=name: {n: 1.0}) for name in fits["training"]["models"]}
            by_rule = {rule: nested_cv(fits, weigh) for rule, weigh in RULES.items()}
            found.append((source, trait, singles, by_rule, fits["training"].get("commit", "not recorded")))
    return found


def page(found):
    commits = sorted({commit for *_, commit in found})
    lines = [
        "# The stack's rule, replayed on every outer fold",
        "",
        "What each rule for the stack's weights would give, on the same evidence: every outer CV fold's stack",
        "inputs (each model's out-of-fold predictions of the fold's training accessions, its predictions of",
        "the held-out accessions), as the accuracy pages' runs wrote them, combined under each rule and",
        "scored as the pages score the stack (out-of-fold predictions pooled per repeat, r averaged over",
        "repeats). Only the rule differs; the models, folds and evidence are the same. The rule before is",
        "the stack's until 71915f3, here on the evidence the stack weighs now (the GCN's candidates chosen",
        "without each inner fold).",
        f"Inputs from the runs of {'; '.join(SOURCES.values())}; models at {', '.join(commits)}, on",
        f"{platform.node()} ({platform.machine()}), {date.today().isoformat()}.",
        "",
        "Reproduce (needs `../shared` beside the checkout; the accuracy pages are rewritten too):",
        "",
        "```sh",
        *(line.strip() for line in __doc__.split("\n\n")[2].strip().splitlines()),
        "```",
        "",
        "## Recommended minus the best single model, CV r",
        "",
        "| trait | best single model (CV r) | " + " | ".join(RULES) + " |",
        "| --- | --- | " + " | ".join("---" for _ in RULES) + " |",
    ]
    for _, trait, singles, by_rule, _ in found:
        best = max(singles, key=singles.get)
        cells = " | ".join(f"{by_rule[rule] - singles[best]:+.3f}" for rule in RULES)
        lines.append(f"| {trait} | {MODELS[best].display} ({singles[best]:.3f}) | {cells} |")
    shortfalls = {rule: [r[3][rule] - max(r[2].values()) for r in found] for rule in RULES}
    lines += [
        f"| mean over {len(found)} traits | | " + " | ".join(f"{np.mean(v):+.4f}" for v in shortfalls.values()) + " |",
        "| worst | | " + " | ".join(f"{min(v):+.3f}" for v in shortfalls.values()) + " |",
        "| traits more than 0.005 below | | "
        + " | ".join(str(sum(d < -0.005 for d in v)) for v in shortfalls.values())
        + " |",
        "",
        "The best single model is the one whose nested CV r is highest, known only after the fact; the stack",
        "chooses its weights inside each outer fold without it. On a trait whose models differ by noise (Length,",
        "r below 0.1), no rule that reads the inner folds finds the one that wins in the outer folds.",
    ]
    return "\n".join(lines) + "\n"


def main():
    found = rows()
    if not found:
        sys.exit(f"no stack inputs under {DUMPS}: run the accuracy benchmarks with the dump hook (see this script)")
    PAGE.write_text(page(found))
    print(PAGE.read_text())


if __name__ == "__main__":
    main()
