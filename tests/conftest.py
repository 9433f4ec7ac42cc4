import gzip
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "ft10_383"

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]

TINY = {
    "simulate": {"n_accessions": 150, "n_study": 100, "length_scale": 0.003, "n_causal": 20},
    "chromosomes": ["1", "2"],
    "train": {"hidden": 16, "max_epochs": 25, "patience": 10, "ensemble": False},
}


def merged(base, override):
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def write_config(directory, override):
    config = merged(yaml.safe_load((REPO / "config.yaml").read_text()), override)
    path = Path(directory) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(directory, *args, timeout=600):
    command = [*SNAKEMAKE, "--directory", str(directory), "--configfile", str(Path(directory) / "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole workflow on a tiny simulated cohort, run locally (shared by the workflow tests)."""
    directory = tmp_path_factory.mktemp("tiny")
    write_config(directory, TINY)
    run = snakemake(directory, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return directory


def write_vcf(path, samples, records, contigs=(("1", 10_000), ("2", 10_000)), index=True, fmt="GT"):
    """Write a small bgzipped VCF; records are (chrom, pos, ref, alt, [sample fields, ...]) and
    every record's FORMAT is `fmt`, or (chrom, pos, ref, alt, [fields], format, ID)."""
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for chrom, pos, ref, alt, gts, *extra in records:
        record_fmt = extra[0] if extra else fmt
        ident = extra[1] if len(extra) > 1 else "."
        lines.append("\t".join([chrom, str(pos), ident, ref, alt, ".", "PASS", ".", record_fmt, *gts]))
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
