import gzip
import os

import pysam
import pytest

from gpgcn.errors import InputError
from gpgcn.io import write_ids
from gpgcn.vcf import subset_vcf


def test_missing_accessions_are_listed(tmp_path, small_vcf):
    vcf, _ = small_vcf
    write_ids(tmp_path / "samples.txt", ["101", "999", "998"])
    out = tmp_path / "1.bcf"
    with pytest.raises(InputError, match=r"2 requested accession\(s\).*missing: 999, 998"):
        subset_vcf(vcf, tmp_path / "samples.txt", "1", out)
    assert not out.exists()


def test_truncated_vcf_fails_cleanly(tmp_path, small_vcf):
    vcf, samples = small_vcf
    data = open(vcf, "rb").read()
    truncated = tmp_path / "truncated.vcf.gz"
    truncated.write_bytes(data[: len(data) // 2])
    write_ids(tmp_path / "samples.txt", samples)
    out = tmp_path / "1.bcf"
    with pytest.raises(InputError, match="truncated.vcf.gz"):
        subset_vcf(truncated, tmp_path / "samples.txt", "1", out)
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_malformed_record_names_the_file(tmp_path):
    vcf = tmp_path / "bad.vcf.gz"
    text = (
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t101\n"
        "1\tnot_a_position\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n"
    )
    plain = tmp_path / "bad.vcf"
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(vcf))
    write_ids(tmp_path / "samples.txt", ["101"])
    with pytest.raises(InputError, match="bad.vcf.gz"):
        subset_vcf(vcf, tmp_path / "samples.txt", "1", tmp_path / "1.bcf")
    assert not (tmp_path / "1.bcf").exists()


def test_not_a_vcf(tmp_path):
    vcf = tmp_path / "notes.vcf.gz"
    vcf.write_text("hello\n")
    write_ids(tmp_path / "samples.txt", ["101"])
    with pytest.raises(InputError, match="not a readable VCF"):
        subset_vcf(vcf, tmp_path / "samples.txt", "1", tmp_path / "1.bcf")


def test_plain_gzip_is_refused_with_advice(tmp_path, small_vcf):
    vcf, samples = small_vcf
    plain_gzip = tmp_path / "plain.vcf.gz"
    with gzip.open(plain_gzip, "wb") as handle:
        handle.write(gzip.open(vcf).read())
    write_ids(tmp_path / "samples.txt", samples)
    with pytest.raises(InputError, match="bgzip"):
        subset_vcf(plain_gzip, tmp_path / "samples.txt", "1", tmp_path / "1.bcf")
