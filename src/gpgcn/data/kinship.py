"""VanRaden genomic relationship matrix, accumulated block by block."""

import json
import logging

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ..errors import InputError
from ..io import atomic_path, check_unique_ids, sniff_delimiter, text_to_numbers, write_ids
from .genotypes import FUNNEL_STEPS, centred, funnel_text, load_accessions

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
            # float64: the regions' shares then sum to the one-pass GRM up to rounding (~1e-15)
            z, freq = centred(dosage[:, start : start + BLOCK_SNPS], np.float64)
            self.zzt += z @ z.T
            self.scale += 2.0 * np.sum(freq * (1.0 - freq))
            self.n_snps += z.shape[1]

    def matrix(self):
        if self.scale == 0:
            raise ValueError("no polymorphic SNPs to build a relationship matrix from")
        return self.zzt / self.scale

    def save(self, path):
        """This share of the GRM: Z Zᵀ, 2 Σ p(1-p) and the SNP count, summed exactly by `merge`."""
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, zzt=self.zzt, scale=self.scale, n_snps=self.n_snps)

    @classmethod
    def merge(cls, paths):
        grm = None
        for path in paths:
            with np.load(path) as share:
                if grm is None:
                    grm = cls(share["zzt"].shape[0])
                if share["zzt"].shape != grm.zzt.shape:
                    raise InputError(path, f"GRM share of shape {share['zzt'].shape}, expected {grm.zzt.shape}")
                grm.zzt += share["zzt"]
                grm.scale += float(share["scale"])
                grm.n_snps += int(share["n_snps"])
        return grm


def write_kinship(path, matrix, ids, col_ids=None):
    """TSV: first column ID, header the column IDs (the format users also supply)."""
    frame = pd.DataFrame(matrix, index=pd.Index(ids, name="ID"), columns=ids if col_ids is None else col_ids)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", float_format="%.8g")


def read_kinship(path):
    """A relationship matrix: (values [rows x columns], row IDs, column IDs).

    First column: IDs; header: IDs. The columns may be a subset of the rows, as in published
    matrices that keep only the training accessions as columns; where an accession is both a row
    and a column the matrix must be symmetric.
    """
    sep = sniff_delimiter(path)
    id_column = pd.read_csv(path, sep=sep, nrows=0).columns[0]
    # The values through the C parser's floats (a large matrix's text in a second, where a
    # column-by-column conversion took seconds in every job that reads it); a column that holds
    # text is converted strictly below, for the error that names its cell.
    frame = pd.read_csv(path, sep=sep, index_col=0, dtype={id_column: str})
    rows = [str(i).strip() for i in frame.index]
    cols = [str(c).strip() for c in frame.columns]
    for ids, what in ((rows, "row ID"), (cols, "column ID")):
        check_unique_ids(path, ids, what)
    unknown = [c for c in cols if c not in set(rows)]
    if unknown:
        raise InputError(path, f"column IDs that are not row IDs: {', '.join(unknown[:10])}")
    values = frame.apply(
        lambda column: column if is_numeric_dtype(column) and not is_bool_dtype(column) else text_to_numbers(column)
    )
    matrix = values.to_numpy(dtype=float)
    if not np.isfinite(matrix).all():
        row, col = np.argwhere(~np.isfinite(matrix))[0]
        # The cell as written, from the text (the parsed frame holds its float or NaN).
        text = pd.read_csv(path, sep=sep, index_col=0, dtype=str).iat[row, col]
        problem = "non-numeric value" if np.isnan(matrix[row, col]) else "not a finite number:"
        raise InputError(path, f"row {rows[row]}, column {cols[col]}: {problem} {text!r}")
    position = {r: i for i, r in enumerate(rows)}
    square = matrix[[position[c] for c in cols], :]
    asymmetric = ~np.isclose(square, square.T, atol=1e-6)
    if asymmetric.any():
        i, j = np.argwhere(asymmetric)[0]
        raise InputError(
            path, f"not symmetric: [{cols[i]}, {cols[j]}] = {square[i, j]} but [{cols[j]}, {cols[i]}] = {square[j, i]}"
        )
    return matrix, rows, cols


def similarity_for_graph(matrix, rows, cols):
    """What the kNN graph ranks: the kinship itself when it is square, otherwise the correlation
    between accessions' rows (their kinship profiles against the column accessions)."""
    if rows == cols:
        return matrix
    return np.corrcoef(matrix)


def genome_funnel(funnel_paths):
    """The regions' filter funnels summed over the genome ({step: records left})."""
    total = dict.fromkeys(FUNNEL_STEPS, 0)
    for path in funnel_paths:
        with open(path) as handle:
            funnel = json.load(handle)
        for step in FUNNEL_STEPS:
            total[step] += funnel[step]
    return total


def kinship_stage(share_paths, accessions_paths, funnel_paths, out_path):
    """The VanRaden GRM over all regions: the sum of their shares (see GRMAccumulator.save)."""
    ids = load_accessions(accessions_paths)
    grm = GRMAccumulator.merge(share_paths)
    if grm.n_snps == 0:
        raise InputError(
            "genotype filters",
            f"no SNP passed them in any of {len(share_paths)} region(s): {funnel_text(genome_funnel(funnel_paths))}",
        )
    log.info("VanRaden GRM over %d accessions from %d SNPs in %d regions", len(ids), grm.n_snps, len(share_paths))
    write_kinship(out_path, grm.matrix(), ids)


def import_kinship_stage(kinship_path, out_path, accessions_path):
    """Validate a user's relationship matrix and put it where the pipeline's own GRM would be."""
    matrix, rows, cols = read_kinship(kinship_path)
    log.info("kinship %s: %d accessions x %d columns", kinship_path, len(rows), len(cols))
    write_kinship(out_path, matrix, rows, cols)
    write_ids(accessions_path, rows)
