import gzip
from pathlib import Path

import pysam
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "ft10_383"


def write_vcf(path, samples, records, contigs=(("1", 10_000), ("2", 10_000)), index=True):
    """Write a small bgzipped VCF; records are (chrom, pos, ref, alt, [GT, ...])."""
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for chrom, pos, ref, alt, gts in records:
        lines.append("\t".join([chrom, str(pos), ".", ref, alt, ".", "PASS", ".", "GT", *gts]))
    text = "\n".join(lines) + "\n"
    plain = Path(str(path).removesuffix(".gz"))
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


@pytest.fixture
def small_vcf(tmp_path):
    """Four accessions with a missing call, a multi-allelic site, an indel and a monomorphic SNP."""
    samples = ["101", "102", "103", "104"]
    records = [
        ("1", 100, "A", "G", ["0/0", "1/1", "0/1", "./."]),
        ("1", 200, "C", "T,G", ["0/0", "1/1", "2/2", "0/0"]),  # multi-allelic: dropped
        ("1", 300, "A", "AT", ["0/0", "1/1", "1/1", "0/0"]),  # indel: dropped
        ("1", 400, "G", "C", ["1/1", "1/1", "0/0", "0|1"]),
        ("1", 500, "T", "A", ["0/0", "0/0", "0/0", "0/0"]),  # monomorphic in the subset: dropped
        ("2", 100, "C", "A", ["1/1", "0/0", "0/0", "0/0"]),
    ]
    return write_vcf(tmp_path / "small.vcf.gz", samples, records), samples


def gzip_text(path, text):
    with gzip.open(path, "wt") as handle:
        handle.write(text)
