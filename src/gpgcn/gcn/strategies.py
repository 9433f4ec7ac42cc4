"""The training strategies and `STRATEGIES`, their one list (`strategy.Strategy` says what a
strategy is; those that run one process per device are in `process_groups.py`).

Each class says what its training rule asks for with n devices (threads, GPUs, SLURM tasks and
nodes, the SLURM profile's resources); the rules are generated from the list, and the config
schema, the SLURM profile and the docs are checked against it.
"""

import warnings

from .process_groups import DDP, SNPShard
from .strategy import Strategy, lazy_torch, training_device

torch = ChromosomeBranchGCN = NodeShare = None  # bound by strategy.import_torch
lazy_torch(globals())


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


# After 60 epochs on the tests' toy problem the strategies' predictions (standardised trait)
# differ from serial's by float rounding, ~2e-7 measured; a doubled learning rate moves them by
# ~0.5. The tests and `make gpu-check` hold every strategy to this.
PREDICTION_TOLERANCE = 1e-4

# In the order the report lists them.
STRATEGIES = {cls.name: cls for cls in (Serial, IntraOp, InterOp, DataParallelStrategy, DDP, SNPShard)}
