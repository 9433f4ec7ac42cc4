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

from .covariates import covariate_names
from .errors import InputError
from .io import write_json, write_tsv
from .metrics import model_record, pearson_r
from .models import JOB_MODELS, MODELS, RECOMMENDED, Fold, FoldFit, fit_every_model
from .models.gblup import SplitKinship
from .models.gcn import CandidateProblems, candidates, choose_gcn, finite_pairs, train_gcn
from .models.loci import Markers
from .outputs import prediction_frame, write_training_outputs

log = logging.getLogger(__name__)


def cross_validate(every, trait, recorded_keys):
    """Out-of-fold predictions of every model for each published CV repeat, each outer fold
    predicted by models fitted on the other folds only (every choice made anew inside them).
    `every`: the Fold of all training accessions, with the GCN's settings chosen. Returns
    {repeat: {model: r}}, what each model recorded of itself in each outer fold
    ({model: {key: {repeat: [value per fold]}}}), a table of the predictions (on the trait's scale)
    with those records (`recorded_keys`: what the models record, the table's last columns), and the
    seconds each model's fits took."""
    problem, y = every.problem, every.y
    scores, extras, tables, seconds = {}, {name: {} for name in MODELS}, [], dict.fromkeys(MODELS, 0.0)
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
                fits={},
            )
            for name, fit in fit_every_model(fold).items():
                seconds[name] += fold.seconds[name]
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
    return scores, extras, table, seconds


def trait_models_stage(*, problem_files, grm_path, marker_files, trait, train, graph, select, outputs):
    """Fit every model of the registry the job holds (rule trait_models) on one trait's training
    accessions, the GCN's settings chosen among candidates, cross-validate them all on the same
    folds, and write each one's files and the table of every accession's prediction from the
    recommended model.

    `problem_files`: load_problem's dosage arguments (matrix_paths, accessions_paths,
    matrix_chromosomes, split_path; no matrices without genotypes); GRM-row features and each
    candidate's graph come from `grm_path`; `marker_files`: the dosage matrices and their SNP
    tables (matrix_paths, snps_paths), empty without genotypes; `select`: the config's section
    (node_features, candidates, snp_feature_limit, loci_counts); `outputs`: {model}_metrics and
    {model}_predictions of each model, gcn_epochs, candidates, cv_predictions and table.
    """
    start = time.perf_counter()
    loci_counts = select["loci_counts"]
    problems = CandidateProblems(problem_files, grm_path, select["snp_feature_limit"])
    choices = candidates(train, graph, select["candidates"], select["node_features"])
    split_path = problem_files["split_path"]
    split = pd.read_csv(split_path, sep="\t", dtype={"ID": str})
    first = problems.problem(choices[0])
    y = first.y.numpy().astype(float)
    markers = Markers.load(**marker_files) if marker_files["matrix_paths"] else None
    if markers is not None:
        markers.check_counts(loci_counts)
    elif max(loci_counts) > 0:
        raise InputError("select.loci_counts", f"{max(loci_counts)} markers asked for, but there are no genotypes")
    gblup = SplitKinship.read(grm_path, split, split_path)
    every = Fold(first, first, first.fold, y, gblup, markers, loci_counts, None, trait)
    fit_every_model(every, until="gcn")
    offsets = every.fits["gblup_loci"].offsets
    table, (chosen, problem, result) = choose_gcn(problems, choices, y, trait, offsets)
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
    fits = fit_every_model(every)
    for name, fit in fits.items():
        if fit.extra:
            log.info("%s: %s %s", trait, name, fit.extra)
    recorded_keys = [key for fit in fits.values() for key in fit.extra]
    cv, cv_extras, cv_predictions, cv_seconds = cross_validate(every, trait, recorded_keys)
    write_tsv(outputs["cv_predictions"], cv_predictions, float_format="%.6g")
    choice = {
        "candidates": table.to_dict("records"),
        "chosen": chosen.name,
        "graph_k": chosen.k,
        "self_loop_weight": chosen.self_loop_weight,
        # The out-of-fold r of the refit whose predictions the stack is weighed on.
        "stack_evidence_cv_pearson_r": pearson_r(*finite_pairs(refit.validation_predictions, y)),
        # Reported CV repeats reuse the training accessions whose folds chose the settings.
        "cv_settings_chosen_on_same_accessions": bool(cv),
    }
    write_tsv(outputs["candidates"], table, float_format="%.6g")
    common = {
        "n_devices": 1,
        "seconds_total": time.perf_counter() - start,
        "covariates": covariate_names(split),
        # GBLUP's CV r on the same folds, for a paired comparison.
        "cv_gblup_scores": [s["gblup"] for s in cv.values()],
        # Each model's fits in this job: on the training accessions (the GCN's: its candidate
        # search), and in the CV.
        "seconds_by_model": {
            name: {"training_accessions": every.seconds[name], "cross_validation": cv_seconds[name]} for name in MODELS
        },
    }
    write_training_outputs(
        {"metrics": outputs["gcn_metrics"], "predictions": outputs["gcn_predictions"], "epochs": outputs["gcn_epochs"]},
        problem,
        chosen.settings,
        result,
        {
            **common,
            "model": "gcn",
            "strategy": "serial",
            "selection": choice,
            "cv_scores": [s["gcn"] for s in cv.values()],
        },
    )
    for name in JOB_MODELS:
        frame = prediction_frame(problem, fits[name].predicted)
        write_tsv(outputs[f"{name}_predictions"], frame, float_format="%.6g")
        test = frame["set"].eq("test").to_numpy()
        record = model_record(
            model=name,
            observed=frame["observed"][test],
            predicted=frame["predicted"][test],
            n_train=int((problem.fold > 0).sum()),
            n_snps=problem.n_snps,
            seed=chosen.settings.seed,
            cv_scores=[s[name] for s in cv.values()],
            recommended=name == RECOMMENDED,
            **fits[name].extra,
            **fits[name].details,
            # The stack's predictions hold the GCN's, so they carry its settings' choice too.
            **({"selection": choice} if name == "stack" else {}),
            **{f"cv_{key}s": cv_extras[name].get(key, {}) for key in fits[name].extra},
            **common,
        )
        write_json(outputs[f"{name}_metrics"], record)
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
