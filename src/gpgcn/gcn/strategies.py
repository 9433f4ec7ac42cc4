"""Training strategies: where the shared training core (`train.fit`) runs and how its work is split.

Same model, data, loss, optimiser and seed everywhere. A strategy claims its devices and
threads, says which SNP columns this process holds, builds (and wraps) the model, picks the
nodes this process takes the loss on, and may act on gradients before the optimiser step.

`STRATEGIES` is the one list of strategies. Each class says what its training rule asks for
with n devices (threads, GPUs, SLURM tasks and nodes, the SLURM profile's resources); the rules
are generated from it, and the config schema, the SLURM profile and the docs are checked
against it.
"""

import math
import warnings

import numpy as np

# Snakemake reads the strategies' rule metadata (threads, GPUs, SLURM resources) whenever it
# loads the workflow, dry runs included, and torch with PyTorch Geometric takes seconds to
# import: `import_torch` brings them in when the first strategy is built, in the training
# process alone.
torch = dist = init_process_group = GCN = ChromosomeBranchGCN = NodeShare = SNPShardConv = None


def import_torch():
    global torch, dist, init_process_group, GCN, ChromosomeBranchGCN, NodeShare, SNPShardConv
    import torch
    import torch.distributed as dist

    from .distributed import init_process_group
    from .networks import GCN, ChromosomeBranchGCN, NodeShare, SNPShardConv


def training_device(settings):
    """The device `train.device` names; a GPU asked for on a host without one is an error."""
    if settings.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but this host has no CUDA device (torch.cuda.is_available() is False)")
    return torch.device("cuda", 0)


class Strategy:
    """What every strategy shares: the training hooks of one process, and one constructor.

    Subclasses claim their devices and threads in `setup` and override the hooks their
    parallelism touches. `group` holds a process group's rendezvous (init_method, rank,
    world_size) for tests that start ranks without a launcher; single-process strategies ignore it.
    """

    name: str
    multiprocess = False  # one process per device, started by a launcher (torchrun or srun)
    parallel: str  # what runs in parallel, for the report and the docs
    launch = "one process"  # how its job starts, for the docs
    not_run = "not run: not listed in config strategies"  # the report's row when the config lists no count
    devices = ("cpu", "cuda")  # the train.device values it runs on
    same_model_as = "serial"  # the strategy whose model it trains, on one device: its predictions must match
    spreads_over_gpus = False  # on cuda, its n devices are n GPUs (else n threads of one GPU or CPU)
    device_counts = r"\d+"  # the {ndev} its rule takes (a regular expression)
    threads_per_device = 1  # its job's threads: per device, or (0) one thread whatever n is
    # What the SLURM profile (profiles/slurm/config.yaml, set-resources) gives its rule: a node to
    # itself so nothing disturbs its timing, and the local runs' timing slots given back.
    slurm_resources = {"slurm_extra": "'--exclusive'", "timing_slot": 0}

    @classmethod
    def threads(cls, n_devices):
        return n_devices * cls.threads_per_device or 1

    @classmethod
    def gpus(cls, n_devices, device):
        """GPUs its job asks for with `train.device` = `device`."""
        if "cuda" not in cls.devices or (device != "cuda" and "cpu" in cls.devices):
            return 0
        return n_devices if cls.spreads_over_gpus else 1

    @classmethod
    def launcher_resources(cls, n_devices, devices_per_node):
        """SLURM tasks and nodes for a job that starts its own ranks (one per device); none else."""
        if not cls.multiprocess:
            return {}
        return {"tasks": n_devices, "nodes": math.ceil(n_devices / devices_per_node)}

    def __init__(self, n_devices, settings, group=None):
        import_torch()
        self.n_devices = n_devices
        self.rank, self.world_size = 0, 1
        self.cpu_busy_before = None  # measured just before training: timings are only as good as the machine's idleness
        self.device = self.setup(n_devices, settings, group)

    def setup(self, n_devices, settings, group):
        """Claim the devices and threads; return the device this process computes on."""
        raise NotImplementedError

    @property
    def is_main(self):
        """The process that writes the outputs."""
        return self.rank == 0

    def columns(self, n_snps):
        """The SNP columns this process holds (None: all of them)."""
        return None

    def prepare(self, problem):
        return problem.to(self.device)

    def build_model(self, problem, settings):
        torch.manual_seed(settings.seed)
        return GCN(problem.n_snps, settings.hidden, settings.layers, settings.dropout).to(self.device)

    def loss_nodes(self, fit_idx):
        """Nodes this process takes the loss on, and the weight of their summed squared error."""
        return fit_idx, 1.0 / len(fit_idx)

    def forward(self, model, problem):
        return model(problem.x, problem.edge_index, problem.edge_weight)

    def after_backward(self, model):
        """Between backward and the optimiser step (e.g. synchronise replicated gradients)."""

    def synchronize(self):
        """Wait for queued device work before the clock is read."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def info(self):
        gpus = (
            [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if self.device.type == "cuda"
            else []
        )
        return {
            "device": self.device.type,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "gpus": gpus,
            "world_size": self.world_size,
            "cpu_busy_before": self.cpu_busy_before,
        }

    def close(self):
        """Release what `setup` claimed."""


class Serial(Strategy):
    """The reference: one process on one CPU core, or on one GPU with `train.device: cuda`."""

    name = "serial"
    device_counts = "1"
    parallel = "nothing: 1 CPU core, or 1 GPU with train.device: cuda; the reference for every speedup"

    def setup(self, n_devices, settings, group):
        if n_devices != 1:
            raise ValueError(f"serial runs on exactly 1 device, not {n_devices}")
        torch.set_num_threads(1)
        return training_device(settings)


class IntraOp(Strategy):
    """One process, n intra-op threads (a CPU strategy: it ignores train.device)."""

    name = "intraop"
    devices = ("cpu",)
    parallel = "each operator (the genotype × weight product above all) over n intra-op threads of one process"

    def setup(self, n_devices, settings, group):
        torch.set_num_threads(n_devices)
        return torch.device("cpu")


# TorchScript is deprecated upstream (torch 2.13) but is what runs jit.fork in parallel.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)


class InterOp(Strategy):
    """Per-chromosome GCN branches forked over n inter-op threads (TorchScript), on the CPU or,
    with train.device: cuda, launching their kernels on one GPU.

    With one device it runs the same scripted architecture sequentially: its twin baseline.
    """

    name = "interop"
    same_model_as = "interop"  # its own architecture; interop/1 is its twin
    parallel = (
        "a different architecture: one GCN stack per chromosome, joined at the linear head, the branches forked "
        "with torch.jit.fork over n inter-op threads; the CPU backward pass still runs on one autograd thread. "
        "interop/1 runs the same scripted model sequentially, its twin baseline"
    )

    def setup(self, n_devices, settings, group):
        torch.set_num_threads(1)
        torch.set_num_interop_threads(n_devices)
        return training_device(settings)

    def build_model(self, problem, settings):
        torch.manual_seed(settings.seed)
        branches = ChromosomeBranchGCN(
            problem.chrom_sizes, settings.hidden, settings.layers, settings.dropout, parallel=self.n_devices > 1
        )
        return torch.jit.script(branches.to(self.device))


class DataParallelStrategy(Strategy):
    """torch.nn.DataParallel over n CUDA GPUs; it never falls back to the CPU."""

    name = "dataparallel"
    devices = ("cuda",)
    spreads_over_gpus = True
    threads_per_device = 0  # one process drives every GPU
    slurm_resources = {"slurm_partition": "gpu", **Strategy.slurm_resources}
    parallel = (
        "torch.nn.DataParallel over n CUDA GPUs: the whole model and graph are replicated on every GPU and only "
        "the prediction nodes are split, so every replica still does the full genotype × weight product"
    )
    not_run = (
        "not run: no CUDA device in this configuration (needs GPUs, strategies.dataparallel and train.device: cuda)"
    )

    def setup(self, n_devices, settings, group):
        available = torch.cuda.device_count()
        if available < n_devices:
            raise RuntimeError(
                f"dataparallel needs {n_devices} CUDA device(s); this host has {available}. "
                "torch.nn.DataParallel without CUDA would silently run on the CPU, so it is not run."
            )
        torch.set_num_threads(1)
        return torch.device("cuda", 0)

    def prepare(self, problem):
        problem = super().prepare(problem)
        self.inputs = {
            torch.device("cuda", i): tuple(
                t.to(f"cuda:{i}") for t in (problem.x, problem.edge_index, problem.edge_weight)
            )
            for i in range(self.n_devices)
        }
        self.nodes = torch.arange(len(problem.ids), device=self.device)
        return problem

    def build_model(self, problem, settings):
        gcn = super().build_model(problem, settings)
        return torch.nn.DataParallel(NodeShare(gcn, self.inputs), device_ids=list(range(self.n_devices)))

    def forward(self, model, problem):
        return model(self.nodes)


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


# After 60 epochs on the tests' toy problem the strategies' predictions (standardised trait)
# differ from serial's by float rounding, ~2e-7 measured; a doubled learning rate moves them by
# ~0.5. The tests and `make gpu-check` hold every strategy to this.
PREDICTION_TOLERANCE = 1e-4

# In the order the report lists them.
STRATEGIES = {cls.name: cls for cls in (Serial, IntraOp, InterOp, DataParallelStrategy, DDP, SNPShard)}
