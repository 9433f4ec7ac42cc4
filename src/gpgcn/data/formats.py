"""The input formats, one table: what each input mode (`input.mode`) reads, and how each genotype
source is read. The rules consult these tables, never a mode's name; a test holds them to the
config schema.

A new genotype format is a reader (the interface of `bcf.BcfReader`) and one `GenotypeSource`
row; a new mode one `InputMode` row.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .bcf import BcfReader
from .genotypes import load_accessions
from .plink import PlinkReader, plink_contig_lengths, plink_contigs, plink_study_samples
from .vcf import contig_lengths, study_samples, vcf_contigs


@dataclass(frozen=True)
class InputFile:
    section: str  # the config section holding its key
    remote: bool = True  # may be an https URL, fetched once (and given a checksum)
    optional: bool = False  # a mode that lists it may go without it


# Every input file, by its config key.
INPUT_FILES = {
    "vcf": InputFile("input"),
    # A local path only: its .bim and .fam lie beside it.
    "bed": InputFile("input", remote=False),
    # Without a study list every sample of the VCF or .fam is studied.
    "samples": InputFile("input", optional=True),
    "phenotypes": InputFile("input"),
    "kinship": InputFile("input"),
    "test_ids": InputFile("split", optional=True),
    "cv_folds_file": InputFile("split", optional=True),
}


@dataclass(frozen=True)
class GenotypeSource:
    """How a mode's genotypes are read, region by region."""

    name: str  # what the genotype job is told (`genotype_region_stage`)
    file: str  # the INPUT_FILES key of its main file
    contigs: Callable  # path -> the chromosomes that hold records, in file order
    lengths: Callable  # path -> {chromosome: length}
    # The cohort files a region's job reads; none: it reads its own subset BCF (rule subset_vcf).
    region_files: tuple
    reader: Callable  # (files, region) -> a reader of the region's dosages
    study: Callable  # files -> the study accessions, in the reader's order, from headers alone


GENOTYPE_SOURCES = {
    source.name: source
    for source in (
        GenotypeSource(
            "bcf",
            "vcf",
            vcf_contigs,
            contig_lengths,
            (),
            lambda files, region: BcfReader(files["bcf"]),
            lambda files: study_samples(files["vcf"], files.get("samples")),
        ),
        GenotypeSource(
            "plink",
            "bed",
            plink_contigs,
            plink_contig_lengths,
            ("bed", "bim", "fam", "samples"),
            lambda files, region: PlinkReader(
                files["bed"], files.get("samples"), region.chrom, region.start, region.end
            ),
            lambda files: plink_study_samples(files["bed"], files.get("samples")),
        ),
    )
}


@dataclass(frozen=True)
class InputMode:
    files: tuple  # the INPUT_FILES keys of the user's inputs (mode simulate writes its own)
    genotypes: str | None  # its GENOTYPE_SOURCES key; None: a relationship matrix stands in


INPUT_MODES = {
    "simulate": InputMode((), "bcf"),
    "vcf": InputMode(("vcf", "samples", "phenotypes"), "bcf"),
    "plink": InputMode(("bed", "samples", "phenotypes"), "plink"),
    "kinship": InputMode(("kinship", "phenotypes"), None),
}


def study_accessions(genotypes, files):
    """The study accessions the genotype stage will keep (its accession order), read at once from
    the source `genotypes` (a GENOTYPE_SOURCES key; None: a relationship matrix's, whose accession
    list is `files["accessions"]`)."""
    if genotypes is None:
        return load_accessions(files["accessions"])
    return GENOTYPE_SOURCES[genotypes].study(files)
