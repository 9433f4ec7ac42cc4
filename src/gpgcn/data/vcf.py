"""VCF access through bcftools (compiled into pysam): headers and subsetting."""

import gzip
import logging
import os
import zlib
from pathlib import Path

import pysam
from pysam import bcftools

from ..errors import InputError
from ..io import atomic_path, read_ids

log = logging.getLogger(__name__)


def vcf_samples(vcf_path):
    """Sample IDs from a VCF/BCF header; a file that is not a VCF is an InputError."""
    verbosity = pysam.set_verbosity(0)  # an unindexed BCF is fine here; hide htslib's notice
    try:
        with pysam.VariantFile(str(vcf_path)) as vcf:
            return list(vcf.header.samples)
    except NotImplementedError:
        raise InputError(
            vcf_path, "compressed with plain gzip; recompress it with bgzip (and index it with tabix)"
        ) from None
    except (ValueError, OSError) as error:
        raise InputError(vcf_path, f"not a readable VCF/BCF ({error})") from None
    finally:
        pysam.set_verbosity(verbosity)


def vcf_contigs(vcf_path):
    """The VCF's chromosomes that hold records, in file order: from its index where it has one,
    else from its header's ##contig lines (none where the file holds no record), else from its
    CHROM column (read through once)."""
    if has_index(vcf_path):
        stats = bcftools.index("--stats", str(vcf_path))
        return [fields[0] for fields in (line.split("\t") for line in stats.splitlines()) if int(fields[-1]) > 0]
    vcf_samples(vcf_path)  # a clear error for what is not a VCF
    verbosity = pysam.set_verbosity(0)  # no index here: hide htslib's notice
    try:
        with pysam.VariantFile(str(vcf_path)) as vcf:
            declared = list(vcf.header.contigs)
            has_records = next(iter(vcf), None) is not None
    except (ValueError, OSError):
        has_records = True  # a broken first record: the subset job names it
    finally:
        pysam.set_verbosity(verbosity)
    if not has_records:
        return []  # a header without records: its ##contig lines hold none
    if declared:
        return declared
    seen = {}
    with open_vcf_text(vcf_path) as handle:
        for line in handle:
            if not line.startswith("#"):
                seen.setdefault(line.split("\t", 1)[0], None)
    return list(seen)


def contig_lengths(vcf_path):
    """Chromosome lengths declared by a VCF/BCF header (`##contig=<ID=..,length=..>`)."""
    with pysam.VariantFile(str(vcf_path)) as vcf:
        return {name: contig.length for name, contig in vcf.header.contigs.items() if contig.length}


def study_samples(vcf_path, samples_path=None):
    """The study accessions of a VCF, in its order: those of `samples_path`, or (None) every
    sample of the VCF."""
    present = vcf_samples(vcf_path)
    if not samples_path:
        if not present:
            raise InputError(vcf_path, "no samples in the header")
        return present
    wanted = set(check_requested_samples(vcf_path, samples_path))
    return [s for s in present if s in wanted]


def check_requested_samples(vcf_path, samples_path):
    """Stop with the list of requested accessions that the VCF lacks."""
    requested = read_ids(samples_path)
    present = set(vcf_samples(vcf_path))
    missing = [s for s in requested if s not in present]
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise InputError(vcf_path, f"{len(missing)} requested accession(s) from {samples_path} are missing: {shown}")
    return requested


def open_vcf_text(vcf_path):
    """A text VCF's lines, whether (b)gzip-compressed or plain."""
    with open(vcf_path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    return gzip.open(vcf_path, "rt", errors="replace") if compressed else open(vcf_path, errors="replace")


def first_bad_record(vcf_path):
    """Where a text VCF first breaks, as 'line N (CHROM:POS): why', or None where every record
    has the header's columns and a numeric POS. Only for error messages: bcftools says "VCF parse
    error" without saying where."""
    columns, lineno = None, 0
    try:
        with open_vcf_text(vcf_path) as handle:
            for lineno, line in enumerate(handle, 1):
                if line.startswith("##"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if line.startswith("#"):
                    columns = len(fields)
                    continue
                where = f"line {lineno} ({fields[0]}:{fields[1] if len(fields) > 1 else '?'})"
                if not line.endswith("\n"):
                    return f"{where}: the file ends inside this record (an incomplete download?)"
                if columns is None:
                    return f"line {lineno}: a record before the #CHROM header line"
                if len(fields) != columns:
                    return f"{where}: {len(fields)} columns where the header has {columns}"
                if not fields[1].isdigit():
                    return f"{where}: POS {fields[1]!r} is not a position"
    except (EOFError, OSError, zlib.error):
        return f"the compressed data ends or breaks after line {lineno} (an incomplete download?)"
    return None


def run_bcftools(command, *args, source):
    """Run a bcftools subcommand; a failure names the record that broke where it can be found."""
    try:
        getattr(bcftools, command)(*map(str, args), catch_stdout=False)
    except pysam.utils.SamtoolsError as error:
        message = str(error).split("stderr=", 1)[-1].strip().strip("'\"").replace("\\n", " ").strip()
        where = first_bad_record(source)
        raise InputError(source, f"bcftools {command} failed: {message}" + (f"; {where}" if where else "")) from None


def has_index(vcf_path):
    return any(Path(f"{vcf_path}{ext}").exists() for ext in (".tbi", ".csi"))


def subset_vcf(vcf_path, samples_path, region, out_path, threads=1):
    """Keep the study accessions (`samples_path`; None: every sample) and every record of one
    region (bcftools syntax), as BCF.

    A record belongs to the region holding its POS (`--regions-overlap pos`): by default bcftools
    also takes records that merely overlap a region, which would put a multi-base record at a
    boundary into two regions. Records of every type are kept: the genotype job counts them for
    the filter funnel, then keeps the biallelic SNPs (as `-m2 -M2 -v snps` would). The output is
    uncompressed BCF: written and read once.

    `bcftools convert`, not `view`: it hands the sample list to htslib's reader, which then skips
    the other accessions' columns while parsing each line, where `view` parses every accession and
    subsets afterwards; the BCF written is the same. Its accessions keep the VCF's order.
    """
    if samples_path:
        check_requested_samples(vcf_path, samples_path)
    else:
        log.info("no study list (input.samples): every sample of %s is a study accession", vcf_path)
    # With an index, read only this region's blocks; without one, stream the file and filter.
    where = (
        ["-r", region, "--regions-overlap", "pos"]
        if has_index(vcf_path)
        else ["-t", region, "--targets-overlap", "pos"]
    )
    with atomic_path(out_path) as tmp:
        run_bcftools(
            "convert",
            "--no-version",
            *(["-S", samples_path] if samples_path else []),
            *where,
            "--threads",
            max(0, threads - 1),
            "-Ou",
            "-o",
            tmp,
            vcf_path,
            source=vcf_path,
        )
        if os.path.getsize(tmp) == 0:
            raise InputError(vcf_path, "bcftools convert wrote nothing (truncated or unreadable input)")
