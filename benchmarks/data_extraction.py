"""Throughput of the data stage's per-chromosome work: subset (bcftools view through pysam) and
dosage extraction (bcftools query + numpy), on one core, from a 1,135-accession VCF.

    .venv/bin/python benchmarks/data_extraction.py [--length-scale 0.1]

Simulates a cohort with the pipeline's own simulator, then times `subset_vcf` and
`extract_dosages` on chromosome 1 and writes docs/benchmarks/data_extraction.md.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gpgcn.genotypes import Filters, extract_dosages  # noqa: E402
from gpgcn.metrics import cpu_model  # noqa: E402
from gpgcn.simulate import simulate_cohort  # noqa: E402
from gpgcn.vcf import subset_vcf  # noqa: E402


def count_records(vcf, chrom):
    import pysam

    with pysam.TabixFile(str(vcf)) as tabix:
        return sum(1 for _ in tabix.fetch(chrom))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length-scale", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        simulate_cohort(tmp / "cohort.vcf.gz", tmp / "study.txt", tmp / "pheno.tsv", tmp / "g.tsv",
                        chromosomes=["1"], n_accessions=1135, n_study=383, length_scale=args.length_scale, h2=0.6,
                        n_causal=50, trait="FT10_mean", missing_rate=0.01, indel_fraction=0.02,
                        multiallelic_fraction=0.01, seed=7)
        simulate_seconds = time.perf_counter() - start
        n_records = count_records(tmp / "cohort.vcf.gz", "1")
        busy = psutil.cpu_percent(interval=1.0) / 100
        start = time.perf_counter()
        subset_vcf(tmp / "cohort.vcf.gz", tmp / "study.txt", "1", tmp / "1.bcf")
        subset_seconds = time.perf_counter() - start
        start = time.perf_counter()
        matrix, snps, _ = extract_dosages(tmp / "1.bcf", Filters())
        extract_seconds = time.perf_counter() - start
    total = subset_seconds + extract_seconds
    rows = [
        ("VCF records on chromosome 1 (1,135 accessions)", f"{n_records:,}"),
        ("SNPs kept (383 accessions, MAF ≥ 0.05, missing ≤ 0.1)", f"{matrix.shape[1]:,}"),
        ("subset_vcf seconds", f"{subset_seconds:.2f} ({n_records / subset_seconds:,.0f} records/s)"),
        ("extract_dosages seconds", f"{extract_seconds:.2f}"),
        ("subset + extraction", f"{total:.2f} s, **{n_records / total:,.0f} input records/s** on one core"),
        ("simulation seconds (not part of the rate)", f"{simulate_seconds:.1f}"),
        ("CPU busy in the second before timing", f"{busy:.0%}"),
    ]
    lines = [
        "# Data stage throughput: subset + dosage extraction",
        "",
        f"Measured by `benchmarks/data_extraction.py --length-scale {args.length_scale}` on {platform.node()}: "
        f"{cpu_model()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. One core, one chromosome.",
        "",
        "| what | value |",
        "| --- | --- |",
        *[f"| {a} | {b} |" for a, b in rows],
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data_extraction.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
