"""PLINK 1 input: the same dosages as the VCF it was made from, and one-line errors for a broken
fileset."""

import numpy as np
import pandas as pd
import pytest

from gpgcn.data.bcf import BcfReader
from gpgcn.data.genotypes import extract_dosages
from gpgcn.data.plink import PlinkReader, plink_contig_lengths, plink_contigs
from gpgcn.data.vcf import subset_vcf
from gpgcn.errors import InputError
from gpgcn.io import write_ids

from helpers import filters, vcf_to_plink, write_vcf

SAMPLES = ["101", "102", "103", "104", "105"]
RECORDS = [
    ("1", 100, "A", "G", ["0/0", "1/1", "0/1", "./.", "1/1"]),
    ("1", 200, "C", "T,G", ["0/0", "1/1", "2/2", "0/0", "0/0"]),  # multi-allelic: not in PLINK 1
    ("1", 300, "A", "AT", ["0/0", "1/1", "1/1", "0/0", "0/0"]),  # indel: not a SNP
    ("1", 400, "G", "C", ["1/1", "1/1", "0/0", "0|1", "0/0"]),
    ("1", 500, "T", "A", ["0/0", "0/0", "0/0", "0/0", "1/1"]),  # monomorphic among the study four
    ("2", 100, "C", "A", ["1/1", "0/0", "0/0", "0/0", "0/0"], "GT", "rs7"),
    ("2", 900, "T", "C", ["0/1", "0/0", "1/1", "1/1", "0/0"]),
]
STUDY = ["102", "101", "104", "103"]  # listed out of the file's order; 105 is not studied


@pytest.fixture
def cohort(tmp_path):
    vcf = write_vcf(tmp_path / "cohort.vcf.gz", SAMPLES, RECORDS)
    write_ids(tmp_path / "study.txt", STUDY)
    return vcf, vcf_to_plink(vcf, tmp_path / "cohort.bed"), tmp_path / "study.txt"


def from_vcf(tmp_path, vcf, study, chrom):
    subset_vcf(vcf, study, chrom, tmp_path / f"{chrom}.bcf")
    return extract_dosages(BcfReader(tmp_path / f"{chrom}.bcf"), filters(maf=0.0, max_missing=0.5))


@pytest.mark.parametrize("chrom", ["1", "2"])
def test_plink_gives_the_vcfs_dosages_sites_and_accessions(tmp_path, cohort, chrom):
    vcf, bed, study = cohort
    matrix, snps, ids, funnel = extract_dosages(PlinkReader(bed, study, chrom), filters(maf=0.0, max_missing=0.5))
    expected_matrix, expected_snps, expected_ids, expected_funnel = from_vcf(tmp_path, vcf, study, chrom)
    assert ids == expected_ids and len(ids) == 4
    np.testing.assert_array_equal(matrix, expected_matrix)
    pd.testing.assert_frame_equal(snps, expected_snps)
    assert funnel["MAF passed"] == expected_funnel["MAF passed"] > 0
    if chrom == "1":
        assert list(snps["pos"]) == [100, 400] and list(snps["ref"]) == ["A", "G"] and list(snps["alt"]) == ["G", "C"]
        assert funnel["records read"] == 4 and funnel["biallelic SNPs"] == 3  # no multi-allelic record; the indel out
    else:
        assert list(snps["id"]) == ["rs7", "2:900"]


def test_a_region_reads_only_its_positions(cohort):
    _, bed, study = cohort
    _, snps, _, funnel = extract_dosages(PlinkReader(bed, study, "1", 150, 450), filters(maf=0.0, max_missing=0.5))
    assert list(snps["pos"]) == [400] and funnel["records read"] == 2
    assert plink_contigs(bed) == ["1", "2"] and plink_contig_lengths(bed) == {"1": 500, "2": 900}


def test_a_bed_of_the_wrong_size_is_refused(cohort):
    _, bed, study = cohort
    bed.write_bytes(bed.read_bytes()[:-1])
    with pytest.raises(InputError, match=r"cohort.bed: .* bytes, but cohort.bim lists 6 variants and cohort.fam 5"):
        PlinkReader(bed, study, "1")


def test_a_missing_fam_is_named(cohort):
    _, bed, study = cohort
    bed.with_suffix(".fam").unlink()
    with pytest.raises(InputError, match=r"cohort.fam: missing"):
        PlinkReader(bed, study, "1")


def test_study_accessions_absent_from_the_fam_are_named(cohort, tmp_path):
    _, bed, _ = cohort
    write_ids(tmp_path / "more.txt", ["101", "999", "102"])
    with pytest.raises(InputError, match=r"cohort.fam: 1 accession\(s\) of .*more.txt absent: 999"):
        PlinkReader(bed, tmp_path / "more.txt", "1")
