"""The per-trait model job: every model of the registry (`models`) fitted on the training
accessions, the GCN with its settings chosen by cross-validation inside them (`models.gcn`),
all of them cross-validated over the published CV repeats, and the table of every accession's
prediction from the recommended model. The test accessions never influence a choice.
"""

import dataclasses
import logging
import time

import numpy as np
import pandas as pd

from ..data.covariates import covariate_names
from ..io import write_tsv
from ..records import write_model_outputs, write_training_outputs
from ..statistics import pearson_r
from . import FAILURES, JOB_MODELS, MODELS, RECOMMENDED, Fold, FoldFit, fit_every_model
from .gblup import SplitKinship
from .gcn import LEARNS_AROUND, CandidateProblems, candidates, choose_gcn, finite_pairs, train_gcn
from .loci import Markers

log = logging.getLogger(__name__)


def cross_validate(every, trait, recorded_keys):
    """Out-of-fold predictions of every model for each published CV repeat, each outer fold
    predicted by models fitted on the other folds only (every choice made anew inside them).
    `every`: the Fold of all training accessions, with the GCN's settings chosen; a model that
    failed there is not fitted again. Returns {repeat: {model: r}}, what each model recorded of
    itself in each outer fold ({model: {key: {repeat: [value per fold]}}}), a table of the
    predictions (on the trait's scale) with those records (`recorded_keys`: what the models
    record, the table's last columns), the seconds each model's fits took, and why each model
    that failed in a fold failed ({model: reason})."""
    problem, y = every.problem, every.y
    scores, extras, tables, seconds = {}, {name: {} for name in MODELS}, [], dict.fromkeys(MODELS, 0.0)
    failures = {}
    for repeat, folds in problem.cv_repeats.items():
        predicted = {name: np.full(len(y), np.nan) for name in MODELS}
        recorded = {}
        for held_fold in sorted(set(folds[folds > 0].tolist())):
            held = folds == held_fold
            fold = dataclasses.replace(
                every,
                held_out=problem.holding_out(folds, held_fold),
                folds=np.where(held, 0, folds),
                label=f"{trait}: cross-validation {repeat}, outer fold {held_fold}",
                fits={name: fit for name, fit in every.fits.items() if fit.failed},
                seconds=dict.fromkeys(MODELS, 0.0),
            )
            for name, fit in fit_every_model(fold).items():
                seconds[name] += fold.seconds[name]
                if fit.failed:
                    failures.setdefault(name, fit.failed)
                predicted[name][held] = fit.predicted[held]
                for key, value in fit.extra.items():
                    extras[name].setdefault(key, {}).setdefault(repeat, []).append(value)
                    recorded.setdefault(key, np.full(len(y), np.nan))[held] = value
        trained = folds > 0
        scores[repeat] = {name: pearson_r(p[trained], y[trained]) for name, p in predicted.items()}
        log.info("%s: cross-validation %s: %s", trait, repeat, {m: round(r, 4) for m, r in scores[repeat].items()})
        tables.append(
            pd.DataFrame(
                {
                    "ID": np.asarray(problem.ids)[trained],
                    "repeat": repeat,
                    "fold": folds[trained],
                    "observed": problem.observed[trained],
                    **{name: p[trained] * problem.y_sd + problem.y_mean for name, p in predicted.items()},
                    **{key: values[trained] for key, values in recorded.items()},
                }
            )
        )
    columns = ["ID", "repeat", "fold", "observed", *MODELS, *recorded_keys]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    return scores, extras, table, seconds, failures


def fit_gcn(every, problems, choices, trait):
    """The GCN on every training accession: its settings chosen among the candidates (the table
    of their scores), its fit, and the fold with the chosen candidate's problem and settings. It
    learns around GBLUP + loci's fixed effects: where those failed, it fails too."""
    around = every.fits[LEARNS_AROUND]
    if around.failed:
        return gcn_failed(every, f"it learns around {MODELS[LEARNS_AROUND].display}'s fixed effects, which failed")
    offsets = around.offsets
    try:
        table, (chosen, problem, result) = choose_gcn(problems, choices, every.y, trait, offsets)
    except FAILURES as error:
        return gcn_failed(every, f"{type(error).__name__}: {error}")
    log.info("%s: chose %s", trait, chosen.name)
    every = dataclasses.replace(every, problem=problem, held_out=problem, settings=chosen.settings)
    # The chosen candidate's out-of-fold r is the best of several, so it flatters the GCN; the
    # stack weighs it by the same settings refitted from another seed, as it does in every CV fold
    # (where the settings are given, not chosen).
    refit_start = time.perf_counter()
    refit_settings = dataclasses.replace(chosen.settings, seed=chosen.settings.seed + 1)
    refit = train_gcn(problem, refit_settings, f"{trait}: chosen settings refitted for the stack", offsets)
    every.fits["gcn"] = FoldFit(result.predictions, refit.validation_predictions)
    every.seconds["gcn"] = float(table["seconds"].sum()) + time.perf_counter() - refit_start
    return table, chosen, result, every


def gcn_failed(every, why):
    """fit_gcn's answer where the GCN cannot be fitted: no candidate scored, no choice, no fit."""
    reason = f"{every.label}: {why}"
    log.warning("GCN failed: %s", reason)
    every.fits["gcn"], every.seconds["gcn"] = FoldFit.failure(reason, len(every.y)), 0.0
    return pd.DataFrame(columns=["candidate", "cv_pearson_r", "seconds", "skipped"]), None, None, every


def aliased_note(trait, aliased):
    """One log line for every fixed-effect column dropped as aliased, with the fits it was dropped from."""
    by_column = {}
    for where, names in aliased.items():
        for name in names:
            by_column.setdefault(name, []).append(where)
    if by_column:
        log.warning(
            "%s: fixed effects aliased with others, dropped from the fits (as R's lm drops them): %s",
            trait,
            "; ".join(f"{name} in {len(where)} fit(s), first {where[0]!r}" for name, where in by_column.items()),
        )


def trait_models_stage(*, problem_files, grm_path, marker_files, trait, train, graph, select, outputs):
    """Fit every model of the registry the job holds (rule trait_models) on one trait's training
    accessions, the GCN's settings chosen among candidates, cross-validate them all on the same
    folds, and write each one's files and the table of every accession's prediction from the
    recommended model. A model that fails (`models.FAILURES`) is written as failed, with the
    reason; the others are written as usual.

    `problem_files`: load_problem's dosage arguments (matrix_paths, accessions_paths,
    matrix_chromosomes, split_path; no matrices without genotypes); GRM-row features and each
    candidate's graph come from `grm_path`; `marker_files`: the dosage matrices and their SNP
    tables (matrix_paths, snps_paths), empty without genotypes, where GBLUP + loci is GBLUP;
    `select`: the config's section (node_features, candidates, snp_feature_limit, loci_counts);
    `outputs`: {model}_metrics and {model}_predictions of each model, gcn_epochs, candidates,
    cv_predictions and table.
    """
    start = time.perf_counter()
    problems = CandidateProblems(problem_files, grm_path, select["snp_feature_limit"])
    choices = candidates(train, graph, select["candidates"], select["node_features"])
    split_path = problem_files["split_path"]
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    first = problems.problem(choices[0])
    y = first.y.numpy().astype(float)
    markers = Markers.load(**marker_files) if marker_files["matrix_paths"] else None
    loci_counts, loci_note = select["loci_counts"], None
    if markers is not None:
        markers.check_counts(loci_counts)
    else:
        loci_counts, loci_note = [0], "no genotypes to scan: GBLUP + loci is GBLUP"
        log.info("%s: %s", trait, loci_note)
    gblup = SplitKinship.read(grm_path, split, split_path)
    every = Fold(first, first, first.fold, y, gblup, markers, loci_counts, None, f"{trait}: training accessions")
    fit_every_model(every, until="gcn")
    table, chosen, result, every = fit_gcn(every, problems, choices, trait)
    problem = every.problem
    fits = fit_every_model(every)
    for name, fit in fits.items():
        if fit.extra:
            log.info("%s: %s %s", trait, name, fit.extra)
    recorded_keys = [key for fit in fits.values() for key in fit.extra]
    cv, cv_extras, cv_predictions, cv_seconds, cv_failures = cross_validate(every, trait, recorded_keys)
    failed = {**cv_failures, **{name: fit.failed for name, fit in fits.items() if fit.failed}}
    aliased = gblup.effects.aliased_record()
    aliased_note(trait, aliased)
    write_tsv(outputs["cv_predictions"], cv_predictions, float_format="%.6g")
    choice = {
        "candidates": table.to_dict("records"),
        "chosen": chosen.name if chosen else None,
        "graph_k": chosen.k if chosen else None,
        "self_loop_weight": chosen.self_loop_weight if chosen else None,
        # The out-of-fold r of the refit whose predictions the stack is weighed on.
        "stack_evidence_cv_pearson_r": pearson_r(*finite_pairs(fits["gcn"].out_of_fold, y)),
        # Reported CV repeats reuse the training accessions whose folds chose the settings.
        "cv_settings_chosen_on_same_accessions": bool(cv),
    }
    write_tsv(outputs["candidates"], table, float_format="%.6g")
    common = {
        "n_devices": 1,
        "seconds_total": time.perf_counter() - start,
        "covariates": covariate_names(split),
        "n_snps": None if markers is None else markers.dosage.shape[1],
        # Fixed-effect columns dropped as aliased: {fit: [columns]}.
        "aliased_fixed_effects": aliased,
        # GBLUP's CV r on the same folds, for a paired comparison.
        "cv_gblup_scores": [s["gblup"] for s in cv.values()],
        # Each model's fits in this job: on the training accessions (the GCN's: its candidate
        # search), and in the CV.
        "seconds_by_model": {
            name: {"training_accessions": every.seconds[name], "cross_validation": cv_seconds[name]} for name in MODELS
        },
    }
    gcn_record = {
        **common,
        "model": "gcn",
        "strategy": "serial",
        "selection": choice,
        "failed": failed.get("gcn"),
        "cv_scores": [] if "gcn" in failed else [s["gcn"] for s in cv.values()],
    }
    gcn_outputs = {"metrics": outputs["gcn_metrics"], "predictions": outputs["gcn_predictions"]}
    if result is not None:
        write_training_outputs(
            {**gcn_outputs, "epochs": outputs["gcn_epochs"]}, problem, chosen.settings, result, gcn_record
        )
    else:
        write_tsv(
            outputs["gcn_epochs"], pd.DataFrame(columns=["fold", "epoch", "train_loss", "val_loss", "val_r", "seconds"])
        )
        write_model_outputs(gcn_outputs, problem, fits["gcn"].predicted, gcn_record)
    for name in JOB_MODELS:
        frame = write_model_outputs(
            {"metrics": outputs[f"{name}_metrics"], "predictions": outputs[f"{name}_predictions"]},
            problem,
            fits[name].predicted,
            {
                **common,
                "model": name,
                "seed": chosen.settings.seed if chosen else None,
                "cv_scores": [] if name in failed else [s[name] for s in cv.values()],
                "recommended": name == RECOMMENDED,
                "failed": failed.get(name),
                **fits[name].extra,
                **fits[name].details,
                # The stack's predictions hold the GCN's, so they carry its settings' choice too.
                **({"selection": choice} if name == "stack" else {}),
                **({"loci_note": loci_note} if name == "gblup_loci" else {}),
                **{f"cv_{key}s": cv_extras[name].get(key, {}) for key in fits[name].extra},
            },
        )
        if name == RECOMMENDED:
            write_tsv(outputs["table"], prediction_table(frame, trait), float_format="%.6g")


def prediction_table(frame, trait):
    """Every accession's prediction, flagged by whether it has a phenotype (train or test)."""
    return pd.DataFrame(
        {
            "ID": frame["ID"],
            "trait": trait,
            "predicted": frame["predicted"],
            "phenotyped": frame["set"].ne("unlabelled"),
            "observed": frame["observed"],
            "set": frame["set"],
        }
    )
