"""SNP dosage matrices: extraction from a subset BCF, filtering, and standardised features.

At rest a chromosome is an int8 matrix (accessions x SNPs) of alternate-allele dosages 0/1/2,
with -1 for a missing call. Missing calls are mean-imputed when the matrix is centred: a centred
missing value is 0, exactly the SNP's mean, so no imputed value ever needs to be stored.
"""

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .io import atomic_path, write_ids, write_tsv
from .vcf import query_genotypes, vcf_samples

MISSING = -1
READ_CHUNK_BYTES = 64 << 20
SNP_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "alt_freq", "maf", "missing_rate"]


@dataclass
class Filters:
    maf: float = 0.05
    max_missing: float = 0.1


def parse_genotype_lines(lines, n_samples, source):
    """Dosages and missingness of query lines `CHROM POS ID REF ALT GT...`, vectorised per chunk.

    Returns (info rows, dosage int8 [records x samples], missing bool [records x samples]).
    """
    info, calls = [], []
    for line in lines:
        fields = line.rstrip(b"\n").split(b"\t", 5)
        if len(fields) < 6:
            raise InputError(source, f"record {fields[0].decode(errors='replace')}: too few fields")
        info.append(fields[:5])
        calls.append(fields[5])
    width = 4 * n_samples
    packed = b"\t".join(calls) + b"\t"
    if len(packed) == width * len(calls):
        # Every call is diploid ("0/1", "1|1", "./."): fixed width, read as a byte grid.
        grid = np.frombuffer(packed, dtype=np.uint8).reshape(len(calls), n_samples, 4)
        if (grid[:, :, 3] == ord("\t")).all():
            first, second = grid[:, :, 0], grid[:, :, 2]
            missing = (first == ord(".")) | (second == ord("."))
            dosage = (first == ord("1")).astype(np.int8) + (second == ord("1"))
            bad = ~missing & ((first > ord("1")) | (second > ord("1")))
            if bad.any():
                row = np.flatnonzero(bad.any(axis=1))[0]
                raise InputError(source, f"record {b':'.join(info[row][:2]).decode()}: allele index above 1")
            return info, dosage, missing
    return info, *_parse_irregular_calls(calls, info, n_samples, source)


def _parse_irregular_calls(calls, info, n_samples, source):
    """Haploid or mixed-ploidy calls: slower, still vectorised over the chunk."""
    rows = [c.split(b"\t") for c in calls]
    for row, record in zip(rows, info):
        if len(row) != n_samples:
            raise InputError(source, f"record {b':'.join(record[:2]).decode()}: {len(row)} genotypes for {n_samples} samples")
    cells = np.array(rows, dtype=bytes)
    ploidy = np.char.count(cells, b"/") + np.char.count(cells, b"|") + 1
    missing = np.char.count(cells, b".") > 0
    # An inbred haploid call counts as a homozygous diploid.
    dosage = (np.char.count(cells, b"1") * (2 // ploidy)).astype(np.int8)
    return dosage, missing


def extract_dosages(bcf_path, filters):
    """Filtered dosage matrix (accessions x SNPs, int8, -1 missing), SNP table and accession IDs.

    MAF and missingness are computed on the accessions in the BCF (the study subset) only.
    """
    samples = vcf_samples(bcf_path)
    n = len(samples)
    kept, tables = [], []
    fd, text_path = tempfile.mkstemp(suffix=".gt.txt", dir=os.path.dirname(os.path.abspath(bcf_path)))
    os.close(fd)
    try:
        query_genotypes(bcf_path, text_path)
        with open(text_path, "rb") as handle:
            while lines := handle.readlines(READ_CHUNK_BYTES):
                info, dosage, missing = parse_genotype_lines(lines, n, bcf_path)
                n_called = n - missing.sum(axis=1)
                missing_rate = 1.0 - n_called / n
                alt_freq = np.where(missing, 0, dosage).sum(axis=1) / np.maximum(2 * n_called, 1)
                maf = np.minimum(alt_freq, 1.0 - alt_freq)
                keep = (missing_rate <= filters.max_missing) & (maf >= filters.maf) & (maf > 0)
                block = dosage[keep]
                block[missing[keep]] = MISSING
                kept.append(block)
                records = [info[i] for i in np.flatnonzero(keep)]
                tables.append(
                    pd.DataFrame(
                        {
                            "chrom": [r[0].decode() for r in records],
                            "pos": [int(r[1]) for r in records],
                            "id": [r[2].decode() if r[2] != b"." else f"{r[0].decode()}:{int(r[1])}" for r in records],
                            "ref": [r[3].decode() for r in records],
                            "alt": [r[4].decode() for r in records],
                            "alt_freq": alt_freq[keep],
                            "maf": maf[keep],
                            "missing_rate": missing_rate[keep],
                        }
                    )
                )
    finally:
        os.unlink(text_path)
    matrix = np.ascontiguousarray(np.concatenate(kept).T) if kept else np.zeros((n, 0), np.int8)
    snps = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SNP_COLUMNS)
    return matrix, snps, samples


def write_genotype_matrix(bcf_path, matrix_path, snps_path, accessions_path, filters):
    matrix, snps, samples = extract_dosages(bcf_path, filters)
    with atomic_path(matrix_path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, matrix)
    write_tsv(snps_path, snps, float_format="%.6g")
    write_ids(accessions_path, samples)
    return matrix.shape


def load_accessions(paths):
    """The accession order shared by every chromosome's matrix; a mismatch is an error."""
    first = None
    for path in paths:
        with open(path) as handle:
            ids = [line.strip() for line in handle if line.strip()]
        if first is None:
            first, first_path = ids, path
        elif ids != first:
            raise InputError(path, f"accessions differ from {first_path}")
    return first


def centred(dosage):
    """Dosages minus twice the allele frequency, with missing calls at 0 (their mean)."""
    dosage = np.asarray(dosage)
    observed = dosage != MISSING
    freq = np.where(observed, dosage, 0).sum(axis=0) / np.maximum(2 * observed.sum(axis=0), 1)
    z = np.where(observed, dosage - np.float32(2.0) * freq.astype(np.float32), np.float32(0.0))
    return z.astype(np.float32, copy=False), freq


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
