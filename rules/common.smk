import os
import re

from snakemake.exceptions import WorkflowError

from gpgcn.config.plan import Plan
from gpgcn.data.fetch import is_url
from gpgcn.data.formats import INPUT_FILES
from gpgcn.errors import ConfigError
from gpgcn.models import (
    MODELS,
    RECOMMENDED,
    REFERENCE,
    model_files,
    model_settings,
    trait_model_outputs,
)
from gpgcn.gcn.strategies import STRATEGIES

# What the config plans (src/gpgcn/config/plan.py): a config no job could run stops here.
try:
    PLAN = Plan(config)
except ConfigError as error:
    raise WorkflowError(str(error))
MODE, SOURCE = PLAN.mode, PLAN.source
SIMULATED, GENOTYPED = PLAN.simulated, PLAN.genotyped
TRAITS = PLAN.traits
# Every model's files (metrics, predictions and its own), as the per-trait job's named outputs.
TRAIT_MODEL_OUTPUTS = trait_model_outputs("results/models/{trait}")
# Every model's files, by trait and model (the report is given them by name).
MODEL_FILES = {
    trait: {name: model_files(f"results/models/{trait}", name) for name in MODELS}
    for trait in TRAITS
}
# The parallel strategies are timed on one trait: their speed does not depend on it.
TIMED_TRAIT = TRAITS[0]
# The inputs that may be https URLs, fetched once into resources/.
REMOTE_KEYS = [key for key, file in INPUT_FILES.items() if file.remote]
configured_input, input_path = PLAN.configured_input, PLAN.input_path
STUDY = PLAN.study_description()
CHROMOSOMES, REGIONS = PLAN.chromosomes, PLAN.regions
# The chromosome of each region's matrix, in order: interop forks one branch per chromosome.
MATRIX_CHROMOSOMES = [region.chrom for region in REGIONS.values()]
SPLIT_SETTINGS = PLAN.split_settings()
# The jobs each trait's cross-validation is dealt over, numbered from 1; none without published
# CV repeats (`split.cv_folds_file`), which alone give a trait's CV its folds.
CV_JOBS = (
    list(range(1, config["split"]["cv_jobs"] + 1))
    if configured_input("cv_folds_file")
    else []
)


def reported(pattern, **kwargs):
    """`pattern` marked for the Snakemake report where every file it stands for (one per trait)
    exists already: `snakemake --report` then renders what has been computed, after a run of a
    single target too, instead of stopping at the first file not made yet."""
    paths = expand(pattern, trait=TRAITS) if "{trait}" in pattern else [pattern]
    made = all(os.path.exists(path) for path in paths)
    return report(pattern, **kwargs) if made else pattern


def cohort_files(wildcards=None):
    """The cohort's files by key: simulated, or the user's own (its mode's, less optional ones
    not given)."""
    if SIMULATED:
        return {
            "vcf": "results/cohort/cohort.vcf.gz",
            "index": "results/cohort/cohort.vcf.gz.tbi",
            "samples": "results/cohort/study_accessions.txt",
            "phenotypes": "results/cohort/phenotypes.tsv",
        }
    files = {
        key: input_path(key)
        for key in MODE.files
        if not INPUT_FILES[key].optional or configured_input(key)
    }
    if "vcf" in files and is_url(configured_input("vcf")):
        files["index"] = files["vcf"] + ".tbi"  # made once by index_vcf
    if "bed" in files:
        stem = os.path.splitext(files["bed"])[0]
        files.update(bim=f"{stem}.bim", fam=f"{stem}.fam")
    return files


# The data stage starts once every check that needs no genotypes has passed (check_traits). An
# order, not data, so `ancient`: a rerun of the check (an edited phenotype table) reruns nothing
# of the data stage.
INPUTS_CHECKED = ancient("results/split/traits.json")


def subset_inputs(wildcards):
    """What a region's subset job reads: the VCF (its index where made here) and the study list."""
    files = cohort_files()
    return {
        **{key: files[key] for key in ("vcf", "index", "samples") if key in files},
        "checked": INPUTS_CHECKED,
    }


def genotype_inputs(wildcards):
    """What a region's genotype job reads: its subset BCF, or its source's cohort files."""
    keys = SOURCE.region_files
    if not keys:
        return {"bcf": f"results/vcf/{wildcards.region}.bcf"}
    files = cohort_files()
    return {
        **{key: files[key] for key in keys if key in files},
        "checked": INPUTS_CHECKED,
    }


wildcard_constraints:
    trait="|".join(re.escape(name) for name in TRAITS),
    region="|".join(re.escape(name) for name in REGIONS) or "no-region",


def per_region(pattern):
    return expand(pattern, region=REGIONS)


def accession_lists():
    """The files that fix the accessions (graph nodes) and their order."""
    if not GENOTYPED:
        return ["results/kinship/accessions.txt"]
    return per_region("results/genotypes/{region}.accessions.txt")


def feature_inputs():
    """The strategies' node features: the dosage matrices with their accession lists, or in
    mode kinship each accession's row of the relationship matrix."""
    if not GENOTYPED:
        return {"kinship": "results/kinship/grm.tsv"}
    return {
        "matrices": per_region("results/genotypes/{region}.npy"),
        "accessions": accession_lists(),
    }


def train_inputs(wildcards):
    return {
        **feature_inputs(),
        "graph": "results/graph/knn_graph.tsv",
        "split": f"results/split/{TIMED_TRAIT}/split.tsv",
    }


def marker_inputs():
    """The dosage matrices, their SNP tables and accession lists the loci scan and SNP-feature
    candidates read; none without genotypes."""
    if not GENOTYPED:
        return {}
    return {
        "markers": per_region("results/genotypes/{region}.npy"),
        "marker_sites": per_region("results/genotypes/{region}.snps.tsv"),
        "accessions": accession_lists(),
    }


def model_inputs(wildcards):
    return {
        **marker_inputs(),
        "grm": "results/kinship/grm.tsv",
        "split": "results/split/{trait}/split.tsv",
    }


def optional_input(key):
    return [input_path(key)] if configured_input(key) else []


def split_inputs(wildcards):
    return {
        "phenotypes": cohort_files()["phenotypes"],
        "accessions": accession_lists(),
        "test_ids": optional_input("test_ids"),
        "cv_folds": optional_input("cv_folds_file"),
    }


def check_inputs(wildcards):
    """What the traits' check reads: the split's inputs, but the study accessions from the
    genotype source's header and study list instead of the genotype stage's lists."""
    inputs = {k: v for k, v in split_inputs(wildcards).items() if k != "accessions"}
    if not GENOTYPED:
        return {**inputs, "accessions": accession_lists()}
    files = cohort_files()
    keys = (SOURCE.file, "fam", "samples")
    return {**inputs, **{key: files[key] for key in keys if key in files}}


def threads_per_trait(jobs=1):
    """A per-trait model job's threads, where each trait runs `jobs` such jobs at once (none counts
    as one): the run's cores shared among them (at most 16 each), so a one-trait run uses them
    all; 1 where the run names no core count (`--report`).
    """
    try:
        cores = workflow.cores
    except WorkflowError:
        return 1
    return max(1, min(cores, 16) // (len(TRAITS) * max(jobs, 1)))


def cv_parts(wildcards):
    return expand(
        "results/models/{trait}/cv/part_{part}.json",
        trait=wildcards.trait,
        part=CV_JOBS,
    )


# What every timed training job asks for (all of profiles/default's timing slots: it runs alone on
# the machine); each strategy's rule adds its GPUs (and tasks, nodes).
TRAIN_RESOURCES = {"mem_mb": 4000, "runtime": 120, "timing_slot": 1000}


def per_device_count(method):
    """A rule's value from the {ndev} wildcard through a strategy's method."""
    return lambda wildcards: method(int(wildcards.ndev))


def strategy_resources(strategy):
    """The GPUs a strategy's job asks for, and for one that starts its own ranks SLURM tasks and
    nodes (`cluster.devices_per_node` ranks per node)."""
    resources = {
        "gpu": per_device_count(lambda n: strategy.gpus(n, config["train"]["device"]))
    }
    for key in strategy.launcher_resources(1, 1):
        resources[key] = per_device_count(
            lambda n, key=key: strategy.launcher_resources(
                n, config["cluster"]["devices_per_node"]
            )[key]
        )
    return resources
