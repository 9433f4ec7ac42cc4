"""SNP dosage matrices: extraction from a subset BCF or a PLINK fileset, filtering, and
standardised features.

At rest a chromosome is an int8 matrix (accessions x SNPs) of alternate-allele dosages 0/1/2,
with -1 for a missing call. Missing calls are mean-imputed when the matrix is centred: a centred
missing value is 0, exactly the SNP's mean, so no imputed value ever needs to be stored.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_path, read_ids, write_ids, write_tsv
from .bcf import MISSING

log = logging.getLogger(__name__)
READ_CHUNK_BYTES = 64 << 20
SNP_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "alt_freq", "maf", "missing_rate"]


@dataclass
class Filters:
    """The config's `genotype:` section."""

    maf: float
    max_missing: float
    ld_prune_r2: float  # 0: no LD pruning
    ld_window: int  # SNPs


# The filter funnel: how many records are left after each step, in order.
FUNNEL_STEPS = ["records read", "biallelic SNPs", "missing rate passed", "MAF passed", "LD pruning passed"]


def extract_dosages(reader, filters):
    """Filtered dosage matrix (accessions x SNPs, int8, -1 missing), SNP table, accession IDs,
    and the filter funnel ({step: records left}), from a genotype reader (`formats.GENOTYPE_SOURCES`).

    MAF and missingness are computed on the reader's accessions (the study subset) only; a SNP
    monomorphic among them fails the MAF filter whatever its threshold.
    """
    n = reader.n
    kept, sites, stats = [], [], []
    funnel = dict.fromkeys(FUNNEL_STEPS, 0)
    for chunk in reader.chunks(READ_CHUNK_BYTES):
        dosage = chunk.dosage
        n_missing = (dosage == MISSING).sum(axis=1)
        n_called = n - n_missing
        # Missing calls are -1: adding their count back gives the sum over called genotypes.
        alt_freq = (dosage.sum(axis=1, dtype=np.int64) + n_missing) / np.maximum(2 * n_called, 1)
        maf = np.minimum(alt_freq, 1.0 - alt_freq)
        missing_rate = n_missing / n
        called = missing_rate <= filters.max_missing
        rows = np.flatnonzero(called & (maf >= filters.maf) & (maf > 0))
        kept.append(dosage[rows])
        sites.append(reader.sites(chunk, rows))
        stats.append(np.column_stack([alt_freq, maf, missing_rate])[rows])
        for step, count in zip(FUNNEL_STEPS, (chunk.n_records, len(dosage), int(called.sum()), len(rows))):
            funnel[step] += count
        log.info("%s: %d records read, %d SNPs kept so far", reader.path, funnel["records read"], funnel["MAF passed"])
    matrix = np.ascontiguousarray(np.concatenate(kept).T) if kept else np.zeros((n, 0), np.int8)
    snps = pd.concat(sites, ignore_index=True) if sites else pd.DataFrame(columns=SNP_COLUMNS[:5])
    snps[SNP_COLUMNS[5:]] = np.concatenate(stats) if stats else np.zeros((0, 3))
    if filters.ld_prune_r2 > 0:
        columns = ld_prune(matrix, filters.ld_prune_r2, filters.ld_window)
        matrix, snps = np.ascontiguousarray(matrix[:, columns]), snps.iloc[columns].reset_index(drop=True)
    funnel["LD pruning passed"] = matrix.shape[1]
    return matrix, snps, reader.samples, funnel


def funnel_text(funnel):
    return " -> ".join(f"{step} {count:,}" for step, count in funnel.items())


def emptied_by(funnel):
    """The first step that left no record (None while records remain)."""
    return next((step for step in FUNNEL_STEPS if funnel[step] == 0), None)


def ld_prune(dosage, r2_max, window, block=2000):
    """Columns kept by greedy LD pruning in position order: a SNP is dropped when its r² with a
    kept SNP among the `window` SNPs before it exceeds `r2_max` (r over the accessions, missing
    calls at the mean). So no two kept SNPs within `window` of each other exceed `r2_max`."""
    n_snps = dosage.shape[1]
    keep = np.zeros(n_snps, dtype=bool)
    for start in range(0, n_snps, block):
        first, stop = max(0, start - window), min(n_snps, start + block)
        z = centred(dosage[:, first:stop], np.float64)[0]
        norms = np.linalg.norm(z, axis=0)
        z /= np.where(norms > 0, norms, 1.0)
        r2 = (z[:, start - first :].T @ z) ** 2  # block SNPs x (window before + block)
        for j in range(start, stop):
            near = max(first, j - window)
            earlier = np.flatnonzero(keep[near:j]) + (near - first)
            keep[j] = not (r2[j - start, earlier] > r2_max).any()
    return np.flatnonzero(keep)


def write_genotype_matrix(matrix, snps, samples, matrix_path, snps_path, accessions_path):
    with atomic_path(matrix_path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, matrix)
    write_tsv(snps_path, snps, float_format="%.6g")
    write_ids(accessions_path, samples)


def load_accessions(paths):
    """The accession order shared by every chromosome's matrix; a mismatch is an error."""
    first = None
    for path in paths:
        ids = read_ids(path)
        if first is None:
            first, first_path = ids, path
        elif ids != first:
            raise InputError(path, f"accessions differ from {first_path}")
    return first


def centred(dosage, dtype=np.float32):
    """Dosages minus twice the allele frequency, with missing calls at 0 (their mean)."""
    dosage = np.asarray(dosage)
    observed = dosage != MISSING
    freq = np.where(observed, dosage, 0).sum(axis=0) / np.maximum(2 * observed.sum(axis=0), 1)
    z = np.where(observed, dosage - dtype(2.0) * freq.astype(dtype), dtype(0.0))
    return z.astype(dtype, copy=False), freq


def scale_features(z, scaling, root_mean_square=1.0):
    """Scale centred features in place: 'standardised' per column to unit variance, 'centred' by
    one genome-wide root mean square (so common SNPs weigh more, as in VanRaden's GRM)."""
    if scaling == "standardised":
        sd = z.std(axis=0)
        z /= np.where(sd > 0, sd, 1.0)
    elif scaling == "centred":
        z /= root_mean_square or 1.0
    else:
        raise ValueError(f"unknown feature scaling {scaling!r}")
    return z


def _scaled_blocks(matrix_paths, scaling):
    """Yield (first column, features float32) per chromosome, loading one matrix at a time.

    The genome-wide scale needs every block first, so 'centred' reads the matrices twice rather
    than holding them all.
    """
    root_mean_square = 1.0
    if scaling == "centred":
        total, count = 0.0, 0
        for path in matrix_paths:
            z = centred(np.load(path, mmap_mode="r"))[0]
            total, count = total + float(np.square(z).sum()), count + z.size
        root_mean_square = np.sqrt(total / count) if total > 0 else 1.0
    first = 0
    for path in matrix_paths:
        z = scale_features(centred(np.load(path, mmap_mode="r"))[0], scaling, root_mean_square)
        yield first, z
        first += z.shape[1]


def load_features(matrix_paths, scaling, shard=None):
    """GCN node features (accessions x SNPs, float32) and the SNP count of each chromosome.

    Scaling as in `scale_features`. `shard(n_snps)` may return a range of columns (over all
    chromosomes' SNPs) to keep, so a process that needs a shard never holds the whole matrix.
    """
    n_snps = sum(np.load(path, mmap_mode="r").shape[1] for path in matrix_paths)
    columns = shard(n_snps) if shard else None
    kept, sizes = [], []
    for first, z in _scaled_blocks(matrix_paths, scaling):
        sizes.append(z.shape[1])
        if columns is None:
            kept.append(z)
        else:
            lo, hi = max(columns.start - first, 0), min(columns.stop - first, z.shape[1])
            if lo < hi:
                kept.append(z[:, lo:hi])
    return np.ascontiguousarray(np.concatenate(kept, axis=1)), sizes
