import numpy as np
import pytest

from gpgcn.errors import InputError
from gpgcn.genotypes import Filters, centred, extract_dosages, load_features, parse_genotype_lines
from gpgcn.io import write_ids
from gpgcn.vcf import subset_vcf


def subset(tmp_path, vcf, samples, chrom="1"):
    write_ids(tmp_path / "samples.txt", samples)
    out = tmp_path / f"{chrom}.bcf"
    subset_vcf(vcf, tmp_path / "samples.txt", chrom, out)
    return out


def test_dosages_match_hand_written_vcf(tmp_path, small_vcf):
    vcf, samples = small_vcf
    bcf = subset(tmp_path, vcf, samples)
    matrix, snps, ids = extract_dosages(bcf, Filters(maf=0.0, max_missing=0.5))
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
    matrix, snps, ids = extract_dosages(bcf, Filters(maf=0.3, max_missing=0.0))
    assert ids == ["103", "101"]
    assert list(snps["pos"]) == [400]
    np.testing.assert_array_equal(matrix, [[0], [2]])


def test_missing_rate_filter(tmp_path, small_vcf):
    vcf, samples = small_vcf
    bcf = subset(tmp_path, vcf, samples)
    _, snps, _ = extract_dosages(bcf, Filters(maf=0.0, max_missing=0.2))
    assert list(snps["pos"]) == [400]


def test_irregular_ploidy_is_parsed():
    lines = [b"1\t5\t.\tA\tG\t1\t0/1\t.\n"]
    _, dosage, missing = parse_genotype_lines(lines, 3, "x")
    assert dosage.tolist() == [[2, 1, 0]]
    assert missing.tolist() == [[False, False, True]]


def test_wrong_number_of_genotypes_names_the_record():
    with pytest.raises(InputError, match="record 1:5"):
        parse_genotype_lines([b"1\t5\t.\tA\tG\t0/0\t1\n"], 3, "x.bcf")


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
