"""A training job killed with SIGKILL mid-run resumes from its checkpoints only when nothing that
shapes its result changed; otherwise it starts afresh and says why. Checked through the
workflow, as a user meets it: the whole process tree killed (as a node failure or a scheduler's
kill would), `snakemake --unlock`, then `--rerun-incomplete`."""

import signal
import subprocess
import time

import psutil
import pytest

from gpgcn.gcn.strategies import STRATEGIES

from helpers import SNAKEMAKE, TINY, merged, snakemake, write_config

pytestmark = pytest.mark.slow

# Long enough to be killed mid-run, with a checkpoint every 5 epochs; no early stopping.
TRAIN = {"max_epochs": 600, "patience": 10_000, "checkpoint_every": 5, "ensemble": False}
# Serial is timed wherever another strategy is (its speedups are against it).
ONLY_SERIAL = {**dict.fromkeys(STRATEGIES, []), "serial": [1]}


def kinship_config(directory, tiny_run, phenotypes, strategy, ndev):
    """Mode kinship over the tiny run's GRM: no genotype stages, so each run takes seconds."""
    return write_config(
        directory,
        merged(
            TINY,
            {
                "input": {
                    "mode": "kinship",
                    "kinship": str(tiny_run / "results/kinship/grm.tsv"),
                    "phenotypes": str(phenotypes),
                },
                "train": TRAIN,
                "select": {"loci_counts": [0]},  # a relationship matrix has no markers to scan
                "strategies": {**ONLY_SERIAL, strategy: [ndev]},
            },
        ),
    )


def kill_tree(process):
    """SIGKILL a process and every descendant (torchrun starts its ranks in sessions of their own)."""
    family = [process, *process.children(recursive=True)]
    for member in family:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def run_and_kill(directory, target, checkpoints):
    """Start the workflow, and SIGKILL it once every rank has written a checkpoint."""
    command = [
        *SNAKEMAKE,
        "--directory",
        str(directory),
        "--configfile",
        str(directory / "config.yaml"),
        "--cores",
        "2",
        target,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while not all(path.exists() for path in checkpoints):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        kill_tree(psutil.Process(process.pid))
    finally:
        process.wait(timeout=60)
    assert not (directory / target).exists(), "the job finished before the kill"


def rerun(directory, target):
    unlock = snakemake(directory, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    run = snakemake(directory, "--cores", "2", "--rerun-incomplete", target)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def predictions(directory, run):
    return (directory / f"results/train/{run}/predictions.tsv").read_bytes()


def rank_logs(directory, strategy, ndev):
    log = directory / f"logs/train/{strategy}/{ndev}.log"
    return [log.read_text(), *(log.with_name(f"{log.name}.rank{r}").read_text() for r in range(1, ndev))]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("strategy, ndev", [("serial", 1), ("snpshard", 2)])
def test_killed_training_resumes_only_when_nothing_changed(tiny_run, tmp_path, strategy, ndev):
    run, target = f"{strategy}/{ndev}", f"results/train/{strategy}/{ndev}/metrics.json"
    checkpoints = [f"results/checkpoints/{run}/fold1.rank{r}.pt" for r in range(ndev)]
    original = tiny_run / "results/cohort/phenotypes.tsv"
    changed = tmp_path / "changed.tsv"
    lines = original.read_text().splitlines()
    fields = lines[7].split("\t")
    fields[1] = f"{float(fields[1]) + 25}"  # the first trait, the one the strategies train on
    lines[7] = "\t".join(fields)
    changed.write_text("\n".join(lines) + "\n")

    clean = {}
    for name, phenotypes in (("original", original), ("changed", changed)):
        directory = tmp_path / f"clean_{name}"
        directory.mkdir()
        kinship_config(directory, tiny_run, phenotypes, strategy, ndev)
        finished = snakemake(directory, "--cores", "2", target)
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
        clean[name] = predictions(directory, run)
    assert clean["original"] != clean["changed"]

    # (a) rerun unchanged: every rank resumes, and the result is the uninterrupted run's.
    directory = tmp_path / "unchanged"
    directory.mkdir()
    kinship_config(directory, tiny_run, original, strategy, ndev)
    run_and_kill(directory, target, [directory / c for c in checkpoints])
    rerun(directory, target)
    for log in rank_logs(directory, strategy, ndev):
        assert "fold 1: resumed from the checkpoint at epoch" in log
    assert predictions(directory, run) == clean["original"]

    # (b) one input changed between the kill and the rerun: every rank starts fresh, says why,
    # and the result is a clean run's on the new input.
    directory = tmp_path / "changed_input"
    directory.mkdir()
    phenotypes = tmp_path / "phenotypes.tsv"
    phenotypes.write_bytes(original.read_bytes())
    kinship_config(directory, tiny_run, phenotypes, strategy, ndev)
    run_and_kill(directory, target, [directory / c for c in checkpoints])
    phenotypes.write_bytes(changed.read_bytes())
    rerun(directory, target)
    for log in rank_logs(directory, strategy, ndev):
        assert "resumed" not in log
        assert "starting fresh" in log and "results/split/FT10_mean/split.tsv" in log
    assert predictions(directory, run) == clean["changed"]
