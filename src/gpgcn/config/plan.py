"""What the workflow plans from its config before any job runs: the input mode and its genotype
source, where each input lives, the traits, the chromosomes and regions, where the study
accessions come from, the split's settings. A config no job could run stops here (ConfigError),
before the first job; the rules (`rules/common.smk`) keep their input functions only."""

import os
from urllib.parse import urlparse

from ..data.fetch import is_url
from ..data.formats import GENOTYPE_SOURCES, INPUT_FILES, INPUT_MODES
from ..data.regions import plan_regions
from ..errors import ConfigError, InputError


class Plan:
    def __init__(self, config):
        self.config = config
        self.mode = INPUT_MODES[config["input"]["mode"]]
        # How the genotypes are read; None where a relationship matrix stands in (no genotype stage).
        self.source = GENOTYPE_SOURCES[self.mode.genotypes] if self.mode.genotypes else None
        self.simulated = config["input"]["mode"] == "simulate"
        self.genotyped = self.source is not None
        self.traits = trait_names(config)
        check_strategies(config["strategies"])
        if "bed" in self.mode.files and is_url(config["input"]["bed"]):
            raise ConfigError(
                f"input.bed: {config['input']['bed']}: give a local path (its .bim and .fam lie beside it)"
            )
        self.chromosomes = self.chromosome_names()
        self.regions = self.data_regions()

    def configured_input(self, key):
        return self.config[INPUT_FILES[key].section][key]

    def input_path(self, key):
        """Where an input lives locally: as given, or under resources/ once fetched from its URL."""
        value = self.configured_input(key)
        if value and is_url(value):
            return f"resources/{key}/{os.path.basename(urlparse(value).path)}"
        return value

    def study_description(self):
        """Where the study accessions come from, for the report's data table."""
        if self.simulated:
            return "the simulated study accessions"
        if not self.genotyped:
            return f"the accessions of {self.configured_input('kinship')}"
        if self.configured_input("samples"):
            return f"those listed in {self.configured_input('samples')}"
        return f"every sample of {self.configured_input(self.source.file)} (no input.samples)"

    def chromosome_names(self):
        """`chromosomes` as configured, else the simulation's or the VCF's (those holding
        records). A configured chromosome the VCF lacks stops the run here, before any job."""
        configured = self.config["chromosomes"]
        if self.simulated:
            from ..data.simulate import CHROMOSOMES

            return configured or CHROMOSOMES
        if not self.genotyped:
            return configured
        vcf = self.input_path(self.source.file)
        if not os.path.exists(vcf):
            if configured:
                return configured
            raise ConfigError(
                f"chromosomes: not set, and {vcf} is not here yet to read them from: "
                "list its chromosome names under `chromosomes`"
            )
        try:
            present = self.source.contigs(vcf)
        except InputError as error:
            raise ConfigError(str(error)) from error
        missing = [c for c in configured if c not in present]
        if missing:
            raise ConfigError(
                f"chromosomes: {', '.join(missing)} not in {vcf}, whose chromosomes with records are: "
                f"{', '.join(present) or 'none'}"
            )
        if not present:
            raise ConfigError(f"{vcf}: no records")
        return configured or present

    def chromosome_lengths(self):
        """Lengths for fixed-size regions: from the config, else the simulation's or the VCF header's."""
        if self.config["regions"].get("lengths"):
            return self.config["regions"]["lengths"]
        if self.simulated:
            from ..data.simulate import chromosome_lengths

            return chromosome_lengths(self.chromosomes, self.config["simulate"]["length_scale"])
        path = self.input_path(self.source.file)
        if not os.path.exists(path):
            raise ConfigError(
                f"regions.size > 0 needs chromosome lengths: {path} is not here yet, give regions.lengths"
            )
        return self.source.lengths(path)

    def data_regions(self):
        """The genotype stage's regions by name (none without genotypes)."""
        if not self.genotyped:
            return {}
        size = self.config["regions"]["size"]
        try:
            regions = plan_regions(self.chromosomes, size, self.chromosome_lengths() if size else None)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        return {region.name: region for region in regions}

    def split_settings(self):
        """trait_split's settings (data/phenotypes.py), named as it names them."""
        config = self.config
        both = sorted(set(config["input"]["covariates"]) & set(config["input"]["random_covariates"]))
        if both:
            raise ConfigError(f"input.covariates and input.random_covariates both list {', '.join(both)}")
        return {
            "id_column": config["input"]["id_column"] or None,
            "covariates": config["input"]["covariates"],
            "random_covariates": config["input"]["random_covariates"],
            "test_fraction": config["split"]["test_fraction"],
            "n_folds": config["split"]["folds"],
            "seed": config["split"]["seed"],
            "cv_repeats": config["split"]["cv_repeats"],
        }


def trait_names(config):
    """`input.traits`, or the one `input.trait`; a trait listed twice stops the run."""
    traits = config["input"]["traits"] or [config["input"]["trait"]]
    twice = sorted({t for t in traits if traits.count(t) > 1})
    if twice:
        raise ConfigError(f"input.traits: {', '.join(twice)} listed twice")
    return traits


def check_strategies(strategies):
    """Serial is timed wherever another strategy is: the speedups are measured against it."""
    timed = [name for name, counts in strategies.items() if counts]
    if timed and "serial" not in timed:
        raise ConfigError(
            f"strategies.serial: [] while {', '.join(timed)} is timed: speedups are "
            "measured against serial; set strategies.serial: [1]"
        )
