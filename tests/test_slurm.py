"""The workflow through a real SLURM cluster with `--profile profiles/slurm` (pytest -m slurm).

Needs the cluster of tests/slurm/start_cluster.sh (or any SLURM with partitions `cpu` and `gpu`
and accounting). Without one these tests skip, unless GPGCN_REQUIRE_SLURM=1 (as in CI), where a
missing cluster is a failure.
"""

import datetime
import json
import os
import shutil
import subprocess

import pandas as pd
import pytest

from helpers import REPO, SNAKEMAKE, TINY, merged, vcf_mode_config, write_bad_phenotypes, write_config

# A hung run must not hang CI: every snakemake call is killed after this many seconds.
HARD_LIMIT_S = 900


def cluster_answers():
    if shutil.which("sinfo") is None:
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0


def require_cluster():
    if cluster_answers():
        return
    if os.environ.get("GPGCN_REQUIRE_SLURM") == "1":
        pytest.fail("GPGCN_REQUIRE_SLURM=1 but no SLURM cluster answers (run tests/slurm/start_cluster.sh)")
    pytest.skip("no SLURM cluster answers (start one with tests/slurm/start_cluster.sh)")


pytestmark = [pytest.mark.slurm, pytest.mark.timeout(2 * HARD_LIMIT_S)]


def snakemake_on_slurm(directory, *args):
    # Status checks from 2 s after submission (the plugin waits 40 s by default, for big clusters).
    command = [
        "timeout",
        "-s",
        "KILL",
        str(HARD_LIMIT_S),
        *SNAKEMAKE,
        "--profile",
        str(REPO / "profiles/slurm"),
        "--directory",
        str(directory),
        "--configfile",
        str(directory / "config.yaml"),
        "--slurm-init-seconds-before-status-checks",
        "2",
        *args,
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode != -9 and run.returncode != 137, f"killed after {HARD_LIMIT_S} s: {run.stderr[-3000:]}"
    return run


def sacct_jobs(directory, since):
    """This directory's SLURM jobs since `since`: job id, state, rule (from the plugin's comment)."""
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-S", since, "-o", "JobID,State,Comment,WorkDir"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line]
    jobs = pd.DataFrame(rows, columns=["job_id", "state", "comment", "workdir"])
    jobs = jobs[jobs["workdir"] == str(directory)].copy()
    jobs["rule"] = jobs["comment"].str.extract(r"^rule_(.+?)(?:_wildcards_.*)?$", expand=False)
    return jobs


def planned_jobs(directory):
    """Jobs per rule that a dry run plans, less the local `all`."""
    run = subprocess.run(
        [*SNAKEMAKE, "-n", "--directory", str(directory), "--configfile", str(directory / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    stats = run.stdout.split("Job stats:")[1].split("total")[0]
    counts = {}
    for line in stats.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    counts.pop("all")
    return counts


def now():
    return datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    require_cluster()
    directory = tmp_path_factory.mktemp("slurm")
    write_config(directory, TINY)
    planned = planned_jobs(directory)
    since = now()
    run = snakemake_on_slurm(directory)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return directory, planned, sacct_jobs(directory, since), run


def test_every_rule_ran_as_a_slurm_job(slurm_run):
    directory, planned, jobs, run = slurm_run
    assert jobs.groupby("rule").size().to_dict() == planned
    assert (jobs["state"] == "COMPLETED").all(), jobs


def test_ddp_ranks_were_started_by_srun(slurm_run):
    directory, planned, jobs, run = slurm_run
    for strategy in ("ddp", "snpshard"):
        job_id = jobs.loc[jobs["rule"] == f"train_{strategy}", "job_id"].item()
        steps = subprocess.run(
            ["sacct", "-P", "-n", "-j", job_id, "-o", "JobID,NTasks,State"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        # The batch step runs snakemake; step .0 is srun's, with one task per device.
        assert f"{job_id}.0|2|COMPLETED" in steps, steps
        metrics = json.loads((directory / f"results/train/{strategy}/2/metrics.json").read_text())
        assert metrics["n_devices"] == 2


# Outputs that must be byte-identical to a local run's: every stage, and every strategy's predictions.
IDENTICAL = [
    "cohort/cohort.vcf.gz",
    "cohort/phenotypes.tsv",
    "genotypes/1.npy",
    "genotypes/2.npy",
    "genotypes/1.snps.tsv",
    "kinship/grm.tsv",
    "graph/knn_graph.tsv",
    "split/FT10_mean/split.tsv",
    "split/RL/split.tsv",
    "models/FT10_mean/gblup/predictions.tsv",
    "models/RL/stack/predictions.tsv",
    "predictions/RL.tsv",
    *(
        f"train/{run}/predictions.tsv"
        for run in ("serial/1", "intraop/2", "interop/1", "interop/2", "ddp/2", "snpshard/2")
    ),
]


def test_outputs_equal_a_local_run(slurm_run, tiny_run):
    directory = slurm_run[0]
    for path in IDENTICAL:
        assert (directory / "results" / path).read_bytes() == (tiny_run / "results" / path).read_bytes(), path


def test_a_failing_job_is_reported_as_failed(slurm_run, tmp_path):
    """A job that exits non-zero ends the run with an error naming it, and sacct says FAILED."""
    cohort = slurm_run[0] / "results" / "cohort"
    accession = write_bad_phenotypes(cohort, tmp_path / "pheno.tsv")
    vcf_mode_config(tmp_path, cohort, phenotypes=tmp_path / "pheno.tsv")
    since = now()
    run = snakemake_on_slurm(tmp_path, "--retries", "0", "results/split/traits.json")
    assert run.returncode != 0
    assert "Error in rule check_traits" in run.stdout + run.stderr
    jobs = sacct_jobs(tmp_path, since)
    assert jobs.loc[jobs["rule"] == "check_traits", "state"].tolist() == ["FAILED"]
    assert (jobs.loc[jobs["rule"] != "check_traits", "state"] == "COMPLETED").all(), jobs
    log = (tmp_path / "logs/check_traits.log").read_text()
    assert f"ID '{accession}' has non-numeric FT10_mean value 'late'" in log
    assert not (tmp_path / "results/split/traits.json").exists()


def test_gpu_jobs_are_given_gpus_by_slurm(slurm_run):
    """dataparallel/2 asks SLURM for 2 GPUs (the test node's are fake), and then refuses to run
    without CUDA rather than train on the CPU."""
    directory = slurm_run[0]
    gpu = directory / "gpu"
    gpu.mkdir()
    write_config(gpu, merged(TINY, {"train": {"device": "cuda"}, "strategies": {"dataparallel": [2]}}))
    for stage in ("cohort", "genotypes", "kinship", "graph", "split"):
        shutil.copytree(directory / "results" / stage, gpu / "results" / stage)
    since = now()
    run = snakemake_on_slurm(gpu, "--retries", "0", "results/train/dataparallel/2/metrics.json")
    assert run.returncode != 0
    jobs = sacct_jobs(gpu, since)
    assert jobs[["rule", "state"]].values.tolist() == [["train_dataparallel", "FAILED"]]
    tres = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-j", jobs["job_id"].item(), "-o", "AllocTRES,Partition"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "gres/gpu=2" in tres and tres.strip().endswith("|gpu"), tres
    assert "dataparallel needs 2 CUDA device(s)" in (gpu / "logs/train/dataparallel/2.log").read_text()
