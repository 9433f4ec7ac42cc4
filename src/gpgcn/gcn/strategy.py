"""What a training strategy is: where the shared training core (`training.fit`) runs and how its
work is split. Same model, data, loss, optimiser and seed everywhere. A strategy claims its
devices and threads, says which SNP columns this process holds, builds (and wraps) the model,
picks the nodes this process takes the loss on, and may act on gradients before the optimiser
step. The strategies themselves and their one list are in `strategies.py`.
"""

import math

# Snakemake reads the strategies' rule metadata (threads, GPUs, SLURM resources) whenever it
# loads the workflow, dry runs included, and torch with PyTorch Geometric takes seconds to
# import: `import_torch` brings them in when the first strategy is built, in the training
# process alone, and binds them in every strategy module that asked (`lazy_torch`).
LAZY = ("torch", "dist", "init_process_group", "GCN", "ChromosomeBranchGCN", "NodeShare", "SNPShardConv")
torch = dist = init_process_group = GCN = ChromosomeBranchGCN = NodeShare = SNPShardConv = None
_namespaces = [globals()]


def lazy_torch(namespace):
    """Have `import_torch` bind the LAZY names in `namespace` (a strategy module's globals)."""
    _namespaces.append(namespace)


def import_torch():
    import torch
    import torch.distributed as dist

    from .distributed import init_process_group
    from .networks import GCN, ChromosomeBranchGCN, NodeShare, SNPShardConv

    bound = dict(zip(LAZY, (torch, dist, init_process_group, GCN, ChromosomeBranchGCN, NodeShare, SNPShardConv)))
    for namespace in _namespaces:
        namespace.update(bound)


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
