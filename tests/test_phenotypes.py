import numpy as np
import pytest

from gpgcn.data.phenotypes import make_split, read_phenotypes
from gpgcn.errors import InputError


def table(tmp_path, text, name="pheno.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_and_tsv_are_sniffed(tmp_path):
    csv = table(tmp_path, "ID,FT10_mean,CL\n1,50.5,3\n2,61,4\n")
    tsv = table(tmp_path, "ID\tFT10_mean\n1\t50.5\n2\t61\n", "pheno.tsv")
    for path in (csv, tsv):
        values, missing = read_phenotypes(path, "FT10_mean")
        assert values.to_dict() == {"1": 50.5, "2": 61.0}
        assert missing == []


def test_missing_values_are_dropped_and_listed(tmp_path):
    path = table(tmp_path, "accession,FT10_mean\n1,50\n2,NA\n3,\n4,70\n")
    values, missing = read_phenotypes(path, "FT10_mean", "accession")
    assert list(values.index) == ["1", "4"]
    assert missing == ["2", "3"]


def test_non_numeric_value_names_line_and_id(tmp_path):
    path = table(tmp_path, "ID,FT10_mean\n1,50\n2,early\n")
    with pytest.raises(InputError, match=r"pheno.csv: line 3: ID '2' has non-numeric FT10_mean value 'early'"):
        read_phenotypes(path, "FT10_mean")


def test_duplicate_ids(tmp_path):
    path = table(tmp_path, "ID,FT10_mean\n1,50\n2,60\n1,55\n")
    with pytest.raises(InputError, match=r"lines 2 and 4: duplicate ID '1'"):
        read_phenotypes(path, "FT10_mean")


def test_unknown_columns(tmp_path):
    path = table(tmp_path, "ID,FT10_mean\n1,50\n")
    with pytest.raises(InputError, match="no trait column 'FT16'; columns are: ID, FT10_mean"):
        read_phenotypes(path, "FT16")
    with pytest.raises(InputError, match="no ID column 'accession'"):
        read_phenotypes(path, "FT10_mean", "accession")


def test_split_is_seeded_and_balanced(tmp_path):
    accessions = [str(i) for i in range(100)]
    import pandas as pd

    values = pd.Series(np.arange(90.0), index=[str(i) for i in range(90)])  # 10 unphenotyped
    a = make_split(accessions, values, test_fraction=0.2, n_folds=5, seed=3)
    b = make_split(accessions, values, test_fraction=0.2, n_folds=5, seed=3)
    assert a.equals(b)
    assert (a["set"] == "test").sum() == 18
    assert (a["set"] == "unlabelled").sum() == 10
    train = a[a["set"] == "train"]
    assert sorted(train["fold"].value_counts().tolist()) == [14, 14, 14, 15, 15]
    assert (a.loc[a["set"] != "train", "fold"] == 0).all()


def test_published_split_and_folds(tmp_path):
    import pandas as pd

    from gpgcn.data.phenotypes import read_cv_folds

    folds_file = tmp_path / "folds.csv"
    folds_file.write_text(",cv_1,cv_2\n1,1,2\n2,2,1\n3,1,1\n4,2,2\n")
    folds = read_cv_folds(folds_file)
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=["1", "2", "3", "4", "5"])
    frame = make_split(
        ["1", "2", "3", "4", "5", "6"], values, test_fraction=0.5, n_folds=2, seed=0, test_ids=["5"], cv_folds=folds
    )
    assert frame["set"].tolist() == ["train"] * 4 + ["test", "unlabelled"]
    assert frame["fold"].tolist() == [1, 2, 1, 2, 0, 0]
    assert frame["cv_2"].tolist() == [2, 1, 1, 2, 0, 0]


def test_bad_fold_number_names_line(tmp_path):
    from gpgcn.data.phenotypes import read_cv_folds

    path = tmp_path / "folds.csv"
    path.write_text("ID,cv_1\n1,1\n2,x\n")
    with pytest.raises(InputError, match=r"line 3: ID '2' has fold 'x' in cv_1"):
        read_cv_folds(path)


def write_split_inputs(tmp_path, test_ids=None, folds=None):
    """Accessions 1..6 with phenotypes; optional test IDs and CV folds files."""
    from gpgcn.io import write_ids

    write_ids(tmp_path / "accessions.txt", ["1", "2", "3", "4", "5", "6"])
    (tmp_path / "pheno.tsv").write_text("ID\tFT10_mean\n" + "".join(f"{i}\t{10 * i}\n" for i in range(1, 7)))
    if test_ids is not None:
        write_ids(tmp_path / "test.txt", test_ids)
    if folds is not None:
        (tmp_path / "folds.csv").write_text("ID,cv_1\n" + "".join(f"{i},{f}\n" for i, f in folds.items()))


def run_split(tmp_path, **paths):
    from gpgcn.data.phenotypes import split_stage

    split_stage(
        tmp_path / "pheno.tsv",
        [tmp_path / "accessions.txt"],
        tmp_path / "split.tsv",
        tmp_path / "summary.json",
        trait="FT10_mean",
        id_column=None,
        test_fraction=0.2,
        n_folds=2,
        seed=0,
        **paths,
    )


def test_test_ids_not_among_the_accessions_are_listed(tmp_path):
    write_split_inputs(tmp_path, test_ids=["5", "77", "78"])
    with pytest.raises(InputError, match=r"test.txt: test accessions not among the accessions: 77, 78"):
        run_split(tmp_path, test_ids_path=tmp_path / "test.txt")
    assert not (tmp_path / "split.tsv").exists()


def test_training_accessions_without_folds_are_listed(tmp_path):
    write_split_inputs(tmp_path, test_ids=["6"], folds={"1": 1, "2": 2, "3": 1})
    with pytest.raises(InputError, match=r"folds.csv: training accessions without folds: 4, 5"):
        run_split(tmp_path, test_ids_path=tmp_path / "test.txt", cv_folds_path=tmp_path / "folds.csv")
    assert not (tmp_path / "split.tsv").exists()


def test_a_constant_trait_is_refused_before_training(tmp_path):
    write_split_inputs(tmp_path)
    (tmp_path / "pheno.tsv").write_text("ID\tFT10_mean\n" + "".join(f"{i}\t42\n" for i in range(1, 7)))
    with pytest.raises(InputError, match=r"pheno.tsv: trait FT10_mean has no variance among the 5 training .* 42"):
        run_split(tmp_path)
    assert not (tmp_path / "split.tsv").exists()


def test_too_few_phenotyped_accessions_for_the_folds_are_refused(tmp_path):
    write_split_inputs(tmp_path)
    (tmp_path / "pheno.tsv").write_text("ID\tFT10_mean\n1\t10\n2\t20\n3\tNA\n")
    with pytest.raises(InputError, match=r"trait FT10_mean: 2 phenotyped training accessions in 2 fold\(s\), too few"):
        run_split(tmp_path)


def test_a_test_accession_without_a_phenotype_is_unlabelled():
    """A published test set names individuals some traits lack: they are predicted, not tested."""
    import pandas as pd

    values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=["1", "2", "3", "4", "5"])
    frame = make_split(
        ["1", "2", "3", "4", "5", "6"], values, test_fraction=0.5, n_folds=2, seed=0, test_ids=["5", "6"]
    )
    assert frame["set"].tolist() == ["train"] * 4 + ["test", "unlabelled"]


def test_a_test_accession_in_the_folds_file_is_in_no_fold(tmp_path):
    """Published folds often list every accession: a test accession's folds are not used, in no
    repeat (it would be trained on in the other folds' fits)."""
    import pandas as pd

    from gpgcn.data.phenotypes import read_cv_folds

    (tmp_path / "folds.csv").write_text(
        "ID,cv_1,cv_2\n" + "".join(f"{i},{1 + i % 2},{1 + i // 3}\n" for i in range(1, 7))
    )
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], index=["1", "2", "3", "4", "5", "6"])
    frame = make_split(
        ["1", "2", "3", "4", "5", "6"],
        values,
        test_fraction=0.5,
        n_folds=2,
        seed=0,
        test_ids=["2", "5"],
        cv_folds=read_cv_folds(tmp_path / "folds.csv"),
    )
    test = frame["set"].eq("test")
    assert frame.loc[test, "ID"].tolist() == ["2", "5"]
    for column in ("fold", "cv_1", "cv_2"):
        assert (frame.loc[test, column] == 0).all(), column
        assert (frame.loc[~test, column] > 0).all(), column


def test_a_fold_of_one_training_accession_names_the_column_and_the_accession(tmp_path):
    """A typo such as fold 3 in a 2-fold column: the file, its own column name, the accession, its
    line and the folds the others are in."""
    write_split_inputs(tmp_path, folds={"1": 1, "2": 2, "3": 1, "4": 2, "5": 3, "6": 1})
    (tmp_path / "folds.csv").write_text((tmp_path / "folds.csv").read_text().replace("ID,cv_1", "ID,repeat A"))
    with pytest.raises(
        InputError,
        match=r"folds.csv: column repeat A: fold 3 holds 1 training accession\(s\) \('5' on line 6\), where the "
        r"other folds \(1, 2\) hold 2 or more",
    ):
        run_split(tmp_path, cv_folds_path=tmp_path / "folds.csv")


def test_a_trait_without_values_says_so(tmp_path):
    write_split_inputs(tmp_path)
    (tmp_path / "pheno.tsv").write_text("ID\tFT10_mean\n" + "".join(f"{i}\tNA\n" for i in range(1, 7)))
    with pytest.raises(InputError, match=r"pheno.tsv: trait FT10_mean has no values: all 6 rows are missing"):
        run_split(tmp_path)
    (tmp_path / "pheno.tsv").write_text("ID\tFT10_mean\n" + "".join(f"x{i}\t{i}\n" for i in range(1, 7)))
    with pytest.raises(InputError, match=r"none of its 6 accessions with a value is a study accession \(first: 'x1'\)"):
        run_split(tmp_path)
