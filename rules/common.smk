import json
import os
import re
import sys

CHROMOSOMES = config["chromosomes"]
SIMULATED = config["input"]["mode"] == "simulate"


wildcard_constraints:
    chrom="|".join(re.escape(c) for c in CHROMOSOMES),


def cohort_files(wildcards=None):
    """The VCF, study list and phenotypes: simulated, or the user's own (mode vcf)."""
    if SIMULATED:
        return {
            "vcf": "results/cohort/cohort.vcf.gz",
            "index": "results/cohort/cohort.vcf.gz.tbi",
            "samples": "results/cohort/study_accessions.txt",
            "phenotypes": "results/cohort/phenotypes.tsv",
        }
    return {key: config["input"][key] for key in ("vcf", "samples", "phenotypes")}


def per_chromosome(pattern):
    return expand(pattern, chrom=CHROMOSOMES)


def train_inputs(wildcards):
    return {
        "matrices": per_chromosome("results/genotypes/{chrom}.npy"),
        "accessions": per_chromosome("results/genotypes/{chrom}.accessions.txt"),
        "graph": "results/graph/knn_graph.tsv",
        "split": "results/split/split.tsv",
    }


def ndev_threads(wildcards):
    return int(wildcards.ndev)
