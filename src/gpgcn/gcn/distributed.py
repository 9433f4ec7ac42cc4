"""Process groups for the multi-process strategies: starting one rank per device (torchrun
locally, srun inside a SLURM job), and joining the group from torchrun's or SLURM's environment."""

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Rank:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def environment_rank():
    """Rank, world size and local rank: torchrun sets RANK/WORLD_SIZE/LOCAL_RANK, srun SLURM_*."""
    env = os.environ
    if "RANK" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))
    if "SLURM_PROCID" in env:
        return int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
    return 0, 1, 0


def init_process_group(n_devices, device_kind, init_method=None, rank=None, world_size=None):
    """Join the job's process group: gloo on CPUs, NCCL on GPUs (one GPU per process).

    Without `init_method`, the ranks meet through the file store launch_plan names for srun, or
    MASTER_ADDR and MASTER_PORT from the environment (torchrun sets them).
    """
    if rank is None:
        rank, world_size, local_rank = environment_rank()
    else:
        local_rank = rank
    if world_size != n_devices:
        raise RuntimeError(
            f"asked for {n_devices} device(s) but the launcher started {world_size} process(es); "
            "start one process per device (torchrun --nproc-per-node, or srun --ntasks)"
        )
    if device_kind == "cuda":
        if torch.cuda.device_count() == 0:
            raise RuntimeError("train.device is cuda but this host has no CUDA device")
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if init_method is None:
        init_method = os.environ.get(RENDEZVOUS, "env://")
        if init_method == "env://" and not {"MASTER_ADDR", "MASTER_PORT"} <= set(os.environ):
            raise RuntimeError(
                f"neither {RENDEZVOUS} nor MASTER_ADDR and MASTER_PORT are set: "
                "start the ranks with python -m gpgcn.cli run"
            )
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    return Rank(rank, world_size, local_rank, device)


class AllReduceSum(torch.autograd.Function):
    """Sum a tensor over all ranks; backward passes the gradient through unchanged.

    Every rank computes the same loss from the summed tensor, so the gradient reaching each
    rank's partial sum is already the full gradient: reducing it again would multiply it by the
    world size.
    """

    @staticmethod
    def forward(ctx, partial):
        total = partial.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        return grad


def exit_rank(code=0):
    """End a rank's process now, its outputs already written.

    A normal interpreter exit frees the DDP reducer with the GIL held, and the gloo process
    group's destructor then joins a worker thread that waits for the GIL to free its last work
    item: the rank hangs for ever (seen in tests, torch 2.13). Skipping teardown avoids it.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@dataclass
class SlurmJob:
    job_id: str
    tasks: int
    cpus_per_task: int


def slurm_job(environ=os.environ):
    """The SLURM job this process runs in, as scontrol reports it, or None outside SLURM.

    Asked of scontrol because snakemake's SLURM jobstep executor removes SLURM_NTASKS,
    SLURM_JOB_NODELIST and the like from a job's environment, keeping only SLURM_JOB_ID.
    """
    job_id = environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    shown = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(token.split("=", 1) for token in shown.split() if "=" in token)
    return SlurmJob(job_id, int(fields["NumTasks"]), int(fields.get("CPUs/Task", "1")))


def launch_command(ndev, worker_args, job=None):
    """The command that starts `ndev` ranks of `python -m gpgcn.cli <worker_args>`: srun inside a
    SLURM job with a task per device (on as many nodes as the job has), torchrun elsewhere."""
    worker = [sys.executable, "-m", "gpgcn.cli", *worker_args]
    if job is not None and job.tasks > 1:
        if job.tasks < ndev:
            raise RuntimeError(
                f"SLURM job {job.job_id} has {job.tasks} tasks but {ndev} devices were asked for: "
                "give the job one task per device (resource `tasks`)"
            )
        return ["srun", f"--ntasks={ndev}", f"--cpus-per-task={job.cpus_per_task}", "--kill-on-bad-exit=1", *worker]
    # One task (e.g. a whole workflow run inside one allocation): its ranks share this node. The
    # standalone rendezvous takes a port the OS assigns, so concurrent runs never collide.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ndev}", *worker[1:]]


# The ranks srun starts meet through a file store named here (launch_plan sets it).
RENDEZVOUS = "GPGCN_RENDEZVOUS"


@contextlib.contextmanager
def launch_plan(ndev, worker_args, directory="."):
    """(command, environment) that start `ndev` ranks here: in the SLURM job, or on this machine.

    Under srun the ranks meet through a file in a fresh folder of `directory` (keep it on the file
    system the job's nodes share, as Snakemake's working directory is), removed when the ranks
    are done. No port is picked for them in advance, so none can be taken by another process
    between the picking and the binding; gloo and NCCL bind ports the OS assigns.
    """
    job = slurm_job()
    command = launch_command(ndev, worker_args, job)
    env = dict(os.environ)
    if command[0] != "srun":
        yield command, env
        return
    folder = tempfile.mkdtemp(prefix=".rendezvous-", dir=directory)
    env[RENDEZVOUS] = f"file://{os.path.abspath(folder)}/store"
    try:
        yield command, env
    finally:
        shutil.rmtree(folder, ignore_errors=True)
