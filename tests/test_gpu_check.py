"""`make gpu-check` where it can be checked without a GPU: the refusal, its arguments, the runs it
plans, how it compares predictions, and the page it writes."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from gpgcn.gcn.strategies import PREDICTION_TOLERANCE
from gpgcn.io import write_json

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # make gpu-check is a benchmark script, not the package's
import gpu_check  # noqa: E402
from gpu_check import NoCuda, Run, check_row, page, parse_args, runs, visible_gpus  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a host without CUDA")
def test_without_cuda_it_stops_at_once_with_one_line(tmp_path):
    out = tmp_path / "gpu.md"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "gpu-check: no CUDA device on this host (torch.cuda.is_available() is False); nothing was run"
    ]
    assert not out.exists() and not (tmp_path / "work").exists()


def test_more_gpus_than_the_host_has_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert visible_gpus(None, "cuda") == 2
    assert visible_gpus(1, "cuda") == 1
    with pytest.raises(NoCuda, match="--gpus 4 but this host has 2 CUDA device"):
        visible_gpus(4, "cuda")
    assert visible_gpus(None, "cpu") == 1


def test_arguments():
    args = parse_args(["--snps", "2000", "--epochs", "3", "--gpus", "2"])
    assert (args.snps, args.epochs, args.gpus, args.device) == (2000, 3, 2, "cuda")
    assert parse_args([]).snps == 1_000_000
    for bad in (["--epochs", "1"], ["--snps", "5"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_every_gpu_path_is_planned_on_one_gpu_and_on_all():
    names = [r.name for r in runs(4)]
    assert names == [
        "serial/1",
        "interop/1",
        "dataparallel/1",
        "dataparallel/4",
        "ddp/1",
        "ddp/4",
        "snpshard/1",
        "snpshard/4",
    ]
    assert [r.name for r in runs(1)] == ["serial/1", "interop/1", "dataparallel/1", "ddp/1", "snpshard/1"]
    # On the CPU: every strategy that runs there, on one device; never dataparallel.
    assert [r.name for r in runs(4, "cpu")] == ["serial/1", "intraop/1", "interop/1", "ddp/1", "snpshard/1"]
    assert gpu_check.reference_strategies([Run("interop", 1), Run("ddp", 2)]) == ["interop", "serial"]


def write_run(folder, predicted, seconds=0.5):
    folder.mkdir(parents=True)
    observed = np.array([1.0, 3.0, 5.0, 7.0, np.nan])
    sets = ["train", "train", "test", "test", "unlabelled"]
    frame = pd.DataFrame({"ID": list("abcde"), "observed": observed, "predicted": predicted, "set": sets})
    frame.to_csv(folder / "predictions.tsv", sep="\t", index=False)
    write_json(folder / "metrics.json", {"seconds_per_epoch_median": seconds})


def test_predictions_are_compared_in_training_standard_deviations(tmp_path):
    """Training phenotypes 1 and 3: sd 1, so a shift of 0.5 on the trait's scale is 0.5 sd."""
    reference = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    write_run(tmp_path / "cpu", reference)
    write_run(tmp_path / "close", reference + np.array([0, 0, 0, 0, 0.5 * PREDICTION_TOLERANCE]))
    write_run(tmp_path / "far", reference + np.array([0, 0, 0.5, 0, 0]), seconds=0.1)
    close = check_row("demo", "ddp/2", "cuda", tmp_path / "close", tmp_path / "cpu")
    far = check_row("demo", "snpshard/2", "cuda", tmp_path / "far", tmp_path / "cpu")
    assert close["within_tolerance"] and close["max_abs_difference"] == pytest.approx(0.5 * PREDICTION_TOLERANCE)
    assert not far["within_tolerance"] and far["max_abs_difference"] == pytest.approx(0.5)
    assert far["seconds_per_epoch_median"] == 0.1 and far["run"] == "snpshard/2" and far["device"] == "cuda"


def test_the_page_names_the_host_and_marks_each_run():
    rows = [
        {"problem": "demo", "run": "serial/1", "device": "cuda", "seconds_per_epoch_median": 0.0123,
         "epoch_over_products": 1.5, "max_abs_difference": 0.0, "within_tolerance": True},
        {"problem": "synthetic", "run": "ddp/2", "device": "cuda", "seconds_per_epoch_median": 0.5,
         "epoch_over_products": None, "max_abs_difference": 0.25, "within_tolerance": False},
    ]  # fmt: skip
    text = page(rows, "1 × NVIDIA H200, CUDA 12.8, driver 570.1", "make gpu-check", 20, 1_000_000)
    lines = text.splitlines()
    assert lines[0] == "# GPU check"
    assert "Measured by `make gpu-check` on 1 × NVIDIA H200, CUDA 12.8, driver 570.1." in text
    assert "1,000,000 random SNPs" in text and "for 20 epochs" in text
    assert "| demo | serial/1 | cuda | 0.0123 | 1.5 | 0 | yes |" in lines
    assert "| synthetic | ddp/2 | cuda | 0.5 |  | 0.25 | **no** |" in lines


@pytest.fixture
def small_batches(monkeypatch):
    """The batched-members check at a size a test can afford: B = 1 and 3, 3 epochs, 60 SNPs."""
    monkeypatch.setattr(gpu_check, "SIZES", (1, 3))
    monkeypatch.setattr(gpu_check, "SEQUENTIAL_MEMBERS", 2)
    return gpu_check.train_settings(3, "cpu"), 60


def test_batched_members_are_timed_and_held_against_the_cpu(small_batches):
    settings, snps = small_batches
    timings, checks = gpu_check.batched_rows(snps, settings, "cpu")
    assert [(r["problem"], r["features"], r["B"]) for r in timings] == [
        ("demo", 383, 1),
        ("demo", 383, 3),
        ("synthetic", 60, 1),
        ("synthetic", 60, 3),
    ]
    assert all(r["sequential"] > 0 and r["batched"] > 0 for r in timings)
    assert [(c["problem"], c["run"], c["within_tolerance"]) for c in checks] == [
        ("demo", "batched members (5)", True),
        ("demo through its factor", "batched members (5)", True),
        ("synthetic", "batched members (5)", True),
    ]
    assert all(c["max_abs_difference"] <= PREDICTION_TOLERANCE for c in checks)
    text = page(checks, "host", "make gpu-check", 3, snps, timings)
    assert "## Batched members" in text and "| synthetic | 60 | 3 |" in text


def test_a_batch_that_does_not_fit_is_listed_not_run(small_batches, monkeypatch):
    settings, snps = small_batches
    monkeypatch.setattr(gpu_check, "memory_free", lambda device: 2 * 1024**3)
    monkeypatch.setattr(gpu_check, "member_bytes", lambda problem, settings: 2 * 1024**3)
    timings, _ = gpu_check.batched_rows(snps, settings, "cpu")
    assert all("batched" not in r for r in timings)
    assert timings[1]["not_run"] == "3 members hold 6.0 GiB; 2.0 GiB free"
    lines = page([], "host", "make gpu-check", 3, snps, timings).splitlines()
    sequential = f"{timings[1]['sequential']:.0f}"
    assert f"| demo | 383 | 3 | {sequential} | not run: 3 members hold 6.0 GiB; 2.0 GiB free |  |" in lines


def test_batched_predictions_that_differ_from_the_cpu_fail_the_check(small_batches, monkeypatch):
    settings, snps = small_batches
    trained = gpu_check.batched_predictions

    def off_on_the_device(problem, n_members, settings, runner):
        shift = 0.0 if isinstance(runner, gpu_check.IntraOp) else 10 * PREDICTION_TOLERANCE
        return trained(problem, n_members, settings, runner) + shift

    monkeypatch.setattr(gpu_check, "batched_predictions", off_on_the_device)
    _, checks = gpu_check.batched_rows(snps, settings, "cpu")
    assert [c["within_tolerance"] for c in checks] == [False, False, False]
    assert checks[0]["max_abs_difference"] == pytest.approx(10 * PREDICTION_TOLERANCE, rel=0.5)


def test_a_batch_that_runs_out_of_memory_is_listed_not_run(small_batches, monkeypatch):
    settings, snps = small_batches
    timed = gpu_check.member_epochs_per_second

    def short_of_memory(problem, n_members, settings, batched):
        if batched and n_members == 3:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return timed(problem, n_members, settings, batched)

    monkeypatch.setattr(gpu_check, "member_epochs_per_second", short_of_memory)
    timings, checks = gpu_check.batched_rows(snps, settings, "cpu")
    assert ["batched" in r for r in timings] == [True, False, True, False]
    assert timings[1]["not_run"].startswith("out of memory (") and len(checks) == 3


@pytest.mark.slow
def test_on_the_cpu_every_run_learns_what_its_reference_learns(tmp_path):
    """The whole check with `--device cpu`: every run, the per-trait GCN and the batched members
    included, within tolerance of its CPU reference (a run compared with a different model, e.g.
    the per-trait GCN on the GRM rows against serial on the SNPs, fails here)."""
    out = tmp_path / "gpu.md"
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu"]
    command += ["--snps", "200", "--epochs", "3", "--work", str(tmp_path / "work"), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "work" / "rows.json").read_text())
    assert {(r["problem"], r["run"]) for r in rows["runs"]} >= {
        ("demo", "per-trait GCN"),
        ("synthetic", "per-trait GCN"),
        ("demo", "batched members (5)"),
        ("synthetic", "batched members (5)"),
    }
    assert all(r["within_tolerance"] for r in rows["runs"])
    assert "## Batched members" in out.read_text()
