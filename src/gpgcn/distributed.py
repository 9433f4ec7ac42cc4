"""Process groups for the multi-process strategies, from torchrun's or SLURM's environment."""

import logging
import os
import sys
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

    Without `init_method`, MASTER_ADDR and MASTER_PORT come from the environment (torchrun sets
    them; under SLURM the job script exports them from the first node of the allocation).
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
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        init_method = "env://"
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
