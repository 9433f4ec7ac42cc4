"""Command line for the multi-process strategies: `launch` starts one process per device
(torchrun locally, srun inside a SLURM allocation), each of which runs `train`."""

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace

from .stage import run_stage


def train_parser(parser):
    parser.add_argument("--strategy", required=True)
    parser.add_argument("--ndev", type=int, required=True)
    parser.add_argument("--matrices", nargs="*", default=[])
    parser.add_argument("--accessions", nargs="*", default=[])
    parser.add_argument("--matrix-chromosomes", nargs="*", help="the chromosome of each matrix")
    parser.add_argument("--kinship", help="features from this relationship matrix's rows (input mode kinship)")
    parser.add_argument("--graph", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--settings", required=True, help="train settings as JSON")
    parser.add_argument("--self-loop-weight", type=float, required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--checkpoint-dir")
    parser.add_argument("--log-file", required=True)


def train(args):
    from .distributed import environment_rank
    from .strategies import train_stage

    rank = environment_rank()[0]
    outputs = SimpleNamespace(**{k: os.path.join(args.out_dir, f) for k, f in
                                 (("metrics", "metrics.json"), ("predictions", "predictions.tsv"), ("epochs", "epochs.tsv"))})
    run_stage(
        args.log_file if rank == 0 else f"{args.log_file}.rank{rank}",
        train_stage,
        strategy=args.strategy,
        n_devices=args.ndev,
        matrix_paths=args.matrices,
        accessions_paths=args.accessions,
        graph_path=args.graph,
        split_path=args.split,
        settings=json.loads(args.settings),
        self_loop_weight=args.self_loop_weight,
        outputs=outputs,
        checkpoint_dir=args.checkpoint_dir,
        kinship_path=args.kinship,
        matrix_chromosomes=args.matrix_chromosomes,
    )


@dataclass
class SlurmJob:
    job_id: str
    tasks: int
    cpus_per_task: int
    nodelist: str


def slurm_job(environ=os.environ):
    """The SLURM job this process runs in, as scontrol reports it, or None outside SLURM.

    Asked of scontrol because snakemake's SLURM jobstep executor removes SLURM_NTASKS,
    SLURM_JOB_NODELIST and the like from a job's environment, keeping only SLURM_JOB_ID.
    """
    job_id = environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id],
                           capture_output=True, text=True, check=True).stdout
    fields = dict(token.split("=", 1) for token in shown.split() if "=" in token)
    return SlurmJob(job_id, int(fields["NumTasks"]), int(fields.get("CPUs/Task", "1")), fields["NodeList"])


def launch_command(ndev, worker_args, job=None):
    """The command that starts `ndev` ranks of `python -m gpgcn.cli <worker_args>`: srun inside a
    SLURM job with a task per device (on as many nodes as the job has), torchrun elsewhere."""
    worker = [sys.executable, "-m", "gpgcn.cli", *worker_args]
    if job is not None and job.tasks > 1:
        if job.tasks < ndev:
            raise SystemExit(f"SLURM job {job.job_id} has {job.tasks} tasks but {ndev} devices were asked for: "
                             "give the job one task per device (resource `tasks`)")
        return ["srun", f"--ntasks={ndev}", f"--cpus-per-task={job.cpus_per_task}", "--kill-on-bad-exit=1", *worker]
    # One task (e.g. a whole workflow run inside one allocation): its ranks share this node.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ndev}", *worker[1:]]


def slurm_master(job):
    """MASTER_ADDR/MASTER_PORT for srun-started ranks: the job's first node, a port per job."""
    nodes = subprocess.run(["scontrol", "show", "hostnames", job.nodelist],
                           capture_output=True, text=True, check=True).stdout.split()
    return {"MASTER_ADDR": nodes[0], "MASTER_PORT": str(20000 + int(job.job_id) % 20000)}


def launch(args, worker_args):
    job = slurm_job()
    command = launch_command(args.ndev, worker_args, job)
    env = dict(os.environ)
    if command[0] == "srun":
        env.update(slurm_master(job))
    sys.exit(subprocess.run(command, env=env).returncode)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m gpgcn.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser(commands.add_parser("train", help="one rank of a training run"))
    launcher = commands.add_parser("launch", help="start one `train` process per device")
    launcher.add_argument("--ndev", type=int, required=True)
    if argv and argv[0] == "launch":
        split = argv.index("--") if "--" in argv else len(argv)
        args = launcher.parse_args(argv[1:split])
        return launch(args, argv[split + 1 :])
    args = parser.parse_args(argv)
    from .distributed import exit_rank

    train(args)
    exit_rank(0)


if __name__ == "__main__":
    main()
