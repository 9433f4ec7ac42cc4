"""A trait's cross-validation dealt over several jobs (`split.cv_jobs`) and gathered by the
per-trait job: the same models, choices and predictions as one job that cross-validates itself."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from test_trait_models import GRAPH, LOCI_COUNTS, OUTPUTS, TRAIN, cohort_files, write_cohort

from gpgcn.models import fit_every_model, loci, model_settings, rkhs
from gpgcn.models.cross_validation import cross_validation_stage, outer_folds
from gpgcn.models.inputs import TraitInputs, training_fold
from gpgcn.models.job import trait_models_stage

SETTINGS = model_settings(
    {
        "train": TRAIN,
        "graph": GRAPH,
        "select": {"node_features": "kinship", "candidates": [{}], "snp_feature_limit": 4, "loci_counts": LOCI_COUNTS},
    }
)


def run(directory, jobs=None, gathered=None):
    """The per-trait job's outputs in `directory`/out_{jobs}: its CV in `jobs` CV jobs' files (the
    parts of `gathered` of them handed to it), or in the job itself (None)."""
    folder = directory / f"out_{jobs}"
    folder.mkdir()
    parts = None
    if jobs is not None:
        parts = [folder / f"part_{part}.json" for part in range(1, jobs + 1)]
        for part, path in enumerate(parts, 1):
            files = cohort_files(directory)
            cross_validation_stage(files=files, settings=SETTINGS, part=part, parts=jobs, output=path)
        parts = parts[:gathered]
    outputs = {name: str(folder / f"{name}.out") for name in OUTPUTS}
    trait_models_stage(files=cohort_files(directory), settings=SETTINGS, outputs=outputs, cv_parts=parts)
    return outputs, parts


def test_the_cv_dealt_over_jobs_gives_what_one_job_gives(tmp_path):
    """Two repeats of three outer folds over four jobs (two of two folds, two of one) and over
    eight (two of them empty): every model's CV scores, records and out-of-fold predictions as the
    job that cross-validates itself computes them (the GCN's members batched by job, so equal up
    to float rounding); each part holds its contiguous share of the folds."""
    write_cohort(tmp_path)
    alone, _ = run(tmp_path)
    for jobs in (4, 8):
        dealt, parts = run(tmp_path, jobs)
        held = [[(f["repeat"], f["fold"]) for f in json.loads(p.read_text())["folds"]] for p in parts]
        shares = [len(share) for share in held]
        assert shares == ([2, 2, 1, 1] if jobs == 4 else [1] * 6 + [0] * 2)
        assert sum(held, []) == [(r, f) for r in ("cv_1", "cv_2") for f in (1, 2, 3)]
        expected = pd.read_csv(alone["cv_predictions"], sep="\t")
        got = pd.read_csv(dealt["cv_predictions"], sep="\t")
        pd.testing.assert_frame_equal(got, expected, rtol=1e-4)
        # Each held-out accession's row holds its own fold's prediction (on the trait's scale).
        table = got.set_index(["repeat", "ID"])
        pairs = np.array(
            [
                (value, table.loc[(fold["repeat"], accession), "gblup"])
                for path in parts
                for fold in json.loads(path.read_text())["folds"]
                for accession, value in zip(fold["ids"], fold["models"]["gblup"]["predicted"])
            ]
        )
        slope, intercept = np.polyfit(pairs[:, 0], pairs[:, 1], 1)
        np.testing.assert_allclose(slope * pairs[:, 0] + intercept, pairs[:, 1], atol=1e-4 * pairs[:, 1].std())
        for name in ("gblup", "rkhs", "gblup_loci", "gcn", "stack"):
            before = json.loads(open(alone[f"{name}_metrics"]).read())
            after = json.loads(open(dealt[f"{name}_metrics"]).read())
            np.testing.assert_allclose(after["cv_pearson_r"], before["cv_pearson_r"], rtol=1e-4)
            assert {key: by_repeat.keys() for key, by_repeat in after["by_outer_fold"].items()} == {
                key: by_repeat.keys() for key, by_repeat in before["by_outer_fold"].items()
            }
            assert after["failed"] is None and after["test_pearson_r"] == pytest.approx(before["test_pearson_r"])


def test_a_fold_no_part_holds_stops_the_gathering(tmp_path):
    """The parts of three CV jobs, the third not handed over: the per-trait job names the trait,
    the fold and the repeat it lacks, and writes nothing."""
    write_cohort(tmp_path)
    with pytest.raises(ValueError, match="T: no cross-validation part holds outer fold 2 of cv_2"):
        run(tmp_path, 3, gathered=2)
    assert not list((tmp_path / "out_3").glob("*.out"))


BASELINES = ("gblup", "rkhs", "gblup_loci")


def test_an_inner_fit_two_outer_folds_make_alike_is_made_once(tmp_path, monkeypatch):
    """Outer fold f's inner fold g learns from the accessions g's inner fold f learns from (all but
    f and g): over two repeats of three outer folds each baseline makes six such inner fits, not
    twelve, and every outer fold's fits come out as they do with the fold fitted alone."""
    write_cohort(tmp_path)
    every = training_fold(TraitInputs(**cohort_files(tmp_path)), SETTINGS)
    made = {"gblup": [], "rkhs": [], "gblup_loci": []}
    for module, function, name in ((rkhs, "fit_rkhs", "rkhs"), (loci, "fits_by_count", "gblup_loci")):
        fit = getattr(module, function)
        monkeypatch.setattr(module, function, lambda *a, fit=fit, name=name: made[name].append(a) or fit(*a))
    predict = type(every.kinship).predict
    monkeypatch.setattr(type(every.kinship), "predict", lambda *a: made["gblup"].append(a) or predict(*a))

    together = [fold for *_, fold in outer_folds(every, "T")]
    for fold in together:
        fit_every_model(fold, only=BASELINES)
    # RKHS: each outer fold's own fit, then its inner fits (one per pair of its repeat's folds).
    assert {name: len(calls) for name, calls in made.items()} == {"gblup": 6, "rkhs": 6 + 6, "gblup_loci": 6}
    assert all(not fold.shared_fits for fold in together)  # each kept fit taken by its second fold
    alone = [dataclasses.replace(fold, fits={}, shared_fits={}) for *_, fold in outer_folds(every, "T")]
    for fold in alone:
        fit_every_model(fold, only=BASELINES)
    assert {name: len(calls) for name, calls in made.items()} == {"gblup": 18, "rkhs": 30, "gblup_loci": 18}
    for shared, own in zip(together, alone):
        for name in BASELINES:
            np.testing.assert_array_equal(shared.fits[name].predicted, own.fits[name].predicted)
            np.testing.assert_array_equal(shared.fits[name].out_of_fold, own.fits[name].out_of_fold)
        offsets = shared.fits["gblup_loci"].offsets
        assert offsets.keys() == own.fits["gblup_loci"].offsets.keys()
        for inner in offsets:
            np.testing.assert_array_equal(offsets[inner], own.fits["gblup_loci"].offsets[inner])
