"""A training job as a rule asks for it: one strategy on `n_devices`, its inputs, settings and
outputs. It runs in this process, or as one rank per device (`python -m gpgcn.cli train`), each
rank reading the same job from a JSON file, so outputs and settings are named in one place.
"""

import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field

import psutil

from ..io import file_digest, write_json
from ..records import write_training_outputs
from .checkpoints import Checkpointer
from .distributed import launch_plan
from .problem import load_problem
from .strategies import STRATEGIES
from .training import TrainSettings, fit_ensemble

log = logging.getLogger(__name__)


@dataclass
class TrainJob:
    strategy: str
    n_devices: int
    graph: str
    split: str
    outputs: dict  # metrics, predictions, epochs: the rule's output paths
    log: str
    settings: dict  # the config's `train:` section
    self_loop_weight: float
    matrices: list = field(default_factory=list)  # one dosage matrix per region (mode simulate, vcf)
    accessions: list = field(default_factory=list)  # each matrix's accession order
    matrix_chromosomes: list = field(default_factory=list)  # each matrix's chromosome
    kinship: str | None = None  # mode kinship: features are this matrix's rows
    checkpoint_dir: str | None = None

    @property
    def input_files(self):
        return [*self.matrices, *self.accessions, *([self.kinship] if self.kinship else []), self.graph, self.split]

    def fingerprint(self):
        """Everything that shapes the result: every setting, and every input file's content.
        Not how often checkpoints are written: a resumed run ends as an uninterrupted one."""
        settings = {f"train.{k}": v for k, v in self.settings.items() if k != "checkpoint_every"}
        files = {f"input {path}": file_digest(path) for path in self.input_files}
        return {
            "strategy": self.strategy,
            "n_devices": self.n_devices,
            "self_loop_weight": self.self_loop_weight,
            "matrix_chromosomes": self.matrix_chromosomes,
            **settings,
            **files,
        }

    def rank_log(self, rank):
        return self.log if rank == 0 else f"{self.log}.rank{rank}"

    def save(self, path):
        write_json(path, asdict(self))

    @classmethod
    def read(cls, path):
        with open(path) as handle:
            return cls(**json.load(handle))


def run_train_job(job):
    """Train in this process, or start one rank per device and wait for them."""
    if not STRATEGIES[job.strategy].multiprocess:
        train_stage(job)
        return
    spec = f"{job.log}.job.json"
    job.save(spec)
    try:
        with launch_plan(job.n_devices, ["train", "--job", spec], os.path.dirname(job.log) or ".") as (command, env):
            log.info("starting %d ranks: %s", job.n_devices, " ".join(command))
            with open(job.log, "a") as output:
                status = subprocess.run(command, env=env, stdout=output, stderr=output).returncode
    finally:
        os.unlink(spec)
    if status != 0:
        raise RuntimeError(f"{job.strategy} on {job.n_devices} devices failed (exit status {status}); see {job.log}*")


def train_stage(job, group=None):
    """Train one strategy on `job.n_devices` and write its outputs (from rank 0).

    `group` (init_method, rank, world_size) lets tests start process groups without a launcher.
    """
    settings = TrainSettings(**job.settings)
    strategy = STRATEGIES[job.strategy](job.n_devices, settings, group)
    try:
        problem = load_problem(
            job.matrices,
            job.accessions,
            job.graph,
            job.split,
            features=settings.features,
            self_loop_weight=job.self_loop_weight,
            shard=strategy.columns,
            kinship_path=job.kinship,
            matrix_chromosomes=job.matrix_chromosomes,
        )
        problem = strategy.prepare(problem)
        log.info(
            "%s on %d device(s): %d accessions, %d features",
            job.strategy,
            job.n_devices,
            len(problem.ids),
            problem.n_snps,
        )
        checkpointer = None
        if job.checkpoint_dir:
            checkpointer = Checkpointer(job.checkpoint_dir, settings.checkpoint_every, strategy.rank, job.fingerprint())
        strategy.cpu_busy_before = psutil.cpu_percent(interval=1.0) / 100
        start = time.perf_counter()
        result = fit_ensemble(
            lambda: strategy.build_model(problem, settings), problem, settings, strategy, checkpointer
        )
        seconds_total = time.perf_counter() - start
        log.info(
            "%d epochs over %d member(s), best epochs %s",
            len(result.epochs),
            len(result.best_epochs),
            result.best_epochs,
        )
        if strategy.is_main:
            record = {
                "model": "gcn",
                "strategy": job.strategy,
                "n_devices": job.n_devices,
                "seconds_total": seconds_total,
                "self_loop_weight": job.self_loop_weight,
                **strategy.info(),
            }
            write_training_outputs(job.outputs, problem, settings, result, record)
        if checkpointer:
            checkpointer.clear()
    finally:
        strategy.close()
