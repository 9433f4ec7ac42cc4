"""VanRaden genomic relationship matrix, accumulated block by block."""

import logging

import numpy as np
import pandas as pd

from .errors import InputError
from .genotypes import centred, load_accessions
from .io import atomic_path, sniff_delimiter

BLOCK_SNPS = 10_000
log = logging.getLogger(__name__)


class GRMAccumulator:
    """G = Z Zᵀ / (2 Σ p(1-p)) summed over SNP blocks, so memory is one block, not the genome."""

    def __init__(self, n_accessions):
        self.zzt = np.zeros((n_accessions, n_accessions))
        self.scale = 0.0
        self.n_snps = 0

    def add(self, dosage):
        for start in range(0, dosage.shape[1], BLOCK_SNPS):
            z, freq = centred(dosage[:, start : start + BLOCK_SNPS])
            self.zzt += z @ z.T
            self.scale += 2.0 * np.sum(freq * (1.0 - freq))
            self.n_snps += z.shape[1]

    def matrix(self):
        if self.scale == 0:
            raise ValueError("no polymorphic SNPs to build a relationship matrix from")
        return self.zzt / self.scale


def vanraden_grm(matrix_paths):
    """GRM from per-chromosome dosage matrices, loaded one at a time (memory-mapped)."""
    grm = None
    for path in matrix_paths:
        dosage = np.load(path, mmap_mode="r")
        if grm is None:
            grm = GRMAccumulator(dosage.shape[0])
        grm.add(dosage)
    return grm.matrix(), grm.n_snps


def write_kinship(path, matrix, ids):
    """Square TSV: first column ID, header the same IDs (the format users also supply)."""
    frame = pd.DataFrame(matrix, index=pd.Index(ids, name="ID"), columns=ids)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", float_format="%.8g")


def read_kinship(path):
    """Square kinship matrix with matching row and column IDs, symmetric and numeric."""
    frame = pd.read_csv(path, sep=sniff_delimiter(path), index_col=0, dtype=str)
    ids = [str(i) for i in frame.index]
    if list(map(str, frame.columns)) != ids:
        raise InputError(path, "row and column IDs differ (expected a square matrix with the same order)")
    values = frame.apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        row, col = np.argwhere(values.isna().to_numpy())[0]
        raise InputError(path, f"row {ids[row]}, column {ids[col]}: non-numeric value {frame.iat[row, col]!r}")
    matrix = values.to_numpy(dtype=float)
    if not np.allclose(matrix, matrix.T, atol=1e-6):
        row, col = np.argwhere(~np.isclose(matrix, matrix.T, atol=1e-6))[0]
        raise InputError(path, f"not symmetric: [{ids[row]}, {ids[col]}] = {matrix[row, col]} but [{ids[col]}, {ids[row]}] = {matrix[col, row]}")
    return matrix, ids


def kinship_stage(matrix_paths, accessions_paths, out_path):
    ids = load_accessions(accessions_paths)
    matrix, n_snps = vanraden_grm(matrix_paths)
    log.info("VanRaden GRM over %d accessions from %d SNPs", len(ids), n_snps)
    write_kinship(out_path, matrix, ids)
