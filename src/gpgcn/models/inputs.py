"""A trait's inputs to its model jobs, each file read once, and the Fold of its training
accessions that every model of those jobs is fitted on (or held out of)."""

from functools import cached_property

import numpy as np
import pandas as pd

from ..data.kinship import read_kinship
from ..gcn.first_layer import factored
from ..gcn.problem import load_problem
from . import Fold, prepared_settings
from .loci import Markers
from .split_kinship import SplitKinship


class TraitInputs:
    """A trait's model jobs' input files, each read once, when first needed: the split table and the
    relationship matrix; the dosage matrices (`matrix_paths`, their SNP tables `snps_paths`, sample
    lists `accessions_paths`, one chromosome name each in `matrix_chromosomes`; none without
    genotypes) are memory-mapped where read."""

    def __init__(
        self, trait, split_path, grm_path, matrix_paths=(), snps_paths=(), accessions_paths=(), matrix_chromosomes=None
    ):
        self.trait, self.split_path, self.grm_path = trait, split_path, grm_path
        self.matrix_paths, self.snps_paths = list(matrix_paths), list(snps_paths)
        self.accessions_paths, self.matrix_chromosomes = list(accessions_paths), matrix_chromosomes
        self._problems = {}

    @cached_property
    def split(self):
        return pd.read_csv(self.split_path, sep="\t", dtype={"ID": str})

    @cached_property
    def relationships(self):
        return read_kinship(self.grm_path)

    @cached_property
    def n_snps(self):
        """The genotype stage's SNP count (None without genotypes), from the matrices' headers."""
        if not self.matrix_paths:
            return None
        return sum(np.load(path, mmap_mode="r").shape[1] for path in self.matrix_paths)

    def problem(self, on_snps, scaling, variance=1.0):
        """The trait's problem (no graph) with node features from the SNP dosages or the
        relationship matrix's rows, scaled as `scaling`, through their low-rank factor holding
        `variance` of them (`first_layer.factored`; 1: as they are); built once each."""
        key = (on_snps and bool(self.matrix_paths), scaling, variance)
        if key in self._problems:
            return self._problems[key]
        if variance < 1:
            self._problems[key] = factored(self.problem(on_snps, scaling), variance)
        else:
            self._problems[key] = load_problem(
                self.matrix_paths,
                self.accessions_paths,
                None,
                self.split_path,
                features=scaling,
                matrix_chromosomes=self.matrix_chromosomes,
                relationships=None if key[0] else self.relationships,
                split=self.split,
            )
        return self._problems[key]


def training_fold(inputs, settings):
    """The Fold of every training accession: the trait's problem (its node features are the
    GCN's candidates' business: the baselines use its target, scale and folds), relationships,
    fixed effects and markers."""
    # The relationships first: their error names the accessions they lack.
    kinship = SplitKinship.of(inputs.relationships, inputs.split, inputs.grm_path, inputs.split_path)
    problem = inputs.problem(on_snps=False, scaling="centred")
    return Fold(
        problem=problem,
        held_out=problem,
        folds=problem.fold,
        y=problem.y.numpy().astype(float),
        kinship=kinship,
        # The loci scan takes markers its SNP tables name; without them it has none to take.
        markers=Markers.load(inputs.matrix_paths, inputs.snps_paths) if inputs.snps_paths else None,
        settings=prepared_settings(settings, inputs),
        label=f"{inputs.trait}: training accessions",
    )


def job_files(trait, inputs, matrix_chromosomes):
    """TraitInputs' arguments from a model job's named input files (the rules' `model_inputs`:
    split, grm, and with genotypes markers, marker_sites, accessions)."""
    return {
        "trait": trait,
        "split_path": inputs["split"],
        "grm_path": inputs["grm"],
        "matrix_paths": list(inputs.get("markers", [])),
        "snps_paths": list(inputs.get("marker_sites", [])),
        "accessions_paths": list(inputs.get("accessions", [])),
        "matrix_chromosomes": matrix_chromosomes,
    }
