import pytest

from gpgcn.data.bcf import BcfReader
from gpgcn.data.genotypes import extract_dosages
from gpgcn.data.regions import Region, plan_regions
from gpgcn.data.vcf import subset_vcf
from gpgcn.io import write_ids

from helpers import filters, write_vcf


def test_whole_chromosomes_by_default():
    regions = plan_regions(["1", "2"])
    assert [(r.name, r.spec) for r in regions] == [("1", "1"), ("2", "2")]


def test_fixed_size_regions_tile_each_chromosome():
    regions = plan_regions(["1", "2"], 100, {"1": 250, "2": 80})
    assert [r.spec for r in regions] == ["1:1-100", "1:101-200", "1:201-", "2"]
    assert [r.name for r in regions] == ["1_1-100", "1_101-200", "1_201-end", "2"]


def test_fixed_size_regions_need_lengths():
    with pytest.raises(ValueError, match="no length known for chromosome\\(s\\) 2"):
        plan_regions(["1", "2"], 100, {"1": 250})


@pytest.mark.parametrize("index", [True, False])
def test_no_record_falls_in_two_regions(tmp_path, index):
    """A two-base SNP (AC>GC) at a region's last position overlaps the next region: it belongs to
    the region holding its POS only. Without an index the regions are streamed (-t)."""
    samples = ["a", "b", "c"]
    records = [
        ("1", 50, "A", "G", ["0/0", "1/1", "0/1"]),
        ("1", 100, "AC", "GC", ["0/0", "1/1", "1/1"]),  # spans 100-101
        ("1", 101, "T", "C", ["1/1", "0/0", "0/1"]),
        ("1", 180, "G", "A", ["1/1", "0/0", "0/0"]),
        ("1", 260, "C", "T", ["0/1", "0/0", "0/0"]),  # past the declared length: last region
    ]
    vcf = write_vcf(tmp_path / "r.vcf.gz", samples, records, contigs=(("1", 200),), index=index)
    write_ids(tmp_path / "samples.txt", samples)
    positions = []
    for region in plan_regions(["1"], 100, {"1": 200}):
        bcf = tmp_path / f"{region.name}.bcf"
        subset_vcf(vcf, tmp_path / "samples.txt", region.spec, bcf)
        _, snps, _, _ = extract_dosages(BcfReader(bcf), filters(maf=0.0, max_missing=1.0))
        positions.append(list(snps["pos"]))
    assert positions == [[50, 100], [101, 180, 260]]


def test_region_of_a_whole_chromosome():
    assert Region("2", 1, None).whole_chromosome and Region("2").name == "2"


def test_interop_branches_stay_per_chromosome_when_scattered():
    from gpgcn.gcn.problem import per_chromosome_sizes

    assert per_chromosome_sizes([3, 4, 5, 6, 2], ["1", "1", "2", "2", "3"]) == [7, 11, 2]
    assert per_chromosome_sizes([3, 4], range(2)) == [3, 4]
    with pytest.raises(ValueError, match="2 matrices but 3 chromosome names"):
        per_chromosome_sizes([3, 4], ["1", "1", "2"])
