"""Strategies that run one process per device in a process group (gloo on CPUs, NCCL on GPUs),
started by a launcher: torchrun on one machine, srun across SLURM nodes."""

import numpy as np

from .strategy import Strategy, lazy_torch

torch = dist = init_process_group = SNPShardConv = None  # bound by strategy.import_torch
lazy_torch(globals())


class ProcessGroupMember(Strategy):
    """One rank of a process group: gloo on CPUs, NCCL on GPUs, one process per device."""

    multiprocess = True
    spreads_over_gpus = True
    launch = "one rank per device: torchrun on one machine; srun inside a SLURM job with a task per device"
    # srun starts one rank per task inside the job; each rank is bound to one GPU with cuda.
    slurm_resources = {"mpi": "srun", "cpus_per_task": 1, "tasks_per_gpu": 1, **Strategy.slurm_resources}

    def setup(self, n_devices, settings, group):
        torch.set_num_threads(1)
        rank = init_process_group(n_devices, settings.device, **(group or {}))
        self.rank, self.world_size = rank.rank, rank.world_size
        return rank.device

    def info(self):
        return {**super().info(), "backend": dist.get_backend()}

    def close(self):
        dist.destroy_process_group()


class DDP(ProcessGroupMember):
    """DistributedDataParallel: every rank runs the whole graph, the loss's nodes are split."""

    name = "ddp"
    parallel = (
        "DistributedDataParallel over n processes (gloo on CPUs, NCCL on GPUs): every rank runs the whole graph "
        "and the model, only the loss's nodes are split, and gradients are all-reduced every step"
    )

    def loss_nodes(self, fit_idx):
        # DDP averages gradients over ranks, so each rank's share is weighted by world/N:
        # the mean of the ranks' gradients is then exactly the serial gradient of the mean loss.
        return fit_idx[self.rank :: self.world_size], self.world_size / len(fit_idx)

    def build_model(self, problem, settings):
        model = super().build_model(problem, settings)
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[self.device] if self.device.type == "cuda" else None
        )


class SNPShard(ProcessGroupMember):
    """Ours: the first convolution's weight and the genotypes split by SNP columns over ranks.

    Each rank holds 1/n of the genotype matrix and of the dominant weight and computes its
    partial product; the partials are summed with all_reduce and the small rest of the model is
    replicated, its gradients averaged every step so the replicas stay identical.
    """

    name = "snpshard"
    parallel = (
        "ours: the genotype matrix and the first layer's weight split by SNP columns over n processes; each rank "
        "does 1/n of the dominant product and holds 1/n of the genotypes, and only a nodes × hidden partial "
        "result is all-reduced"
    )

    def columns(self, n_snps):
        shard = np.array_split(np.arange(n_snps), self.world_size)[self.rank]
        return range(int(shard[0]), int(shard[-1]) + 1)

    def build_model(self, problem, settings):
        model = super().build_model(problem, settings)
        model.stack.convs[0] = SNPShardConv(model.stack.convs[0], self.columns(problem.n_snps))
        return model.to(self.device)

    def after_backward(self, model):
        sharded = set(model.stack.convs[0].sharded_parameters())
        grads = [p.grad for p in model.parameters() if p not in sharded and p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()
