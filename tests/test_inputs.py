"""Inputs as users have them: chromosome names taken from the VCF, the SNP filter funnel, and what
a region or a genome that keeps no SNP gets."""

import json

import numpy as np
import pytest

from helpers import TINY, merged, snakemake, write_config, write_vcf

# Each test runs Snakemake.
pytestmark = pytest.mark.slow


SAMPLES = [str(100 + i) for i in range(12)]


def chr_vcf(path, rare_on=(), contigs=(("Chr1", 10_000), ("Chr2", 10_000)), index=True):
    """Chr1/Chr2-named VCF: 30 common SNPs per chromosome, or only rare ones (one carrier) on
    the chromosomes in `rare_on`; an indel and a multi-allelic record on each."""
    rng = np.random.default_rng(0)
    records = []
    for chrom in ("Chr1", "Chr2"):
        for k in range(30):
            calls = rng.permutation([1] * 5 + [0] * 7) if chrom not in rare_on else np.eye(12, dtype=int)[k % 12]
            records.append((chrom, 100 * (k + 1), "A", "G", ["1/1" if c else "0/0" for c in calls]))
        records.append((chrom, 5000, "A", "AT", ["0/0"] * 6 + ["1/1"] * 6))
        records.append((chrom, 5100, "C", "T,G", ["0/0"] * 4 + ["1/1"] * 4 + ["2/2"] * 4))
    return write_vcf(path, SAMPLES, records, contigs=contigs, index=index)


def user_config(directory, vcf, **override):
    (directory / "samples.txt").write_text("\n".join(SAMPLES) + "\n")
    (directory / "pheno.tsv").write_text("ID\tFT10_mean\n" + "".join(f"{s}\t{i}\n" for i, s in enumerate(SAMPLES)))
    inputs = {"mode": "vcf", "vcf": str(vcf), "samples": str(directory / "samples.txt")}
    inputs["phenotypes"] = str(directory / "pheno.tsv")
    inputs["traits"] = ["FT10_mean"]
    config = merged(TINY, {"input": inputs, "chromosomes": [], "graph": {"k": 3}, "split": {"folds": 2}})
    return write_config(directory, merged(config, override))


@pytest.mark.parametrize("index, contigs", [(True, (("Chr1", 10_000), ("Chr2", 10_000))), (False, ())])
def test_chromosomes_come_from_the_vcf(tmp_path, index, contigs):
    """Without `chromosomes`, the VCF's names: from its index, or from its records when it has
    neither an index nor ##contig lines."""
    user_config(tmp_path, chr_vcf(tmp_path / "chr.vcf.gz", contigs=contigs, index=index))
    run = snakemake(tmp_path, "-n")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "results/genotypes/Chr1.npy" in run.stdout and "results/genotypes/Chr2.npy" in run.stdout


def test_a_chromosome_the_vcf_lacks_stops_the_run_before_any_job(tmp_path):
    user_config(tmp_path, chr_vcf(tmp_path / "chr.vcf.gz"), chromosomes=["1", "2"])
    run = snakemake(tmp_path, "--cores", "1")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "chromosomes: 1, 2 not in" in output and "chromosomes with records are: Chr1, Chr2" in output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("index", [True, False])
def test_a_vcf_of_a_header_alone_is_named_before_any_job(tmp_path, index):
    """A header with ##contig lines and no record (a failed export): with the chromosomes listed
    or not, the run stops naming the file, not later with an empty funnel."""
    vcf = write_vcf(tmp_path / "empty.vcf.gz", SAMPLES, [], contigs=(("Chr1", 10_000),), index=index)
    for chromosomes in ([], ["Chr1"]):
        user_config(tmp_path, vcf, chromosomes=chromosomes)
        run = snakemake(tmp_path, "--cores", "1")
        assert run.returncode != 0
        output = run.stdout + run.stderr
        assert "empty.vcf.gz: no records" in output or "not in " + str(vcf) in output, output[-2000:]
        assert not (tmp_path / "results").exists()


def test_funnel_and_a_region_emptied_by_the_maf_filter(tmp_path):
    user_config(tmp_path, chr_vcf(tmp_path / "chr.vcf.gz", rare_on=["Chr2"]), genotype={"maf": 0.1})
    run = snakemake(tmp_path, "--cores", "2", "results/kinship/grm.tsv")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    funnel = json.loads((tmp_path / "results/genotypes/Chr2.funnel.json").read_text())
    assert funnel == {
        "region": "Chr2",
        "records read": 32,
        "biallelic SNPs": 30,
        "missing rate passed": 30,
        "MAF passed": 0,
        "LD pruning passed": 0,
    }
    assert json.loads((tmp_path / "results/genotypes/Chr1.funnel.json").read_text())["LD pruning passed"] == 30
    assert (
        "region Chr2 keeps no SNP: none left after step 'MAF passed'"
        in (tmp_path / "logs/genotype_matrix/Chr2.log").read_text()
    )


def test_a_genome_that_keeps_no_snp_prints_the_funnel(tmp_path):
    user_config(tmp_path, chr_vcf(tmp_path / "chr.vcf.gz", rare_on=["Chr1", "Chr2"]), genotype={"maf": 0.1})
    run = snakemake(tmp_path, "--cores", "2", "results/kinship/grm.tsv")
    assert run.returncode != 0
    expected = (
        "gpgcn error: genotype filters: no SNP passed them in any of 2 region(s): records read 64 -> "
        "biallelic SNPs 60 -> missing rate passed 60 -> MAF passed 0 -> LD pruning passed 0"
    )
    assert expected in run.stdout + run.stderr
    assert not (tmp_path / "results/kinship/grm.tsv").exists()
