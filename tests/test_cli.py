import sys

from gpgcn.cli import launch_command


def test_torchrun_outside_slurm():
    command = launch_command(2, ["train", "--strategy", "ddp"], environ={})
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in command
    assert command[-5:] == ["-m", "gpgcn.cli", "train", "--strategy", "ddp"]


def test_srun_inside_a_multi_task_allocation():
    command = launch_command(4, ["train"], environ={"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"})
    assert command[:3] == ["srun", "--ntasks=4", "--kill-on-bad-exit=1"]
    assert command[-3:] == ["-m", "gpgcn.cli", "train"]


def test_single_task_allocation_uses_torchrun():
    # A job given one task (e.g. a workflow run inside one SLURM job) starts its ranks itself.
    command = launch_command(2, ["train"], environ={"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"})
    assert "torch.distributed.run" in command
