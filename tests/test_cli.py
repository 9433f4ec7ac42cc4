import sys

import pytest

from gpgcn.gcn.distributed import SlurmJob, launch_command, slurm_job


def test_torchrun_outside_slurm():
    command = launch_command(2, ["train", "--strategy", "ddp"], job=None)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in command
    assert command[-5:] == ["-m", "gpgcn.cli", "train", "--strategy", "ddp"]


def test_srun_inside_a_job_with_a_task_per_device():
    command = launch_command(4, ["train"], job=SlurmJob("7", tasks=4, cpus_per_task=8))
    assert command[:4] == ["srun", "--ntasks=4", "--cpus-per-task=8", "--kill-on-bad-exit=1"]
    assert command[-3:] == ["-m", "gpgcn.cli", "train"]


def test_single_task_job_uses_torchrun():
    # A job given one task (e.g. a whole workflow run inside one SLURM job) starts its ranks itself.
    command = launch_command(2, ["train"], job=SlurmJob("7", tasks=1, cpus_per_task=2))
    assert "torch.distributed.run" in command


def test_too_few_tasks_is_refused():
    with pytest.raises(RuntimeError, match="has 2 tasks but 4 devices"):
        launch_command(4, ["train"], job=SlurmJob("7", tasks=2, cpus_per_task=1))


def test_no_slurm_job_outside_slurm():
    assert slurm_job(environ={}) is None


def test_srun_ranks_meet_through_a_file_that_is_removed_after(tmp_path, monkeypatch):
    """Inside a SLURM job the ranks get a file store in a fresh folder (no port picked ahead of
    them); the folder goes when they are done, however they end."""
    import gpgcn.gcn.distributed as distributed

    monkeypatch.setattr(distributed, "slurm_job", lambda: SlurmJob("7", tasks=2, cpus_per_task=1))
    with pytest.raises(RuntimeError, match="ranks failed"):
        with distributed.launch_plan(2, ["train"], tmp_path) as (command, env):
            assert command[0] == "srun" and "MASTER_PORT" not in env
            store = env[distributed.RENDEZVOUS]
            assert store.startswith(f"file://{tmp_path}/.rendezvous-") and store.endswith("/store")
            assert len(list(tmp_path.iterdir())) == 1
            raise RuntimeError("ranks failed")
    assert list(tmp_path.iterdir()) == []


def test_torchrun_needs_no_file_store(tmp_path, monkeypatch):
    import gpgcn.gcn.distributed as distributed

    monkeypatch.setattr(distributed, "slurm_job", lambda: None)
    with distributed.launch_plan(2, ["train"], tmp_path) as (command, env):
        assert "torch.distributed.run" in command and distributed.RENDEZVOUS not in env
    assert list(tmp_path.iterdir()) == []
