"""Fixtures shared by the tests; plain helpers are in helpers.py."""

import pytest

from helpers import TINY, snakemake, write_config, write_vcf


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole workflow on a tiny simulated cohort, run locally (shared by the workflow tests)."""
    directory = tmp_path_factory.mktemp("tiny")
    write_config(directory, TINY)
    run = snakemake(directory, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return directory


@pytest.fixture
def small_vcf(tmp_path):
    """Four accessions with a missing call, a multi-allelic site, an indel and a monomorphic SNP."""
    samples = ["101", "102", "103", "104"]
    records = [
        ("1", 100, "A", "G", ["0/0", "1/1", "0/1", "./."]),
        ("1", 200, "C", "T,G", ["0/0", "1/1", "2/2", "0/0"]),  # multi-allelic: dropped
        ("1", 300, "A", "AT", ["0/0", "1/1", "1/1", "0/0"]),  # indel: dropped
        ("1", 400, "G", "C", ["1/1", "1/1", "0/0", "0|1"]),
        ("1", 500, "T", "A", ["0/0", "0/0", "0/0", "0/0"]),  # monomorphic in the subset: dropped
        ("2", 100, "C", "A", ["1/1", "0/0", "0/0", "0/0"]),
    ]
    return write_vcf(tmp_path / "small.vcf.gz", samples, records), samples
