"""PLINK 1 binary genotypes (.bed/.bim/.fam), read with bed-reader, as the dosage extraction
reads a subset BCF: the study accessions' dosages of one region's biallelic SNPs, chunk by chunk.

The dosage counts the .bim's first allele (A1, PLINK's ALT when it converts a VCF), so ALT is A1
and REF is A2, and a VCF and the .bed plink2 makes of it give the same dosages.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_ids

MISSING = -1
BIM_COLUMNS = ["chrom", "id", "cm", "pos", "a1", "a2"]
BASES = {"A", "C", "G", "T"}


def plink_files(bed_path):
    """The .bim and .fam beside a .bed; a missing one is an error naming it."""
    bed = Path(bed_path)
    files = {"bed": bed, "bim": bed.with_suffix(".bim"), "fam": bed.with_suffix(".fam")}
    for path in files.values():
        if not path.exists():
            raise InputError(path, "missing: a PLINK 1 fileset needs .bed, .bim and .fam side by side")
    return files


def read_bim(bim_path):
    bim = pd.read_csv(bim_path, sep=r"\s+", header=None, dtype=str, comment=None)
    if bim.shape[1] != len(BIM_COLUMNS):
        raise InputError(bim_path, f"{bim.shape[1]} columns, expected 6 (chrom, id, cm, pos, A1, A2)")
    bim.columns = BIM_COLUMNS
    pos = pd.to_numeric(bim["pos"], errors="coerce")
    if pos.isna().any():
        line = int(np.flatnonzero(pos.isna().to_numpy())[0]) + 1
        raise InputError(bim_path, f"line {line}: position {bim['pos'].iloc[line - 1]!r} is not a number")
    bim["pos"] = pos.astype(np.int64)
    return bim


def read_fam(fam_path):
    fam = pd.read_csv(fam_path, sep=r"\s+", header=None, dtype=str)
    if fam.shape[1] < 2:
        raise InputError(fam_path, "expected at least 2 columns (family ID, individual ID)")
    return fam[1].tolist()


def plink_study_samples(bed_path, samples_path=None, fam_ids=None):
    """The study accessions of a PLINK fileset, in the .fam's order: those of `samples_path`, or
    (None) every sample of the .fam (`fam_ids`, where read already)."""
    fam = plink_files(bed_path)["fam"]
    fam_ids = read_fam(fam) if fam_ids is None else fam_ids
    if not samples_path:
        return fam_ids
    study = read_ids(samples_path)
    in_fam = set(fam_ids)
    absent = [s for s in study if s not in in_fam]
    if absent:
        raise InputError(fam, f"{len(absent)} accession(s) of {samples_path} absent: {', '.join(absent[:10])}")
    wanted = set(study)
    return [s for s in fam_ids if s in wanted]


def plink_contigs(bed_path):
    """Chromosomes holding records, in .bim order."""
    return list(dict.fromkeys(read_bim(plink_files(bed_path)["bim"])["chrom"]))


def plink_contig_lengths(bed_path):
    """Each chromosome's last position in the .bim: its length as far as the markers go."""
    bim = read_bim(plink_files(bed_path)["bim"])
    return {chrom: int(pos) for chrom, pos in bim.groupby("chrom", sort=False)["pos"].max().items()}


def check_size(files, n_samples, n_variants):
    expected = 3 + n_variants * ((n_samples + 3) // 4)
    size = files["bed"].stat().st_size
    if size != expected:
        raise InputError(
            files["bed"],
            f"{size:,} bytes, but {files['bim'].name} lists {n_variants:,} variants and {files['fam'].name} "
            f"{n_samples:,} samples: a variant-major .bed of them has {expected:,}",
        )


@dataclass
class Chunk:
    n_records: int  # variants of the region read
    columns: np.ndarray  # .bim rows of the biallelic SNPs among them
    dosage: np.ndarray  # int8 [SNPs x study samples], MISSING where the call is missing


class PlinkReader:
    """One region (chrom, start, end; end None: to the chromosome's end) of a .bed, the study
    accessions of `samples_path` only (None: every sample of the .fam), in the .fam's order (as
    `bcftools convert -S` keeps the VCF's)."""

    def __init__(self, bed_path, samples_path, chrom, start=None, end=None):
        files = plink_files(bed_path)
        self.path = str(files["bed"])
        fam_ids = read_fam(files["fam"])
        self.bim = read_bim(files["bim"])
        check_size(files, len(fam_ids), len(self.bim))
        wanted = set(plink_study_samples(bed_path, samples_path, fam_ids))
        self.sample_rows = np.array([i for i, s in enumerate(fam_ids) if s in wanted], dtype=np.int64)
        self.samples = [fam_ids[i] for i in self.sample_rows]
        self.n = len(self.samples)
        here = self.bim["chrom"].eq(chrom) & self.bim["pos"].ge(start or 0)
        if end is not None:
            here &= self.bim["pos"].le(end)
        self.rows = np.flatnonzero(here.to_numpy())
        alleles = self.bim[["a1", "a2"]].apply(lambda c: c.str.upper())
        self.snp = (alleles["a1"].isin(BASES) & alleles["a2"].isin(BASES) & (alleles["a1"] != alleles["a2"])).to_numpy()
        # Imported here: it brings scipy.sparse, a tenth of a second of every VCF-mode data job
        # and of every Snakemake call (the rules import this module for the .bim's contigs).
        from bed_reader import open_bed

        self.bed = open_bed(files["bed"], iid_count=len(fam_ids), sid_count=len(self.bim), count_A1=True)

    def chunks(self, chunk_bytes):
        """Yield a Chunk per ~`chunk_bytes` of dosages, so memory stays bounded."""
        per_chunk = max(1, chunk_bytes // max(self.n, 1))
        for first in range(0, len(self.rows), per_chunk):
            rows = self.rows[first : first + per_chunk]
            columns = rows[self.snp[rows]]
            dosage = self.bed.read(index=np.s_[self.sample_rows, columns], dtype="int8", order="C", num_threads=1)
            dosage = np.where(dosage < 0, MISSING, dosage).astype(np.int8).T
            yield Chunk(len(rows), columns, np.ascontiguousarray(dosage))

    def sites(self, chunk, rows):
        """(chrom, pos, id, ref, alt) of the chunk's SNPs at `rows`; a missing ID is chrom:pos."""
        bim = self.bim.iloc[chunk.columns[rows]]
        ids = bim["id"].where(~bim["id"].isin([".", ""]), bim["chrom"] + ":" + bim["pos"].astype(str))
        return pd.DataFrame(
            {
                "chrom": bim["chrom"].to_numpy(object),
                "pos": bim["pos"].to_numpy(np.int64),
                "id": ids.to_numpy(object),
                "ref": bim["a2"].to_numpy(object),
                "alt": bim["a1"].to_numpy(object),
            }
        )
