"""The stack's rule, replayed: every outer CV fold's stack inputs (each model's out-of-fold
predictions of the fold's training accessions and its predictions of the held-out ones) as the
accuracy benchmarks' runs wrote them, and the nested CV r each rule would give, per trait, against
the best single model's; then the stack's rule on other evidence (the baselines' leave-one-out
predictions, the GCN's single members' noise taken off). Writes docs/benchmarks/stack_rules.md.

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
from gpgcn.models.stack import RESAMPLES, covered, least_squares_weights, stack_weights
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


def bagged_without_noise(out_of_fold, y, noise, n_resamples=RESAMPLES, seed=0):
    """The stack's bagged least squares, with `noise` (a variance) taken off the GCN column's
    sum of squares in each resample's normal equations: the weights the column would get if it
    were as free of its members' own noise as the members' mean it stands for (errors in
    variables). The same resamples as `stack_weights`; with no noise, its weights."""
    if not noise:
        return stack_weights(out_of_fold, y, n_resamples, seed)
    names = list(out_of_fold)
    known = covered(out_of_fold, y)
    columns, target = np.column_stack([out_of_fold[name][known] for name in names]), y[known]
    gcn = names.index("gcn")
    rng = np.random.default_rng(seed)
    total = np.zeros(len(names))
    for _ in range(n_resamples):
        pick = rng.integers(0, len(target), len(target))
        x, t = columns[pick] - columns[pick].mean(axis=0), target[pick] - target[pick].mean()
        gram, moment = x.T @ x / len(t), x.T @ t / len(t)
        gram[gcn, gcn] -= min(noise, 0.9 * gram[gcn, gcn])
        # NNLS on the corrected normal equations: gram = root.T @ root, moment = root.T @ rhs.
        values, vectors = np.linalg.eigh(gram)
        root = (vectors * np.sqrt(np.clip(values, 1e-10 * values.max(), None))).T
        weights, _ = nnls(root, np.linalg.lstsq(root.T, moment, rcond=None)[0])
        total += weights / weights.sum() if weights.sum() > 0 else np.full(len(names), 1 / len(names))
    return dict(zip(names, (total / n_resamples).tolist()))


def on_evidence(evidence, record):
    """The stack's weights on `evidence(record)`: (the models' evidence, the GCN column's noise)."""
    columns, noise = evidence(record)
    return bagged_without_noise(columns, record["y"], noise)


def out_of_fold(record):
    return {name: fits[0] for name, fits in record["models"].items()}


def leave_one_out(record):
    """The out-of-fold evidence with GBLUP's and RKHS's replaced by their leave-one-out
    predictions; GBLUP + loci's too where the fold's fit took no marker (it is GBLUP then; its
    marker scan has no leave-one-out shortcut, so elsewhere it keeps its own)."""
    evidence = out_of_fold(record)
    for name in ("gblup", "rkhs"):
        if name in evidence:
            evidence[name] = record["loo"][name]
    if "gblup_loci" in evidence and record["loci_m"] == 0:
        evidence["gblup_loci"] = record["loo"]["gblup"]
    return evidence


def member_noise(record):
    """The noise a single member's evidence carries beyond the members' mean the GCN deploys:
    per averaged candidate the variance between its members (at accessions none learnt from)
    times 1 − 1/members, for the mean over candidates."""
    found = record.get("member_noise") or []
    return sum(variance * (1 - 1 / members) for variance, members in found) / max(len(found), 1) ** 2


EVIDENCE = {
    "out of fold (the stack's)": lambda record: (out_of_fold(record), 0.0),
    "baselines leave-one-out": lambda record: (leave_one_out(record), 0.0),
    "GCN members' noise off": lambda record: (out_of_fold(record), member_noise(record)),
    "both": lambda record: (leave_one_out(record), member_noise(record)),
}

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
    from `weigh(record)` on its own training accessions."""
    trained = found["training"]["folds"] > 0
    y = found["training"]["y"]
    predicted = collections.defaultdict(lambda: np.full(len(y), np.nan))
    for (repeat, _), record in found["outer"].items():
        held = trained & (record["folds"] == 0)
        weights = weigh(record)
        combined = sum(w * record["models"][name][1] for name, w in weights.items())
        predicted[repeat][held] = combined[held]
    return float(np.mean([pearson_r(p[trained], y[trained]) for p in predicted.values()]))


def inner_advantage(found):
    """The GCN's r minus RKHS's on the outer folds' own training accessions, mean over the outer
    folds: by their out-of-fold evidence, and with RKHS's leave-one-out instead."""
    by_evidence = collections.defaultdict(list)
    for record in found["outer"].values():
        if not {"gcn", "rkhs"} <= set(record["models"]):
            continue  # one of them failed on this fold
        trained, y = record["folds"] > 0, record["y"]
        gcn = pearson_r(record["models"]["gcn"][0][trained], y[trained])
        by_evidence["out of fold"].append(gcn - pearson_r(record["models"]["rkhs"][0][trained], y[trained]))
        by_evidence["leave-one-out"].append(gcn - pearson_r(record["loo"]["rkhs"][trained], y[trained]))
    return {kind: float(np.mean(values)) for kind, values in by_evidence.items()}


def rows():
    """Per trait: its source, each single model's nested CV r, each rule's, the stack's on each
    evidence, the GCN's inner advantage over RKHS and the commit of the code whose fits were
    dumped."""
    found = []
    for source in SOURCES:
        for trait, fits in sorted(load(DUMPS / source).items()):
            singles = {name: nested_cv(fits, lambda record, n=name: {n: 1.0}) for name in fits["training"]["models"]}
            by_rule = {
                rule: nested_cv(fits, lambda record, w=weigh: w(out_of_fold(record), record["y"]))
                for rule, weigh in RULES.items()
            }
            by_evidence = {
                kind: nested_cv(fits, lambda record, e=evidence: on_evidence(e, record))
                for kind, evidence in EVIDENCE.items()
            }
            advantage = inner_advantage(fits) if {"gcn", "rkhs"} <= set(singles) else None
            commit = fits["training"].get("commit", "not recorded")
            found.append((source, trait, singles, by_rule, by_evidence, advantage, commit))
    return found


def shortfall_table(found, by, names):
    """Per trait the best single model and, per column of `names`, the nested CV r of the stack
    under it (`by`: which of a row's results) minus the best single model's; then the mean, the
    worst and the count more than 0.005 below."""
    lines = [
        "| trait | best single model (CV r) | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    shortfalls = {name: [] for name in names}
    for row in found:
        trait, singles, results = row[1], row[2], by(row)
        best = max(singles, key=singles.get)
        for name in names:
            shortfalls[name].append(results[name] - singles[best])
        cells = " | ".join(f"{results[name] - singles[best]:+.3f}" for name in names)
        lines.append(f"| {trait} | {MODELS[best].display} ({singles[best]:.3f}) | {cells} |")
    gcn_best = [max(row[2], key=row[2].get) == "gcn" for row in found]
    return lines + [
        f"| mean over {len(found)} traits | | " + " | ".join(f"{np.mean(v):+.4f}" for v in shortfalls.values()) + " |",
        f"| mean over the {sum(gcn_best)} the GCN is best on | | "
        + " | ".join(f"{np.mean(np.array(v)[gcn_best]):+.4f}" for v in shortfalls.values())
        + " |",
        "| worst | | " + " | ".join(f"{min(v):+.3f}" for v in shortfalls.values()) + " |",
        "| traits more than 0.005 below | | "
        + " | ".join(str(sum(d < -0.005 for d in v)) for v in shortfalls.values())
        + " |",
    ]


def page(found):
    commits = sorted({row[-1] for row in found})
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
        "Reproduce (needs `../shared` beside the checkout; the accuracy pages are rewritten too, their wall",
        "times with the hook's leave-one-out fits in them: time those pages without it):",
        "",
        "```sh",
        *(line.strip() for line in __doc__.split("\n\n")[2].strip().splitlines()),
        "```",
        "",
        "## Recommended minus the best single model, CV r",
        "",
        *shortfall_table(found, lambda row: row[3], list(RULES)),
        "",
        "The best single model is the one whose nested CV r is highest, known only after the fact; the stack",
        "chooses its weights inside each outer fold without it. On a trait whose models differ by noise (Length,",
        "r below 0.1), no rule that reads the inner folds finds the one that wins in the outer folds.",
        "",
        *evidence_section(found),
    ]
    return "\n".join(lines) + "\n"


def evidence_section(found):
    """The stack's rule on other evidence, and the GCN's inner advantage over RKHS beside its outer one."""
    lines = [
        "## The evidence the stack weighs",
        "",
        "Each model's evidence should predict as the model it deploys does. Two ways the out-of-fold",
        "evidence differs from that: GBLUP's and RKHS's come from fits without a fifth of the fold's",
        "training accessions, where they deploy a fit on all of them; the GCN's comes from single members,",
        "where it deploys their mean. Replayed here: the baselines' evidence replaced by their",
        "leave-one-out predictions (the fit on all training accessions, each one left out in turn: GBLUP's",
        "variance ratio and RKHS's bandwidth are then chosen with it), and the GCN's members' own noise (the",
        "variance between members at accessions none of them learnt from, less the share their mean keeps)",
        "taken off its column's sum of squares before the least squares, and both; the rule is the",
        "stack's (bagged least squares) throughout.",
        "",
        *shortfall_table(found, lambda row: row[4], list(EVIDENCE)),
        "",
        "The GCN's r minus RKHS's: in the outer folds (the two models as deployed) and on the outer folds'",
        "training accessions (mean over outer folds) by the out-of-fold evidence and with RKHS's",
        "leave-one-out predictions instead:",
        "",
        "| trait | outer CV | inner, out of fold | inner, RKHS leave-one-out |",
        "| --- | --- | --- | --- |",
    ]
    for _, trait, singles, _, _, advantage, _ in found:
        if advantage:
            lines.append(
                f"| {trait} | {singles['gcn'] - singles['rkhs']:+.3f} | {advantage['out of fold']:+.3f} | "
                f"{advantage['leave-one-out']:+.3f} |"
            )
    return lines + [
        "",
        "On these runs the baselines' leave-one-out evidence lifts the stack where a baseline wins (or leaves",
        "it as it was) and on default_cost's small cohort, and lowers it on ft10's traits the GCN wins",
        "(Diameter and CL most): the cohort most like the ones the GCN must win on. Taking the members'",
        "noise off the GCN's column moves the stack little where the GCN wins and lowers it on every trait",
        "a baseline wins. Against RKHS's leave-one-out predictions the GCN's inner advantage falls short of",
        "its outer one on every trait: a single member's evidence under-rates the members' mean by more",
        "than their spread accounts for (where in the GCN's evidence the rest is lost, its epoch or its",
        "members' shared errors, is not measured). The stack keeps its out-of-fold evidence: evidence that",
        "matched both kinds of model as deployed would need the GCN's at the ensemble level (a cross-fit of",
        "whole fold ensembles, some five times its fits), not tried.",
    ]


def main():
    found = rows()
    if not found:
        sys.exit(f"no stack inputs under {DUMPS}: run the accuracy benchmarks with the dump hook (see this script)")
    PAGE.write_text(page(found))
    print(PAGE.read_text())


if __name__ == "__main__":
    main()
