"""Training strategies: each builds the model, splits the work, and runs the shared `fit`.

Same model, data, loss, optimiser and seed everywhere; a strategy only decides where the
computation runs and how it is divided.
"""

import logging
import time
import warnings

import numpy as np
import pandas as pd
import psutil
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .dataset import load_problem
from .distributed import init_process_group
from .io import write_json, write_tsv
from .metrics import accuracy, host_info, versions
from .model import GCN, ChromosomeBranchGCN, SNPShardConv
from .train import Checkpointer, Strategy, TrainSettings, cross_validate, fit_ensemble, seconds_per_epoch

log = logging.getLogger(__name__)


def cuda_device(settings):
    if settings.device != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but this host has no CUDA device (torch.cuda.is_available() is False)")
    return torch.device("cuda", 0)


class Serial(Strategy):
    """The reference: one process on one CPU core, or on one GPU with `train.device: cuda`."""

    is_main = True

    def __init__(self, n_devices, settings):
        if n_devices != 1:
            raise ValueError(f"serial runs on exactly 1 device, not {n_devices}")
        self.n_devices = n_devices
        self.device = cuda_device(settings)
        torch.set_num_threads(1)

    # Timings are only as good as the machine's idleness: measured just before training starts.
    cpu_busy_before = None

    def columns(self, n_snps):
        """The SNP columns this process holds (None: all of them)."""
        return None

    def prepare(self, problem):
        return problem.to(self.device)

    def build_model(self, problem, settings):
        torch.manual_seed(settings.seed)
        return GCN(problem.n_snps, settings.hidden, settings.layers, settings.dropout).to(self.device)

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def info(self):
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if self.device.type == "cuda" else []
        return {
            "device": self.device.type,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "gpus": gpus,
            "cpu_busy_before": self.cpu_busy_before,
        }

    def close(self):
        pass


class IntraOp(Serial):
    """One process, n intra-op threads (a CPU strategy: it ignores train.device)."""

    def __init__(self, n_devices, settings):
        self.n_devices = n_devices
        self.device = torch.device("cpu")
        torch.set_num_threads(n_devices)


# TorchScript is deprecated upstream (torch 2.13) but is what runs jit.fork in parallel.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)


class InterOp(IntraOp):
    """Per-chromosome GCN branches forked over n inter-op threads (TorchScript).

    With one device it runs the same scripted architecture sequentially: its twin baseline.
    """

    def __init__(self, n_devices, settings):
        self.n_devices = n_devices
        self.device = torch.device("cpu")
        torch.set_num_threads(1)
        torch.set_num_interop_threads(n_devices)

    def build_model(self, problem, settings):
        torch.manual_seed(settings.seed)
        model = ChromosomeBranchGCN(
            problem.chrom_sizes, settings.hidden, settings.layers, settings.dropout, parallel=self.n_devices > 1
        )
        return torch.jit.script(model)


class NodeShare(nn.Module):
    """What DataParallel replicates: the GCN over the whole graph, returning only the predictions
    for the node indices scattered to this replica. Each GPU keeps its own copy of the graph
    inputs (looked up by device), so only the indices and parameters travel each step."""

    def __init__(self, gcn, inputs_by_device):
        super().__init__()
        self.gcn = gcn
        self.inputs_by_device = inputs_by_device

    def forward(self, nodes):
        x, edge_index, edge_weight = self.inputs_by_device[nodes.device]
        return self.gcn(x, edge_index, edge_weight)[nodes]


class DataParallelStrategy(Serial):
    """torch.nn.DataParallel over n CUDA GPUs; it never falls back to the CPU."""

    def __init__(self, n_devices, settings):
        available = torch.cuda.device_count()
        if available < n_devices:
            raise RuntimeError(
                f"dataparallel needs {n_devices} CUDA device(s); this host has {available}. "
                "torch.nn.DataParallel without CUDA would silently run on the CPU, so it is not run."
            )
        self.n_devices = n_devices
        self.device = torch.device("cuda", 0)
        torch.set_num_threads(1)

    def prepare(self, problem):
        problem = problem.to(self.device)
        self.inputs = {
            torch.device("cuda", i): tuple(t.to(f"cuda:{i}") for t in (problem.x, problem.edge_index, problem.edge_weight))
            for i in range(self.n_devices)
        }
        self.nodes = torch.arange(len(problem.ids), device=self.device)
        return problem

    def build_model(self, problem, settings):
        gcn = super().build_model(problem, settings)
        return nn.DataParallel(NodeShare(gcn, self.inputs), device_ids=list(range(self.n_devices)))

    def forward(self, model, problem):
        return model(self.nodes)


class DDP(Serial):
    """DistributedDataParallel: every rank runs the whole graph, the loss's nodes are split."""

    def __init__(self, n_devices, settings, **group):
        self.n_devices = n_devices
        torch.set_num_threads(1)
        self.rank = init_process_group(n_devices, settings.device, **group)
        self.device = self.rank.device
        self.is_main = self.rank.rank == 0

    def loss_nodes(self, fit_idx):
        # DDP averages gradients over ranks, so each rank's share is weighted by world/N:
        # the mean of the ranks' gradients is then exactly the serial gradient of the mean loss.
        return fit_idx[self.rank.rank :: self.rank.world_size], self.rank.world_size / len(fit_idx)

    def build_model(self, problem, settings):
        model = super().build_model(problem, settings)
        return DistributedDataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None)

    def info(self):
        return {**super().info(), "backend": dist.get_backend(), "world_size": self.rank.world_size}

    def close(self):
        dist.destroy_process_group()


class SNPShard(DDP):
    """Ours: the first convolution's weight and the genotypes split by SNP columns over ranks.

    Each rank holds 1/n of the genotype matrix and of the dominant weight and computes its
    partial product; the partials are summed with all_reduce and the small rest of the model is
    replicated, its gradients averaged every step so the replicas stay identical.
    """

    def columns(self, n_snps):
        shard = np.array_split(np.arange(n_snps), self.rank.world_size)[self.rank.rank]
        return range(int(shard[0]), int(shard[-1]) + 1)

    def loss_nodes(self, fit_idx):
        return Strategy.loss_nodes(self, fit_idx)

    def build_model(self, problem, settings):
        model = Serial.build_model(self, problem, settings).cpu()
        model.stack.convs[0] = SNPShardConv(model.stack.convs[0], self.columns(problem.n_snps))
        return model.to(self.device)

    def after_backward(self, model):
        sharded = set(model.stack.convs[0].sharded_parameters())
        grads = [p.grad for p in model.parameters() if p not in sharded and p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.rank.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


STRATEGIES = {
    "serial": Serial,
    "intraop": IntraOp,
    "interop": InterOp,
    "dataparallel": DataParallelStrategy,
    "ddp": DDP,
    "snpshard": SNPShard,
}


def node_sets(problem):
    sets = np.full(len(problem.ids), "unlabelled", dtype=object)
    sets[problem.train_idx.cpu().numpy()] = "train"
    sets[problem.test_idx.cpu().numpy()] = "test"
    return sets


def write_training_outputs(outputs, problem, settings, result, strategy, n_devices, run_info, seconds_total):
    predicted = result.predictions * problem.y_sd + problem.y_mean
    sets = node_sets(problem)
    test = sets == "test"
    write_tsv(
        outputs.predictions,
        pd.DataFrame({"ID": problem.ids, "observed": problem.observed, "predicted": predicted, "set": sets}),
        float_format="%.6g",
    )
    write_tsv(outputs.epochs, pd.DataFrame(result.epochs), float_format="%.6g")
    metrics = {
        "strategy": strategy,
        "n_devices": n_devices,
        **accuracy(problem.observed[test], predicted[test]),
        "n_train": int(len(problem.train_idx)),
        "n_test": int(test.sum()),
        "n_snps": int(problem.n_snps),
        "epochs": len(result.epochs),
        "ensemble_members": len(result.best_epochs),
        "best_epochs": result.best_epochs,
        # Each member's r on the fold that also chose its stopping epoch: slightly optimistic.
        "validation_pearson_r_mean": float(np.mean(result.validation_r)),
        "validation_pearson_r_sd": float(np.std(result.validation_r)),
        "seconds_total": seconds_total,
        "seconds_per_epoch_median": seconds_per_epoch(result.epochs, settings.warmup_epochs),
        "seed": settings.seed,
        "settings": vars(settings),
        "versions": versions(),
        **host_info(),
        **run_info,
    }
    write_json(outputs.metrics, metrics)


def train_stage(
    *,
    strategy,
    n_devices,
    matrix_paths,
    accessions_paths,
    graph_path,
    split_path,
    settings,
    self_loop_weight,
    outputs,
    checkpoint_dir=None,
    kinship_path=None,
    matrix_chromosomes=None,
    **group,
):
    """Train one strategy on `n_devices` and write metrics.json, predictions.tsv, epochs.tsv.

    `group` (init_method, rank, world_size) lets tests start process groups without a launcher.
    """
    settings = TrainSettings(**settings)
    runner = STRATEGIES[strategy](n_devices, settings, **group) if group else STRATEGIES[strategy](n_devices, settings)
    try:
        problem = load_problem(
            matrix_paths,
            accessions_paths,
            graph_path,
            split_path,
            features=settings.features,
            self_loop_weight=self_loop_weight,
            shard=runner.columns,
            kinship_path=kinship_path,
            matrix_chromosomes=matrix_chromosomes,
        )
        problem = runner.prepare(problem)
        log.info("%s on %d device(s): %d accessions, %d features", strategy, n_devices, len(problem.ids), problem.n_snps)
        checkpointer = None
        if checkpoint_dir:
            rank = getattr(getattr(runner, "rank", None), "rank", 0)
            checkpointer = Checkpointer(checkpoint_dir, settings.checkpoint_every, rank, (strategy, n_devices, vars(settings)))
        runner.cpu_busy_before = psutil.cpu_percent(interval=1.0) / 100
        start = time.perf_counter()
        result = fit_ensemble(lambda: runner.build_model(problem, settings), problem, settings, runner, checkpointer)
        seconds_total = time.perf_counter() - start
        log.info("%d epochs over %d member(s), best epochs %s", len(result.epochs), len(result.best_epochs), result.best_epochs)
        run_info = {**runner.info(), "self_loop_weight": self_loop_weight}
        if problem.cv_repeats:
            # Published CV repeats: accuracy only, timed apart from the training above.
            scores = cross_validate(lambda: runner.build_model(problem, settings), problem, settings, runner)
            log.info("cross-validated r over %d repeats: %s", len(scores), scores)
            run_info.update(cv_repeats=len(scores), cv_pearson_r_mean=float(np.mean(scores)), cv_pearson_r_sd=float(np.std(scores)))
        if runner.is_main:
            write_training_outputs(outputs, problem, settings, result, strategy, n_devices, run_info, seconds_total)
        if checkpointer:
            checkpointer.clear()
        return result
    finally:
        runner.close()
