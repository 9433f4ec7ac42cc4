"""Dosages read straight from the binary records of a BCF (BCFv2.2), chunk by chunk.

The subset BCF is read once: a short Python walk finds each record's GT vector, then a lookup
table turns every accession's pair of BCF allele bytes into a dosage in one numpy pass. Nothing
is parsed as text; only the kept records' IDs and alleles are decoded, at the end.
"""

import struct
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pysam

from ..errors import InputError

MISSING = -1
INVALID = -2  # an allele index above 1: the subset is supposed to be biallelic
VECTOR_END = 0x81  # int8 padding of a shorter genotype vector (a haploid call in a diploid record)
TYPE_SIZES = {0: 0, 1: 1, 2: 2, 3: 4, 5: 4, 7: 1}
INT_FORMATS = {1: "<b", 2: "<h", 3: "<i"}
RECORD_LENGTHS = struct.Struct("<II")
SHARED_FIXED = struct.Struct("<iiifII")  # CHROM, POS, rlen, QUAL, n_allele_info, n_fmt_sample


def _dosage_table(ploidy):
    """Dosage of every possible GT vector of `ploidy` int8 allele bytes, indexed by those bytes
    read as one little-endian unsigned integer. An inbred haploid call counts as homozygous."""
    codes = np.arange(256**ploidy)
    present, invalid, missing = 0, np.zeros(codes.shape, bool), np.zeros(codes.shape, bool)
    alt = 0
    for k in range(ploidy):
        byte = (codes >> (8 * k)) & 0xFF
        value = byte.astype(np.uint8).view(np.int8).astype(int)
        here = byte != VECTOR_END
        index = (value >> 1) - 1  # BCF stores (allele + 1) << 1 | phased; 0 is a missing allele
        invalid |= here & ((value < 0) | (index > 1))
        missing |= here & (value >= 0) & (index < 0)
        present = present + here
        alt = alt + (here & (index == 1))
    dosage = alt * (2 // np.maximum(present, 1))
    dosage = np.where(missing | (present == 0), MISSING, dosage)
    return np.where(invalid, INVALID, dosage).astype(np.int8)


# ploidy: (dtype of one call's bytes, dosage by those bytes)
DOSAGE_TABLES = {1: (np.uint8, _dosage_table(1)), 2: ("<u2", _dosage_table(2))}


def _typed_int(buf, p):
    kind = buf[p] & 0xF
    if kind not in INT_FORMATS:
        raise ValueError(f"typed integer of type {kind}")
    return struct.unpack_from(INT_FORMATS[kind], buf, p + 1)[0], p + 1 + TYPE_SIZES[kind]


def _typed_descriptor(buf, p):
    """(count, type, position after the descriptor); a count of 15 is followed by the real count."""
    count, kind = buf[p] >> 4, buf[p] & 0xF
    p += 1
    if count == 15:
        count, p = _typed_int(buf, p)
    return count, kind, p


def _typed_string(buf, p):
    count, kind, p = _typed_descriptor(buf, p)
    return bytes(buf[p : p + count * TYPE_SIZES[kind]]).rstrip(b"\0").decode(), p + count * TYPE_SIZES[kind]


def fixed_width_strings(byte, starts, lengths):
    """The strings of `lengths` bytes at `starts` of `byte`, gathered for all at once (as
    objects)."""
    width = max(int(lengths.max(initial=0)), 1)
    columns = np.arange(width)
    gathered = byte[np.minimum(starts[:, None] + columns, len(byte) - 1)]
    padded = np.ascontiguousarray(np.where(columns < lengths[:, None], gathered, 0).astype(np.uint8))
    return padded.view(f"S{width}").ravel().astype(str).astype(object)


# Allele bytes a one-base SNP allele may hold, and their upper case.
BASES = np.zeros(256, dtype=bool)
BASES[list(b"ACGTNacgtn")] = True
UPPER = np.frombuffer(bytes(range(256)).upper(), dtype=np.uint8)


def is_snp(ref, alt):
    """A SNP as bcftools' `-v snps` sees one: REF and ALT of one length, differing at one base."""
    return len(ref) == len(alt) and alt.isalpha() and sum(a != b for a, b in zip(ref.upper(), alt.upper())) == 1


@dataclass
class Chunk:
    """Records read in one go: how many, and the biallelic SNPs among them: their dosages and
    where each starts in `buffer` (for `sites`)."""

    buffer: bytes
    n_records: int
    starts: list  # of the biallelic SNP records
    dosage: np.ndarray  # int8 [SNPs x samples], MISSING where the call is missing


class BcfReader:
    """A BCF's samples and, chunk by chunk, its records' dosages and sites (see `chunks`, `sites`)."""

    def __init__(self, path):
        self.path = str(path)
        with pysam.VariantFile(self.path) as vcf:
            header = vcf.header
            self.samples = list(header.samples)
            self.contigs = list(header.contigs)
            self.gt_key = header.formats["GT"].id if "GT" in header.formats else None
        self.n = len(self.samples)
        # The common record: GT first, key and descriptor one byte each, two int8 alleles per call.
        self.diploid_gt = bytes([0x11, self.gt_key, 0x21]) if self.gt_key is not None and self.gt_key < 128 else b"-"

    def where(self, buf, start):
        """`record CHROM:POS` of the record at `start`, for error messages."""
        chrom, pos = struct.unpack_from("<ii", buf, start + 8)
        return f"record {self.contigs[chrom] if 0 <= chrom < len(self.contigs) else chrom}:{pos + 1}"

    def _genotype_vector(self, buf, start, l_shared):
        """(offset, ploidy) of one record's GT vector, walking its FORMAT fields."""
        n_fmt = SHARED_FIXED.unpack_from(buf, start + 8)[5] >> 24
        p = start + 8 + l_shared
        for _ in range(n_fmt):
            key, p = _typed_int(buf, p)
            count, kind, p = _typed_descriptor(buf, p)
            if key == self.gt_key:
                if kind != 1:
                    raise InputError(self.path, f"{self.where(buf, start)}: GT of BCF type {kind}, expected int8")
                if count not in DOSAGE_TABLES:
                    raise InputError(self.path, f"{self.where(buf, start)}: ploidy {count} (only 1 and 2 are read)")
                return p, count
            p += count * TYPE_SIZES[kind] * self.n
        raise InputError(self.path, f"{self.where(buf, start)}: no GT field")

    def _decode(self, buf, starts, vectors):
        view = memoryview(buf)
        dosage = np.empty((len(starts), self.n), dtype=np.int8)
        for ploidy, (dtype, table) in DOSAGE_TABLES.items():
            rows = [i for i, (_, k) in enumerate(vectors) if k == ploidy]
            if not rows:
                continue
            width = ploidy * self.n
            packed = b"".join([view[vectors[i][0] : vectors[i][0] + width] for i in rows])
            values = table[np.frombuffer(packed, dtype=dtype).reshape(len(rows), self.n)]
            if len(rows) == len(starts):
                dosage = values
            else:
                dosage[rows] = values
        invalid = np.flatnonzero((dosage == INVALID).any(axis=1))
        if invalid.size:
            raise InputError(self.path, f"{self.where(buf, starts[invalid[0]])}: allele index above 1 (not biallelic)")
        return dosage

    @staticmethod
    def _fixed_fields(buf, starts):
        """For the records at `starts`, all at once: the buffer as bytes, each record's CHROM
        offset, allele count, its ID's offset and length, the offset of its REF, and whether it
        is the common record (two one-base alleles, an ID of fewer than 256 characters)."""
        byte = np.frombuffer(buf, dtype=np.uint8)
        last = len(byte) - 1
        fixed = np.asarray(starts, dtype=np.int64) + 8
        n_allele = byte[fixed[:, None] + np.arange(18, 20)].copy().view("<u2").ravel()
        ident = fixed + SHARED_FIXED.size
        # The ID is a typed string: 0xN7 with N < 15 characters, or 0xF7 then an int8 count.
        descriptor = byte[ident].astype(np.int64)
        short = ((descriptor & 0x0F) == 7) & ((descriptor >> 4) < 15)
        long = (descriptor == 0xF7) & (byte[np.minimum(ident + 1, last)] == 0x11)
        id_start = np.where(long, ident + 3, ident + 1)
        id_length = np.where(short, descriptor >> 4, np.where(long, byte[np.minimum(ident + 2, last)], 0))
        ref = np.minimum(id_start + id_length, last - 3)
        # A one-character allele is 0x17 followed by the base.
        plain = (n_allele == 2) & (short | long) & (byte[ref] == 0x17) & (byte[ref + 2] == 0x17)
        return byte, fixed, n_allele, id_start, id_length, ref, plain

    def biallelic_snps(self, buf, starts):
        """Which of the records at `starts` are biallelic SNPs. The common record is judged for all
        at once; others by decoding their alleles."""
        byte, _, n_allele, _, _, ref_at, plain = self._fixed_fields(buf, starts)
        ref, alt = byte[ref_at + 1], byte[ref_at + 3]
        snp = plain & BASES[ref] & BASES[alt] & (UPPER[ref] != UPPER[alt])
        for i in np.flatnonzero((n_allele == 2) & ~plain):
            _, ref_allele, alt_allele = self._named_alleles(buf, starts[i], "")
            snp[i] = is_snp(ref_allele, alt_allele)
        return snp

    def chunks(self, chunk_bytes):
        """Yield a Chunk per ~`chunk_bytes` of decompressed records, so memory stays bounded."""
        with pysam.BGZFile(self.path, "rb") as handle:
            head = handle.read(9)
            if head[:4] != b"BCF\x02" or len(head) < 9:
                raise InputError(self.path, "not a BCF version 2 file")
            handle.read(struct.unpack_from("<I", head, 5)[0])  # the header text
            rest = b""
            while True:
                data = handle.read(chunk_bytes)
                buf = rest + data
                starts, p, size = [], 0, len(buf)
                lengths, common = RECORD_LENGTHS.unpack_from, self.diploid_gt
                while p + 8 <= size:  # the per-record loop: kept to the bare minimum
                    l_shared, l_indiv = lengths(buf, p)
                    end = p + 8 + l_shared + l_indiv
                    if end > size:
                        break
                    starts.append(p)
                    p = end
                if starts:
                    snps = [starts[i] for i in np.flatnonzero(self.biallelic_snps(buf, starts))]
                    vectors = []
                    for start in snps:
                        l_shared = lengths(buf, start)[0]
                        gt = start + 8 + l_shared
                        vectors.append(
                            (gt + 3, 2) if buf[gt : gt + 3] == common else self._genotype_vector(buf, start, l_shared)
                        )
                    yield Chunk(buf, len(starts), snps, self._decode(buf, snps, vectors))
                rest = buf[p:]
                if not data:
                    if rest:
                        raise InputError(self.path, f"truncated: {len(rest)} bytes of an incomplete record at the end")
                    return

    def sites(self, chunk, rows):
        """(chrom, pos, id, ref, alt) of the chunk's records at `rows`; a missing ID is chrom:pos.

        The common record (two one-base alleles) is decoded for all rows at once, its ID included."""
        starts = np.asarray(chunk.starts, dtype=np.int64)[rows]
        byte, fixed, _, id_start, id_length, ref_at, plain = self._fixed_fields(chunk.buffer, starts)
        chrom = byte[fixed[:, None] + np.arange(4)].copy().view("<i4").ravel()
        pos = byte[fixed[:, None] + np.arange(4, 8)].copy().view("<i4").ravel() + 1
        names = np.array(self.contigs, dtype=object)[chrom]
        default = names + ":" + pos.astype(str).astype(object)
        ids = fixed_width_strings(byte, id_start, np.where(plain, id_length, 0))
        table = pd.DataFrame(
            {
                "chrom": names,
                "pos": pos.astype(np.int64),
                "id": np.where(np.isin(ids, ["", "."]), default, ids),
                "ref": byte[ref_at + 1].view("S1").astype(str).astype(object),
                "alt": byte[ref_at + 3].view("S1").astype(str).astype(object),
            }
        )
        named = np.flatnonzero(~plain)
        if len(named):
            # Longer alleles (indels, MNPs) or an ID of 256 characters or more: decoded one by one,
            # then set column by column; per-row assignment into the frame cost ~1 ms a record.
            decoded = [self._named_alleles(chunk.buffer, int(starts[i]), default[i]) for i in named]
            for column, values in zip(("id", "ref", "alt"), zip(*decoded)):
                table[column] = table[column].to_numpy(copy=True)
                table.loc[named, column] = list(values)
        return table

    def _named_alleles(self, buf, start, default_id):
        """(id, ref, alt) of one record, decoded field by field."""
        n_allele = SHARED_FIXED.unpack_from(buf, start + 8)[4] >> 16
        ident, p = _typed_string(buf, start + 8 + SHARED_FIXED.size)
        alleles = []
        for _ in range(n_allele):
            allele, p = _typed_string(buf, p)
            alleles.append(allele)
        return ident if ident not in ("", ".") else default_id, alleles[0], ",".join(alleles[1:])
