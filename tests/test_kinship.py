import numpy as np
import pytest

from gpgcn.data import kinship
from gpgcn.data.kinship import GRMAccumulator, read_kinship, write_kinship
from gpgcn.errors import InputError


def direct_vanraden(dosage):
    """VanRaden (2008) method 1, written out: Z = M - 2p, G = Z Zᵀ / (2 Σ p(1-p))."""
    m = dosage.astype(float)
    observed = dosage >= 0
    p = np.array([m[observed[:, j], j].mean() / 2 for j in range(m.shape[1])])
    z = m - 2 * p
    z[~observed] = 0.0
    return z @ z.T / (2 * np.sum(p * (1 - p)))


def test_grm_summed_over_regions_matches_direct_formula(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    dosage = rng.choice([0, 1, 2], size=(30, 250), p=[0.5, 0.1, 0.4]).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.02] = -1
    monkeypatch.setattr(kinship, "BLOCK_SNPS", 17)  # many blocks, uneven last one
    shares = []
    for i, cols in enumerate(np.array_split(np.arange(250), 3)):  # three regions' shares
        share = GRMAccumulator(30)
        share.add(dosage[:, cols])
        shares.append(tmp_path / f"{i}.npz")
        share.save(shares[-1])
    grm = GRMAccumulator.merge(shares)
    assert grm.n_snps == 250
    np.testing.assert_allclose(grm.matrix(), direct_vanraden(dosage), rtol=1e-12, atol=1e-12)


def test_empty_accumulator_refuses():
    with pytest.raises(ValueError):
        GRMAccumulator(3).matrix()


def test_kinship_round_trip(tmp_path):
    matrix = np.array([[1.0, 0.2], [0.2, 1.1]])
    write_kinship(tmp_path / "k.tsv", matrix, ["a", "b"])
    back, ids, cols = read_kinship(tmp_path / "k.tsv")
    assert ids == cols == ["a", "b"]
    np.testing.assert_allclose(back, matrix)


def test_columns_may_be_a_subset_of_the_rows(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("ID,b,a\na,0.2,1\nb,1.1,0.2\nc,0.1,0.3\n")
    matrix, rows, cols = read_kinship(path)
    assert rows == ["a", "b", "c"] and cols == ["b", "a"]
    np.testing.assert_allclose(matrix[2], [0.1, 0.3])


def test_ids_stay_text_and_values_may_be_padded_or_whole(tmp_path):
    """IDs are read as written (leading zeros kept, under an unnamed first column too), and values
    padded with spaces or written as whole numbers are numbers."""
    path = tmp_path / "k.tsv"
    path.write_text("\t007\t10\n007\t 1 \t0\n10\t0\t1.5\n")
    matrix, rows, cols = read_kinship(path)
    assert rows == cols == ["007", "10"]
    np.testing.assert_array_equal(matrix, [[1.0, 0.0], [0.0, 1.5]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("ID,a,b\na,1,0.2\nb,0.3,1\n", "not symmetric"),
        ("ID,a,b\na,1,x\nb,0.2,1\n", "row a, column b: non-numeric value 'x'"),
        ("ID,a,b\na,1,0.2\nb,True,1\n", "row b, column a: non-numeric value 'True'"),
        ("ID,a,b\na,1,0.2\nb,-inf,1\n", "row b, column a: not a finite number: '-inf'"),
        ("ID,a,c\na,1,0.2\nb,0.2,1\n", "column IDs that are not row IDs: c"),
        ("ID,a,b\na,1,0.2\na,0.2,1\n", "duplicate row ID 'a'"),
    ],
)
def test_bad_kinship(tmp_path, text, message):
    path = tmp_path / "k.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_kinship(path)


def test_grm_shares_of_other_accessions_are_refused(tmp_path):
    shares = []
    for i, n in enumerate((30, 31)):
        share = GRMAccumulator(n)
        share.add(np.ones((n, 5), dtype=np.int8))
        shares.append(tmp_path / f"{i}.npz")
        share.save(shares[-1])
    with pytest.raises(InputError, match=r"1.npz: GRM share of shape \(31, 31\), expected \(30, 30\)"):
        GRMAccumulator.merge(shares)
