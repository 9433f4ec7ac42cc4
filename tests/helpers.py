"""What the tests share besides fixtures: paths, the tiny configuration, running Snakemake,
writing small VCFs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "ft10_383"

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def strict_loads(text):
    """json.loads that refuses NaN and Infinity, as strict readers (jq, browsers) do."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def require_shared():
    """Skip where ../shared is absent, but fail under CI (CI=true), which always has it."""
    if SHARED.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {SHARED} is absent")
    pytest.skip(f"needs {SHARED}")


# config/tiny.yaml: the tiny cohort and model every workflow test starts from.
TINY = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())


def default_config():
    """config.yaml, the defaults' one home."""
    return yaml.safe_load((REPO / "config.yaml").read_text())


def train_settings(**changes):
    """config.yaml's `train:` settings with `changes`."""
    from gpgcn.gcn.training import TrainSettings

    return TrainSettings(**{**default_config()["train"], **changes})


def filters(**changes):
    """config.yaml's `genotype:` filters with `changes`."""
    from gpgcn.data.genotypes import Filters

    return Filters(**{**default_config()["genotype"], **changes})


def merged(base, override):
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def torch_modules_loaded_by(modules):
    """The first torch modules a fresh interpreter holds after importing `modules` (none: [])."""
    code = f"import sys, {', '.join(modules)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.strip()


def write_config(directory, override):
    config = merged(default_config(), override)
    path = Path(directory) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def vcf_mode_config(directory, cohort, override=None, **files):
    """A tiny config in input mode `vcf` over a simulated cohort's files (a run's results/cohort);
    `files` replaces some of them (vcf, samples, phenotypes)."""
    inputs = {
        "mode": "vcf",
        "vcf": str(cohort / "cohort.vcf.gz"),
        "samples": str(cohort / "study_accessions.txt"),
        "phenotypes": str(cohort / "phenotypes.tsv"),
        **{key: str(value) for key, value in files.items()},
    }
    return write_config(directory, merged(TINY, merged({"input": inputs}, override or {})))


def write_bad_phenotypes(cohort, path):
    """The cohort's phenotype table with one FT10_mean value replaced by a word; returns that accession."""
    lines = (cohort / "phenotypes.tsv").read_text().splitlines()
    fields = lines[5].split("\t")
    fields[lines[0].split("\t").index("FT10_mean")] = "late"
    lines[5] = "\t".join(fields)
    accession = fields[0]
    path.write_text("\n".join(lines) + "\n")
    return accession


def snakemake(directory, *args, timeout=600):
    command = [*SNAKEMAKE, "--directory", str(directory), "--configfile", str(Path(directory) / "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


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


def vcf_to_plink(vcf_path, bed_path):
    """A PLINK 1 fileset of a VCF's two-allele records, as plink2 --make-bed writes one: A1 is
    ALT (the dosage counts it), A2 REF; records of more alleles are left out (PLINK 1 has none)."""
    from bed_reader import to_bed

    with pysam.VariantFile(str(vcf_path)) as vcf:
        samples = list(vcf.header.samples)
        columns, properties = [], {k: [] for k in ("chromosome", "sid", "bp_position", "allele_1", "allele_2")}
        for record in vcf:
            if len(record.alleles) != 2:
                continue
            calls = [record.samples[s]["GT"] for s in samples]
            columns.append([np.nan if None in gt else float(sum(a == 1 for a in gt)) * 2 / len(gt) for gt in calls])
            for key, value in zip(
                properties,
                (record.chrom, record.id or f"{record.chrom}:{record.pos}", record.pos, record.alts[0], record.ref),
            ):
                properties[key].append(value)
    to_bed(bed_path, np.array(columns, dtype=np.float32).T, properties={"iid": samples, "fid": samples, **properties})
    return bed_path


def plink_mode_config(directory, cohort, bed, override=None):
    """A tiny config in input mode `plink` over a simulated cohort's study list and phenotypes."""
    inputs = {
        "mode": "plink",
        "bed": str(bed),
        "samples": str(cohort / "study_accessions.txt"),
        "phenotypes": str(cohort / "phenotypes.tsv"),
    }
    return write_config(directory, merged(TINY, merged({"input": inputs}, override or {})))
