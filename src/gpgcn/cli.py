"""Training jobs outside Snakemake's script runner, from a job file (`TrainJob.save`):

    python -m gpgcn.cli run --job JOB.json     the whole job: in this process, or one rank per device
    python -m gpgcn.cli train --job JOB.json   one rank of a multi-process job (what `run` starts)

`run` starts the ranks with torchrun, or with srun inside a SLURM job; each reads the same job
file and joins the process group.
"""

import argparse

from .gcn.distributed import environment_rank, exit_rank
from .gcn.timing_job import TrainJob, run_train_job, train_stage
from .stage import run_stage


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gpgcn.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, what in (("run", "a whole training job"), ("train", "one rank of a multi-process training job")):
        commands.add_parser(name, help=what).add_argument("--job", required=True, help="a job file (TrainJob.save)")
    args = parser.parse_args(argv)
    job = TrainJob.read(args.job)
    if args.command == "run":
        run_stage(job.log, run_train_job, job)
        return
    run_stage(job.rank_log(environment_rank()[0]), train_stage, job)
    exit_rank(0)


if __name__ == "__main__":
    main()
