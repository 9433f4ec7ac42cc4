import numpy as np
import pytest

from gpgcn.data import genotypes
from gpgcn.data.bcf import BcfReader
from gpgcn.data.genotypes import centred, extract_dosages, load_features
from gpgcn.data.vcf import subset_vcf
from gpgcn.errors import InputError
from gpgcn.io import write_ids

from helpers import filters, write_vcf


def subset(tmp_path, vcf, samples, chrom="1"):
    write_ids(tmp_path / "samples.txt", samples)
    out = tmp_path / f"{chrom}.bcf"
    subset_vcf(vcf, tmp_path / "samples.txt", chrom, out)
    return out


def test_dosages_match_hand_written_vcf(tmp_path, small_vcf):
    vcf, samples = small_vcf
    bcf = subset(tmp_path, vcf, samples)
    matrix, snps, ids, _ = extract_dosages(BcfReader(bcf), filters(maf=0.0, max_missing=0.5))
    assert ids == samples
    assert list(snps["pos"]) == [100, 400]  # multi-allelic, indel and monomorphic sites are gone
    assert matrix.dtype == np.int8
    np.testing.assert_array_equal(matrix, [[0, 2], [2, 2], [1, 0], [-1, 1]])
    assert snps["missing_rate"].tolist() == [0.25, 0.0]
    assert snps["alt_freq"].tolist() == pytest.approx([0.5, 5 / 8])
    assert list(snps["id"]) == ["1:100", "1:400"]


def test_filters_use_the_study_subset_only(tmp_path, small_vcf):
    vcf, samples = small_vcf
    # Among 101 and 103 the SNP at 1:400 is polymorphic, the one at 1:100 too (0/0 vs 0/1).
    bcf = subset(tmp_path, vcf, ["103", "101"])
    matrix, snps, ids, _ = extract_dosages(BcfReader(bcf), filters(maf=0.3, max_missing=0.0))
    assert ids == ["101", "103"]  # the VCF's order, whatever the list's
    assert list(snps["pos"]) == [400]
    np.testing.assert_array_equal(matrix, [[2], [0]])


def test_missing_rate_filter(tmp_path, small_vcf):
    vcf, samples = small_vcf
    bcf = subset(tmp_path, vcf, samples)
    _, snps, _, _ = extract_dosages(BcfReader(bcf), filters(maf=0.0, max_missing=0.2))
    assert list(snps["pos"]) == [400]


def test_calls_of_any_shape_are_read(tmp_path, monkeypatch):
    """Haploid and diploid calls, phased and missing ones, GT first or after other FORMAT fields,
    IDs missing, short, long and longer than 255 characters, and records straddling the reader's
    chunks."""
    samples = [f"s{i}" for i in range(7)]
    dosage_of = {"0/0": 0, "0/1": 1, "1/1": 2, "0|1": 1, "1|0": 1, "./.": -1, "0/.": -1, "1": 2, "0": 0, ".": -1}
    calls = list(dosage_of)
    rng = np.random.default_rng(3)
    records, expected, positions, names = [], [], [], []
    for k in range(90):
        row = [calls[i] for i in rng.integers(0, len(calls), len(samples))]
        fmt = ["GT", "GT:DP", "DP:GT"][k % 3]
        fields = [{"GT": c, "GT:DP": f"{c}:7", "DP:GT": f"9:{c}"}[fmt] for c in row]
        ident = [".", f"rs{k}", f"snp_with_a_long_identifier_{k}", "v" * 300 + str(k)][k % 4]
        records.append(("1", 10 * (k + 1), "A", "G", fields, fmt, ident))
        dosages = [dosage_of[c] for c in row]
        called = [d for d in dosages if d >= 0]
        if called and 0 < sum(called) < 2 * len(called):
            expected.append(dosages)
            positions.append(10 * (k + 1))
            names.append(ident if ident != "." else f"1:{10 * (k + 1)}")
    vcf = write_vcf(tmp_path / "mixed.vcf.gz", samples, records)
    monkeypatch.setattr(genotypes, "READ_CHUNK_BYTES", 100)
    decoded_one_by_one = []
    named_alleles = BcfReader._named_alleles

    def spying(self, buf, start, default_id):
        decoded_one_by_one.append(named_alleles(self, buf, start, default_id)[0])
        return decoded_one_by_one[-1], *named_alleles(self, buf, start, default_id)[1:]

    monkeypatch.setattr(BcfReader, "_named_alleles", spying)
    matrix, snps, ids, _ = extract_dosages(BcfReader(subset(tmp_path, vcf, samples)), filters(maf=0.0, max_missing=1.0))
    assert ids == samples
    assert list(snps["pos"]) == positions and list(snps["id"]) == names
    # Only a record whose ID needs more than an int8 length leaves the vectorised path.
    assert decoded_one_by_one and all(len(name) > 255 for name in decoded_one_by_one)
    np.testing.assert_array_equal(matrix, np.array(expected).T)


@pytest.mark.parametrize(
    "fields, fmt, message",
    [
        (["3", "4"], "DP", "record 1:9: no GT field"),
        (["0/0/1", "1/1/1"], "GT", "record 1:9: ploidy 3"),
    ],
)
def test_unreadable_genotypes_name_the_record(tmp_path, fields, fmt, message):
    samples = ["a", "b"]
    records = [("1", 5, "A", "G", ["0/1", "1/1"]), ("1", 9, "C", "T", fields, fmt)]
    vcf = write_vcf(tmp_path / "bad.vcf.gz", samples, records)
    with pytest.raises(InputError, match=message):
        extract_dosages(BcfReader(subset(tmp_path, vcf, samples)), filters())


def test_centring_imputes_missing_with_the_mean():
    dosage = np.array([[0, 2], [2, -1], [2, 2]], dtype=np.int8)
    z, freq = centred(dosage)
    np.testing.assert_allclose(freq, [2 / 3, 1.0])
    np.testing.assert_allclose(z[:, 0], [-4 / 3, 2 / 3, 2 / 3])
    assert z[1, 1] == 0


def test_feature_scalings_and_column_shards(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, width in enumerate((20, 13)):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], rng.integers(0, 3, size=(50, width)).astype(np.int8))
    standardised, sizes = load_features(paths, "standardised")
    assert sizes == [20, 13]
    np.testing.assert_allclose(standardised.std(axis=0), 1, rtol=1e-5)
    centred_features, _ = load_features(paths, "centred")
    np.testing.assert_allclose((centred_features**2).mean(), 1, rtol=1e-5)
    np.testing.assert_allclose(centred_features.mean(axis=0), 0, atol=1e-6)
    shard, sizes = load_features(paths, "centred", lambda n_snps: range(15, 27))
    assert sizes == [20, 13]
    np.testing.assert_array_equal(shard, centred_features[:, 15:27])


def test_ld_pruning_leaves_no_close_pair_above_the_threshold():
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2, size=(60, 400)).astype(np.int8) * 2
    dosage = base.copy()
    copies = rng.random(400) < 0.5  # about half the SNPs repeat their left neighbour, a few calls changed
    for j in np.flatnonzero(copies[1:]) + 1:
        dosage[:, j] = np.where(rng.random(60) < 0.05, 2 - dosage[:, j - 1], dosage[:, j - 1])
    dosage[rng.random(dosage.shape) < 0.01] = -1
    kept = genotypes.ld_prune(dosage, 0.5, window=10, block=64)  # blocks smaller than the data
    z = centred(dosage[:, kept], np.float64)[0]
    z /= np.linalg.norm(z, axis=0)
    r2 = (z.T @ z) ** 2
    for a in range(len(kept)):
        for b in range(a + 1, len(kept)):
            if kept[b] - kept[a] <= 10:
                assert r2[a, b] <= 0.5
    assert 150 < len(kept) < 330  # the near-copies went, the independent SNPs stayed
    assert list(genotypes.ld_prune(base, 0.9, window=10)) == list(range(400))  # independent SNPs all stay


def test_a_site_of_three_alleles_is_dropped_though_only_two_are_called(tmp_path):
    """C -> T,G where every call is 0 or 1: still not a biallelic SNP (the VCF says so in ALT),
    dropped as plink2 --max-alleles 2 drops it."""
    samples = ["101", "102", "103", "104"]
    records = [
        ("1", 100, "A", "G", ["0/0", "1/1", "0/1", "0/0"]),
        ("1", 200, "C", "T,G", ["0/0", "1/1", "0/1", "0/0"]),
    ]
    vcf = write_vcf(tmp_path / "three.vcf.gz", samples, records)
    bcf = subset(tmp_path, vcf, samples)
    matrix, snps, _, funnel = extract_dosages(BcfReader(bcf), filters(maf=0.0, max_missing=0.5))
    assert list(snps["pos"]) == [100]
    assert funnel["records read"] == 2 and funnel["biallelic SNPs"] == 1
