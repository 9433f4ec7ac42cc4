import gzip
import os

import pysam
import pytest

from gpgcn.data.vcf import subset_vcf
from gpgcn.errors import InputError
from gpgcn.io import write_ids


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
    with pytest.raises(InputError, match="truncated.vcf.gz: .*may be truncated"):
        subset_vcf(truncated, tmp_path / "samples.txt", "1", out)
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=100000>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t101\n"
)


def bgzip_text(tmp_path, name, text):
    plain = tmp_path / name.removesuffix(".gz")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(tmp_path / name))
    plain.unlink()
    return tmp_path / name


def assert_subset_refused(tmp_path, vcf, message):
    """Subsetting `vcf` to one accession stops with an InputError matching `message`, and writes no BCF."""
    write_ids(tmp_path / "samples.txt", ["101"])
    with pytest.raises(InputError, match=message):
        subset_vcf(vcf, tmp_path / "samples.txt", "1", tmp_path / "1.bcf")
    assert not (tmp_path / "1.bcf").exists()


def test_malformed_record_is_named(tmp_path):
    records = "1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n1\tnot_a_position\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n"
    vcf = bgzip_text(tmp_path, "bad.vcf.gz", HEADER + records)
    assert_subset_refused(tmp_path, vcf, r"bad.vcf.gz: .*line 6 \(1:not_a_position\): POS 'not_a_position'")


def test_malformed_record_of_an_uncompressed_vcf_is_named(tmp_path):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text(HEADER + "1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n1\tnot_a_position\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n")
    assert_subset_refused(tmp_path, vcf, r"bad.vcf: .*line 6 \(1:not_a_position\): POS 'not_a_position'")


def test_vcf_cut_off_mid_record_is_named(tmp_path):
    """A download that broke inside a record, after an intact header (then compressed whole)."""
    records = "".join(f"1\t{100 + i}\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n" for i in range(500))
    vcf = bgzip_text(tmp_path, "cut.vcf.gz", HEADER + records + "1\t600\t.\tA")
    assert_subset_refused(tmp_path, vcf, r"cut.vcf.gz: .*line 505 \(1:600\): the file ends inside this record")


def test_not_a_vcf(tmp_path):
    vcf = tmp_path / "notes.vcf.gz"
    vcf.write_text("hello\n")
    assert_subset_refused(tmp_path, vcf, "not a readable VCF")


def test_plain_gzip_is_refused_with_advice(tmp_path, small_vcf):
    vcf, samples = small_vcf
    plain_gzip = tmp_path / "plain.vcf.gz"
    with gzip.open(plain_gzip, "wb") as handle:
        handle.write(gzip.open(vcf).read())
    write_ids(tmp_path / "samples.txt", samples)
    with pytest.raises(InputError, match="bgzip"):
        subset_vcf(plain_gzip, tmp_path / "samples.txt", "1", tmp_path / "1.bcf")
