"""The workflow as users run it: dry run, lint, config validation, a tiny end-to-end run."""

import json
import math
import re
import subprocess

import pytest

from gpgcn.models import MODELS, RECOMMENDED, REFERENCE

from helpers import (
    REPO,
    SHARED,
    SNAKEMAKE,
    TINY,
    merged,
    plink_mode_config,
    require_shared,
    snakemake,
    strict_loads,
    torch_modules_loaded_by,
    vcf_mode_config,
    vcf_to_plink,
    write_bad_phenotypes,
    write_config,
)

# Each test runs Snakemake.
pytestmark = pytest.mark.slow


def test_dry_run_of_the_default_config(tmp_path):
    """The defaults predict; the demo's config times the strategies too."""
    write_config(tmp_path, {})
    run = snakemake(tmp_path, "-n")
    assert run.returncode == 0, run.stderr
    for rule in (
        "simulate_cohort",
        "subset_vcf",
        "genotype_matrix",
        "kinship",
        "kinship_graph",
        "check_traits",
        "split",
        "trait_models",
        "report",
    ):
        assert rule in run.stdout
    assert "cross_validate" not in run.stdout  # no published CV repeats: no CV to deal out
    assert "train_" not in run.stdout and "aggregate_timings" not in run.stdout
    run = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config/demo.yaml"))
    assert run.returncode == 0, run.stderr
    for rule in ("train_serial", "train_intraop", "train_interop", "train_ddp", "train_snpshard", "aggregate_timings"):
        assert rule in run.stdout


def test_the_workflow_loads_without_torch():
    # Snakemake imports what the Snakefile and the rules import on every call, dry runs
    # included: torch and PyTorch Geometric there would add seconds to each.
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    modules = sorted(
        {m for path in sources for m in re.findall(r"^\s*from (gpgcn[\w.]*) import", path.read_text(), re.M)}
    )
    assert "gpgcn.gcn.strategies" in modules and "gpgcn.models" in modules
    assert torch_modules_loaded_by(modules) == "[]"


def test_lint_is_clean():
    run = subprocess.run([*SNAKEMAKE, "--lint"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Congratulations" in run.stdout + run.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        ({"graph": {"kk": 3}}, "graph: unknown key kk (expected one of: k, self_loop_weight)"),
        ({"graph": {"k": "ten"}}, "graph.k = 'ten': 'ten' is not of type 'integer'"),
        ({"train": {"device": "gpu"}}, "train.device = 'gpu': 'gpu' is not one of ['cpu', 'cuda']"),
        (
            {"input": {"mode": "plink", "bed": "https://example.org/x.bed"}, "chromosomes": ["1"]},
            "input.bed: https://example.org/x.bed: give a local path (its .bim and .fam lie beside it)",
        ),
    ],
)
def test_config_errors_name_the_key_in_one_line(tmp_path, override, message):
    write_config(tmp_path, override)
    run = snakemake(tmp_path, "-n")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert message in output
    assert "$schema" not in output and "additionalProperties" not in output  # not the whole schema


def test_tiny_workflow_end_to_end(tiny_run):
    results = tiny_run / "results"
    for path in (
        "summary/accuracy.tsv",
        "summary/model_choice.tsv",
        "plots/accuracy_by_trait.png",
        "predictions/FT10_mean.tsv",
        "predictions/RL.tsv",
        "summary/data.tsv",
        "plots/predicted_vs_observed.png",
        "plots/learning_curves.png",
        "kinship/grm.tsv",
        "graph/knn_graph.tsv",
        "summary/timings.tsv",
        "plots/speedup.png",
        "plots/efficiency.png",
        "plots/accuracy_by_strategy.png",
        "summary/scaling.html",
    ):
        assert (results / path).stat().st_size > 0, path
    metrics = json.loads((results / "train/serial/1/metrics.json").read_text())
    for key in (
        "strategy",
        "n_devices",
        "device",
        "test_pearson_r",
        "test_r2",
        "test_rmse",
        "n_train",
        "n_test",
        "n_snps",
        "epochs",
        "seconds_total",
        "seconds_per_epoch_median",
        "seed",
        "versions",
    ):
        assert key in metrics, key
    for key in ("test_pearson_r", "test_r2", "test_rmse", "seconds_per_epoch_median"):
        assert math.isfinite(metrics[key]), key
    assert metrics["n_train"] + metrics["n_test"] == 100
    for trait in TINY["input"]["traits"]:
        for model in MODELS:
            record = json.loads((results / f"models/{trait}/{model}/metrics.json").read_text())
            assert math.isfinite(record["test_pearson_r"]), (trait, model)
    assert not list(results.glob("vcf/*.bcf")), "subset BCFs are temporary"
    assert not (results / "checkpoints").exists() or not any((results / "checkpoints").rglob("*.pt"))
    for path in results.rglob("*.json"):
        strict_loads(path.read_text())  # standard JSON: no NaN or Infinity


# r(prediction, true genetic value) over the tiny cohort's 100 accessions, for the first trait
# (the strategies train on it) and the second. A model predicting noise stays within about ±0.3
# (3 sd); measured: GBLUP 0.90, the tiny GCN (25 epochs) 0.66.
ACCURACY_FLOOR = {
    ("FT10_mean", "models/FT10_mean/gblup"): 0.7,
    ("RL", "models/RL/gblup"): 0.7,
    ("FT10_mean", "models/FT10_mean/gcn"): 0.45,
    ("RL", "models/RL/gcn"): 0.45,
    ("FT10_mean", "models/FT10_mean/rkhs"): 0.7,
    ("RL", "models/RL/rkhs"): 0.7,
    ("FT10_mean", "models/FT10_mean/gblup_loci"): 0.7,
    ("RL", "models/RL/gblup_loci"): 0.7,
    ("FT10_mean", "models/FT10_mean/stack"): 0.7,
    ("RL", "models/RL/stack"): 0.7,
    ("FT10_mean", "train/serial/1"): 0.45,
    ("FT10_mean", "train/snpshard/2"): 0.45,
}


@pytest.mark.parametrize("trait, model", ACCURACY_FLOOR)
def test_models_recover_the_simulated_genetic_values(tiny_run, trait, model):
    import numpy as np
    import pandas as pd

    truth = pd.read_csv(tiny_run / "results/cohort/genetic_values.tsv", sep="\t", dtype={"ID": str})
    predictions = pd.read_csv(tiny_run / f"results/{model}/predictions.tsv", sep="\t", dtype={"ID": str})
    genetic_value = truth.set_index("ID")[trait].reindex(predictions["ID"])
    assert np.corrcoef(predictions["predicted"], genetic_value)[0, 1] >= ACCURACY_FLOOR[trait, model]


def test_timings_cover_every_strategy(tiny_run):
    import pandas as pd

    timings = pd.read_csv(tiny_run / "results/summary/timings.tsv", sep="\t")
    ran = timings[timings["status"] == "ok"]
    assert sorted(zip(ran["strategy"], ran["n_devices"])) == [
        ("ddp", 2),
        ("interop", 1),
        ("interop", 2),
        ("intraop", 2),
        ("serial", 1),
        ("snpshard", 2),
    ]
    assert (ran["seconds_per_epoch_median"] > 0).all()
    assert timings.loc[timings["strategy"] == "dataparallel", "status"].str.contains("no CUDA device").all()
    same_model = ran[ran["strategy"].isin(["intraop", "ddp", "snpshard"])]
    assert (same_model["r_with_serial_predictions"] >= 0.99).all()


def report_results(path):
    """The files a Snakemake report embeds, by path: their caption and decoded content."""
    import base64

    html = path.read_text()
    start = html.index("var results = {") + len("var results = ")
    results, _ = json.JSONDecoder().raw_decode(html[start:])
    return {
        name: (entry["caption"], base64.b64decode(entry["data_uri"].split("base64,", 1)[1]))
        for name, entry in results.items()
    }


def test_report_holds_the_tables_and_plots(tiny_run):
    import io

    import pandas as pd

    run = snakemake(tiny_run, "--report", "report.html")
    assert run.returncode == 0, run.stderr[-3000:]
    embedded = report_results(tiny_run / "report.html")
    plots = [
        f"results/plots/{p}.png"
        for p in ("predicted_vs_observed", "learning_curves", "speedup", "efficiency", "accuracy_by_trait")
    ]
    for plot in [*plots, "results/plots/accuracy_by_strategy.png"]:
        caption, content = embedded[plot]
        assert content.startswith(b"\x89PNG") and len(content) > 5000 and caption, plot

    def table(name):
        return pd.read_csv(io.BytesIO(embedded[f"results/summary/{name}"][1]), sep="\t")

    accuracy = table("accuracy.tsv")
    models = [model.display for model in MODELS.values()]
    assert list(zip(accuracy["trait"], accuracy["model"])) == [(t, m) for t in ("FT10_mean", "RL") for m in models]
    assert (accuracy["n_train"] + accuracy["n_test"] == 100).all()
    assert (accuracy["bootstrap_95_low"] <= accuracy["test_r_minus_gblup"] + 1e-9).all()
    assert (accuracy["test_r_minus_gblup"] <= accuracy["bootstrap_95_high"] + 1e-9).all()
    stack = accuracy[accuracy["model"] == MODELS[RECOMMENDED].display]
    assert stack["gcn_share"].between(0, 1).all() and stack["stack_weights"].notna().all()
    folders = {model.display: name for name, model in MODELS.items()}
    for row in accuracy.to_dict("records"):  # each row is its model's record (written to 4 decimals)
        record = json.loads(
            (tiny_run / f"results/models/{row['trait']}/{folders[row['model']]}/metrics.json").read_text()
        )
        for key in (
            "test_pearson_r",
            "test_r2",
            "test_rmse",
            "cv_pearson_r_mean",
            "cv_pearson_r_sd",
            "gcn_share",
            "loci_m",
        ):
            expected = record.get(key)
            assert (pd.isna(row[key]) and expected is None) or row[key] == pytest.approx(expected, abs=5e-5), key
        for key in ("n_train", "n_test", "cv_repeats"):
            assert row[key] == record[key], key
    for trait in ("FT10_mean", "RL"):
        predictions = pd.read_csv(io.BytesIO(embedded[f"results/predictions/{trait}.tsv"][1]), sep="\t")
        assert len(predictions) == 100 and predictions["phenotyped"].all()
        assert f"results/models/{trait}/{RECOMMENDED}/cv_predictions.tsv" in embedded
    choice = table("model_choice.tsv")
    assert (
        len(choice) == 2 * len(TINY["select"]["candidates"]) and choice.groupby("trait")["averaged"].sum().ge(1).all()
    )
    components = table("variance_components.tsv")
    assert list(components["component"]) == ["genomic", "residual"] * 2
    for trait, parts in components.groupby("trait"):
        reml = json.loads((tiny_run / f"results/models/{trait}/{REFERENCE}/metrics.json").read_text())["reml"]
        assert parts["share"].sum() == pytest.approx(1, abs=1e-3)
        assert parts.set_index("component").loc["genomic", "share"] == pytest.approx(reml["h2"], abs=5e-4)
    timings = table("timings.tsv")
    assert list(timings["strategy"]) == ["serial", "intraop", "interop", "interop", "dataparallel", "ddp", "snpshard"]
    data = table("data.tsv").set_index("item")["value"]
    metrics = json.loads((tiny_run / "results/models/FT10_mean/gcn/metrics.json").read_text())
    snps = sum(int(data[f"chromosome {c}"]) for c in TINY["chromosomes"])
    assert snps == metrics["n_snps"] == int(data["LD pruning passed"])
    assert int(data["records read"]) > int(data["biallelic SNPs"]) >= int(data["MAF passed"]) >= snps
    rows = table("data.tsv")
    phenotypes = rows[rows["what"] == "phenotypes: FT10_mean"].set_index("item")["value"]
    assert int(phenotypes["accessions"]) == int(phenotypes["phenotyped (train + test)"]) == 100
    assert phenotypes["train / test"] == f"{metrics['n_train']} / {metrics['n_test']}"
    assert int(phenotypes["predicted without a phenotype"]) == 0


def test_bad_phenotypes_stop_the_run_without_output(tiny_run, tmp_path):
    accession = write_bad_phenotypes(tiny_run / "results" / "cohort", tmp_path / "pheno.tsv")
    vcf_mode_config(tmp_path, tiny_run / "results" / "cohort", phenotypes=tmp_path / "pheno.tsv")
    run = snakemake(tmp_path, "--cores", "1", "results/split/FT10_mean/split.tsv")
    assert run.returncode != 0
    assert f"pheno.tsv: line 6: ID '{accession}' has non-numeric FT10_mean value 'late'" in run.stdout + run.stderr
    assert not list((tmp_path / "results" / "split").rglob("*"))


def dry_run_jobs(output):
    """Job counts by rule from a dry run's table."""
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


def test_traits_fan_out_and_one_trait_reruns_alone(tiny_run, tmp_path):
    write_config(tmp_path, merged(TINY, {"input": {"traits": ["FT10_mean", "RL", "Leaf"]}}))
    jobs = dry_run_jobs(snakemake(tmp_path, "-n").stdout)
    assert (jobs["check_traits"], jobs["split"], jobs["trait_models"]) == (1, 3, 3)
    assert "cross_validate" not in jobs  # without published CV repeats a trait has no CV
    (tmp_path / "cv.csv").write_text("ID,cv_1\n")  # a dry run reads no input
    write_config(
        tmp_path, merged(TINY, {"input": {"traits": ["FT10_mean", "RL", "Leaf"]}, "split": {"cv_folds_file": "cv.csv"}})
    )
    jobs = dry_run_jobs(snakemake(tmp_path, "-n").stdout)
    assert jobs["cross_validate"] == 3 * 2 and jobs["trait_models"] == 3  # split.cv_jobs CV jobs per trait
    assert jobs["train_serial"] == 1  # the strategies are timed on the first trait only
    # `input.trait` alone is a one-trait list.
    write_config(tmp_path, merged(TINY, {"input": {"traits": [], "trait": "RL"}}))
    run = snakemake(tmp_path, "-n")
    assert "results/predictions/RL.tsv" in run.stdout and "FT10_mean" not in run.stdout
    # In a finished run, forcing one trait's models reruns that job and nothing of the other trait.
    run = snakemake(tiny_run, "-n", "results/predictions/RL.tsv", "--forcerun", "results/predictions/RL.tsv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert dry_run_jobs(run.stdout) == {"trait_models": 1, "total": 1}
    assert "trait=RL" in run.stdout


def test_a_trait_listed_twice_is_refused(tmp_path):
    write_config(tmp_path, merged(TINY, {"input": {"traits": ["FT10_mean", "RL", "FT10_mean"]}}))
    run = snakemake(tmp_path, "-n")
    assert run.returncode != 0
    assert "input.traits: FT10_mean listed twice" in run.stdout + run.stderr


def test_a_trait_missing_from_the_table_lists_its_columns(tiny_run, tmp_path):
    cohort = tiny_run / "results" / "cohort"
    vcf_mode_config(tmp_path, cohort, {"input": {"traits": ["FT10_mean", "FT16"]}})
    run = snakemake(tmp_path, "--cores", "2", "results/split/traits.json")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "1 of 2 traits unusable" in output
    assert "trait FT16: " in output and "no trait column 'FT16'; columns are: ID, FT10_mean, RL" in output


def test_one_bad_trait_among_good_ones_stops_every_trait(tiny_run, tmp_path):
    """A constant trait listed between two good ones: the error names it, and with --keep-going
    nothing is split or trained for any trait, and the data stage never starts (the check needs
    only the VCF's header and the study list)."""
    import pandas as pd

    cohort = tiny_run / "results" / "cohort"
    table = pd.read_csv(cohort / "phenotypes.tsv", sep="\t", dtype={"ID": str})
    table["Constant"] = 7.0
    table.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    vcf_mode_config(
        tmp_path, cohort, {"input": {"traits": ["FT10_mean", "Constant", "RL"]}}, phenotypes=tmp_path / "pheno.tsv"
    )
    run = snakemake(tmp_path, "--cores", "2", "--keep-going")
    assert run.returncode != 0
    assert "trait Constant: " in run.stdout + run.stderr and "has no variance" in run.stdout + run.stderr
    results = tmp_path / "results"
    assert not (results / "vcf").exists() and not (results / "genotypes").exists()
    assert not list((results / "split").rglob("*")), "no trait is split"
    assert not (results / "models").exists() and not (results / "train").exists()


def test_missing_accessions_stop_the_run(tiny_run, tmp_path):
    cohort = tiny_run / "results" / "cohort"
    samples = tmp_path / "samples.txt"
    samples.write_text((cohort / "study_accessions.txt").read_text() + "99999\n")
    vcf_mode_config(tmp_path, cohort, samples=samples)
    run = snakemake(tmp_path, "--cores", "1", "results/genotypes/1.npy")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "1 requested accession(s)" in output and "missing: 99999" in output
    assert not (tmp_path / "results" / "vcf" / "1.bcf").exists()


def test_region_scatter_gives_the_per_chromosome_results(tiny_run, tmp_path):
    """The tiny cohort scattered over 3 kb regions (a dozen per chromosome): the same SNPs, the
    same dosages and the same GRM (summed from the regions' shares) as one job per chromosome."""
    import numpy as np
    import pandas as pd

    vcf_mode_config(tmp_path, tiny_run / "results" / "cohort", {"regions": {"size": 3000}})
    run = snakemake(tmp_path, "--cores", "2", "results/kinship/grm.tsv")
    assert run.returncode == 0, run.stderr[-3000:]
    regions = tmp_path / "results" / "genotypes"
    for chrom in TINY["chromosomes"]:
        names = sorted(regions.glob(f"{chrom}_*.npy"), key=lambda p: int(p.name.split("_")[1].split("-")[0]))
        assert len(names) > 5
        whole = np.load(tiny_run / f"results/genotypes/{chrom}.npy")
        np.testing.assert_array_equal(np.concatenate([np.load(p) for p in names], axis=1), whole)
        snps = pd.concat([pd.read_csv(str(p).replace(".npy", ".snps.tsv"), sep="\t") for p in names])
        assert list(snps["pos"]) == list(pd.read_csv(tiny_run / f"results/genotypes/{chrom}.snps.tsv", sep="\t")["pos"])
    scattered = pd.read_csv(tmp_path / "results/kinship/grm.tsv", sep="\t", index_col=0)
    reference = pd.read_csv(tiny_run / "results/kinship/grm.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(scattered.to_numpy(), reference.to_numpy(), rtol=1e-7, atol=1e-8)  # 8 digits written


def kinship_config(directory, kinship, phenotypes, random_covariates=(), **split):
    """Mode kinship over the tiny config, the loci counts as configured by default."""
    return write_config(
        directory,
        merged(
            TINY,
            {
                "input": {
                    "mode": "kinship",
                    "kinship": str(kinship),
                    "phenotypes": str(phenotypes),
                    "id_column": "ID",
                    "random_covariates": list(random_covariates),
                },
                "split": split,
                "strategies": {
                    "serial": [1],
                    "intraop": [],
                    "interop": [],
                    "ddp": [],
                    "snpshard": [2],
                    "dataparallel": [],
                },
            },
        ),
    )


def test_plink_input_gives_the_vcfs_dosages_grm_and_predictions(tiny_run, tmp_path):
    """The tiny cohort's VCF as a PLINK 1 fileset (plink2 --make-bed's layout), in mode plink:
    the same dosage matrices, GRM, graph and predictions of every model as from the VCF."""
    import numpy as np

    from gpgcn.gcn.strategies import STRATEGIES

    cohort = tiny_run / "results" / "cohort"
    bed = vcf_to_plink(cohort / "cohort.vcf.gz", tmp_path / "cohort.bed")
    work = tmp_path / "work"
    work.mkdir()
    # One trait and one timed run are enough to compare; the rest would only cost CI time.
    trait = TINY["input"]["traits"][0]
    plink_mode_config(
        work,
        cohort,
        bed,
        {"input": {"traits": [trait]}, "strategies": {**dict.fromkeys(STRATEGIES, []), "serial": [1]}},
    )
    run = snakemake(work, "--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for chrom in TINY["chromosomes"]:
        ours, theirs = work / "results/genotypes", tiny_run / "results/genotypes"
        np.testing.assert_array_equal(np.load(ours / f"{chrom}.npy"), np.load(theirs / f"{chrom}.npy"))
        assert (ours / f"{chrom}.accessions.txt").read_text() == (theirs / f"{chrom}.accessions.txt").read_text()
    same = ["results/kinship/grm.tsv", "results/graph/knn_graph.tsv", "results/train/serial/1/predictions.tsv"]
    same += [f"results/models/{trait}/{m}/predictions.tsv" for m in MODELS] + [f"results/predictions/{trait}.tsv"]
    for path in same:
        assert (work / path).read_bytes() == (tiny_run / path).read_bytes(), path


def test_kinship_mode_with_training_columns_only(tiny_run, tmp_path):
    """A published-style matrix: all accessions as rows, only training accessions as columns. The
    default loci counts hold: without genotypes GBLUP + loci is GBLUP, and the report says so."""
    import pandas as pd

    grm = pd.read_csv(tiny_run / "results/kinship/grm.tsv", sep="\t", index_col=0, dtype={"ID": str})
    grm.columns = grm.columns.astype(str)
    split = pd.read_csv(tiny_run / "results/split/FT10_mean/split.tsv", sep="\t", dtype={"ID": str})
    train = split.loc[split["set"] == "train", "ID"].tolist()
    test = split.loc[split["set"] == "test", "ID"]
    grm[train].to_csv(tmp_path / "kinship.csv")
    (tmp_path / "test.txt").write_text("\n".join(test) + "\n")
    kinship_config(
        tmp_path,
        tmp_path / "kinship.csv",
        tiny_run / "results/cohort/phenotypes.tsv",
        test_ids=str(tmp_path / "test.txt"),
    )
    run = snakemake(tmp_path, "--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    metrics = json.loads((tmp_path / "results/train/serial/1/metrics.json").read_text())
    assert metrics["n_snps"] == len(train)  # features: the matrix's columns
    assert metrics["n_test"] == len(test)
    gblup = json.loads((tmp_path / "results/models/FT10_mean/gblup/metrics.json").read_text())
    reference = json.loads((tiny_run / "results/models/FT10_mean/gblup/metrics.json").read_text())
    assert gblup["test_pearson_r"] == pytest.approx(reference["test_pearson_r"], abs=1e-4)
    assert gblup["n_snps"] is None  # a matrix given: no SNPs counted
    loci = json.loads((tmp_path / "results/models/FT10_mean/gblup_loci/metrics.json").read_text())
    assert loci["loci_m"] == 0 and loci["note"] == "no genotypes to scan: GBLUP + loci is GBLUP"
    assert loci["test_pearson_r"] == pytest.approx(gblup["test_pearson_r"], abs=1e-4)
    accuracy = (tmp_path / "results/summary/accuracy.tsv").read_text()
    assert "no genotypes to scan: GBLUP + loci is GBLUP" in accuracy


def test_accessions_without_a_phenotype_are_predicted(tiny_run, tmp_path):
    """Accessions absent from the phenotype table stay in the graph and get a prediction, flagged."""
    import pandas as pd

    table = pd.read_csv(tiny_run / "results/cohort/phenotypes.tsv", sep="\t", dtype={"ID": str})
    study = (tiny_run / "results/cohort/study_accessions.txt").read_text().split()
    unphenotyped = study[:5]
    table[~table["ID"].isin(unphenotyped)].to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    kinship_config(tmp_path, tiny_run / "results/kinship/grm.tsv", tmp_path / "pheno.tsv")
    run = snakemake(tmp_path, "--cores", "2", "results/predictions/RL.tsv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    predictions = pd.read_csv(tmp_path / "results/predictions/RL.tsv", sep="\t", dtype={"ID": str})
    assert len(predictions) == 100 and predictions["predicted"].notna().all()
    assert sorted(predictions.loc[~predictions["phenotyped"], "ID"]) == sorted(unphenotyped)
    summary = json.loads((tmp_path / "results/split/RL/summary.json").read_text())
    assert sorted(summary["no_phenotype_ids"]) == sorted(unphenotyped)


def test_a_random_covariate_reaches_every_model_through_the_workflow(tiny_run, tmp_path):
    """A plot per few accessions carrying much of the trait, as `input.random_covariates`: the split
    carries its levels, GBLUP finds its variance, and the plots lift every model's test r."""
    import numpy as np
    import pandas as pd

    table = pd.read_csv(tiny_run / "results/cohort/phenotypes.tsv", sep="\t", dtype={"ID": str})
    rng = np.random.default_rng(0)
    plot = rng.integers(0, 25, len(table))
    table["RL"] += rng.normal(0, 3 * table["RL"].std(), 25)[plot]
    table["plot"] = [f"p{p}" for p in plot]
    table.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    kinship_config(tmp_path, tiny_run / "results/kinship/grm.tsv", tmp_path / "pheno.tsv", random_covariates=["plot"])
    run = snakemake(tmp_path, "--cores", "2", "results/predictions/RL.tsv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    split = pd.read_csv(tmp_path / "results/split/RL/split.tsv", sep="\t", dtype=str)
    assert split["random:plot"].nunique() == 25
    gblup = json.loads((tmp_path / "results/models/RL/gblup/metrics.json").read_text())
    assert gblup["reml"]["sigma_c2"]["plot"] > gblup["reml"]["sigma_g2"]
    for model in ("gblup", "rkhs", "gblup_loci", "gcn", "stack"):
        record = json.loads((tmp_path / f"results/models/RL/{model}/metrics.json").read_text())
        assert record["test_pearson_r"] > 0.8, model


def test_kinship_mode_refuses_phenotyped_ids_missing_from_columns(tiny_run, tmp_path):
    import pandas as pd

    grm = pd.read_csv(tiny_run / "results/kinship/grm.tsv", sep="\t", index_col=0, dtype={"ID": str})
    dropped = grm.columns[0]
    grm.drop(columns=[dropped]).to_csv(tmp_path / "kinship.csv")
    kinship_config(tmp_path, tmp_path / "kinship.csv", tiny_run / "results/cohort/phenotypes.tsv")
    run = snakemake(tmp_path, "--cores", "1", "results/models/FT10_mean/gblup/metrics.json")
    assert run.returncode != 0
    assert "training accessions missing from the kinship's columns" in run.stdout + run.stderr


def test_gblup_reproduces_the_published_reference_on_real_data(tmp_path):
    """GBLUP (REML, kinship as given) on the published split: test r 0.669, CV mean r 0.626."""
    require_shared()
    kinship_config(
        tmp_path,
        SHARED / "SNP_383_accessions_kinship.csv_training.csv",
        SHARED / "Phenotype_value_383_common_accessions_2017_Grimm.csv",
        test_ids=str(SHARED / "Test_for_383_accessions.txt"),
        cv_folds_file=str(SHARED / "CVFs_for_383_accessions.csv"),
    )
    run = snakemake(tmp_path, "--cores", "1", "results/models/FT10_mean/gblup/metrics.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    gblup = json.loads((tmp_path / "results/models/FT10_mean/gblup/metrics.json").read_text())
    assert (gblup["n_train"], gblup["n_test"], gblup["cv_repeats"]) == (306, 77, 10)
    assert gblup["test_pearson_r"] == pytest.approx(0.669, abs=0.002)
    assert gblup["cv_pearson_r_mean"] == pytest.approx(0.626, abs=0.005)


def test_dry_run_of_the_1001_genomes_config(tmp_path):
    run = subprocess.run(
        [*SNAKEMAKE, "-n", "--configfile", str(REPO / "config/1001genomes.yaml"), "--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for rule in ("fetch_input", "index_vcf", "subset_vcf", "genotype_matrix", "kinship", "train_snpshard", "report"):
        assert rule in run.stdout, rule


def dry_run_job_blocks(output):
    """(rule, inputs, outputs, resources) of each job a dry run lists."""
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", output, flags=re.MULTILINE)[1:]:
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.MULTILINE))
        resources = dict(re.findall(r"(\w+)=([^,]+)", fields.get("resources", "")))
        jobs.append(
            (
                re.match(r"(?:local)?rule (\w+):", block).group(1),
                set(fields.get("input", "").split(", ")) - {""},
                set(fields.get("output", "").split(", ")) - {""},
                resources,
            )
        )
    return jobs


def test_a_timed_job_never_shares_the_machine(tmp_path):
    """Every job that may run while a timed training job runs (neither before it nor after it in
    the DAG) holds a timing slot, so the scheduler keeps it off the machine meanwhile."""
    write_config(tmp_path, merged(TINY, {"input": {"traits": ["FT10_mean", "RL"]}}))
    run = snakemake(tmp_path, "-n", "--forceall")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = dry_run_job_blocks(run.stdout)
    producer = {path: i for i, (_, _, outputs, _) in enumerate(jobs) for path in outputs}
    needs = [{producer[path] for path in inputs if path in producer} for _, inputs, _, _ in jobs]

    def upstream_of(job):
        seen, todo = set(), [job]
        while todo:
            for upstream in needs[todo.pop()] - seen:
                seen.add(upstream)
                todo.append(upstream)
        return seen

    before = [upstream_of(i) for i in range(len(jobs))]
    timed = [i for i, (*_, resources) in enumerate(jobs) if int(resources.get("timing_slot", 0)) >= 1000]
    assert {jobs[i][0] for i in timed} >= {"train_serial", "train_intraop", "train_snpshard"}
    for job in timed:
        after = {i for i in range(len(jobs)) if job in before[i]}
        for i in set(range(len(jobs))) - before[job] - after - {job}:
            rule, _, _, resources = jobs[i]
            assert int(resources.get("timing_slot", 0)) >= 1, f"{rule} may run beside {jobs[job][0]}"


@pytest.fixture(scope="module")
def study_vcf_run(tiny_run, tmp_path_factory):
    """Mode vcf over a VCF of the study accessions alone and no study list (input.samples empty),
    one trait, no strategy: run to the end."""
    import pysam
    from pysam import bcftools

    from gpgcn.gcn.strategies import STRATEGIES

    directory = tmp_path_factory.mktemp("study_vcf")
    cohort = tiny_run / "results" / "cohort"
    vcf = directory / "study.vcf.gz"
    bcftools.view(
        "-S",
        str(cohort / "study_accessions.txt"),
        "-Oz",
        "-o",
        str(vcf),
        str(cohort / "cohort.vcf.gz"),
        catch_stdout=False,
    )
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    (directory / "pheno.tsv").write_text((cohort / "phenotypes.tsv").read_text())
    vcf_mode_config(
        directory,
        cohort,
        {"input": {"samples": "", "traits": ["FT10_mean"]}, "strategies": dict.fromkeys(STRATEGIES, [])},
        vcf=vcf,
        phenotypes=directory / "pheno.tsv",
    )
    run = snakemake(directory, "--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return directory


def test_a_vcf_of_the_study_accessions_needs_no_study_list(tiny_run, study_vcf_run):
    """Without input.samples every sample of the VCF is a study accession, as the log and the data
    table say; the genotypes are those of the cohort's study accessions."""
    import numpy as np

    results = study_vcf_run / "results"
    for chrom in TINY["chromosomes"]:
        np.testing.assert_array_equal(
            np.load(results / f"genotypes/{chrom}.npy"), np.load(tiny_run / f"results/genotypes/{chrom}.npy")
        )
    assert "every sample of" in (study_vcf_run / "logs/subset_vcf/1.log").read_text()
    data = (results / "summary/data.tsv").read_text()
    assert "study accessions\tevery sample of" in data and "(no input.samples)" in data
    # Every model's record counts the SNPs the genotype stage kept.
    n_snps = sum(
        len((results / f"genotypes/{chrom}.snps.tsv").read_text().splitlines()) - 1 for chrom in TINY["chromosomes"]
    )
    for name in MODELS:
        assert json.loads((results / f"models/FT10_mean/{name}/metrics.json").read_text())["n_snps"] == n_snps, name
    assert not (results / "kinship" / "shares").exists() or not any((results / "kinship" / "shares").iterdir())


def test_editing_the_phenotypes_reruns_nothing_of_the_data_stage(study_vcf_run):
    """Only what reads the phenotype table reruns: the check, the split and what follows it."""
    pheno = study_vcf_run / "pheno.tsv"
    lines = pheno.read_text().splitlines()
    fields = lines[3].split("\t")
    fields[1] = f"{float(fields[1]) + 1:g}"
    lines[3] = "\t".join(fields)
    pheno.write_text("\n".join(lines) + "\n")
    run = snakemake(study_vcf_run, "-n")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = dry_run_jobs(run.stdout)
    assert {"check_traits", "split", "trait_models", "report"} <= set(jobs)
    assert not {"subset_vcf", "genotype_matrix", "kinship", "kinship_graph"} & set(jobs), jobs


def test_the_report_renders_what_a_single_target_computed(tiny_run, tmp_path):
    """After a run of one trait's models alone, `snakemake --report` renders what there is instead of stopping
    at the first table not made yet."""
    cohort = tiny_run / "results" / "cohort"
    vcf_mode_config(tmp_path, cohort, {"input": {"traits": ["FT10_mean"]}})
    run = snakemake(tmp_path, "--cores", "2", "results/models/FT10_mean/gblup/metrics.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    run = snakemake(tmp_path, "--report", "report.html")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "report.html").stat().st_size > 0
