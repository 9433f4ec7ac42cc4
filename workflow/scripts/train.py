from gpgcn.gcn.timing_job import TrainJob, run_train_job
from gpgcn.stage import run_stage

job = TrainJob(
    strategy=snakemake.params.strategy,
    n_devices=int(snakemake.wildcards.ndev),
    graph=snakemake.input.graph,
    split=snakemake.input.split,
    matrices=list(snakemake.input.get("matrices", [])),
    accessions=list(snakemake.input.get("accessions", [])),
    kinship=snakemake.input.get("kinship"),
    matrix_chromosomes=snakemake.params.matrix_chromosomes,
    outputs=dict(snakemake.output.items()),
    log=snakemake.log[0],
    settings=snakemake.params.settings,
    self_loop_weight=snakemake.params.self_loop_weight,
    checkpoint_dir=snakemake.params.checkpoint_dir,
)
run_stage(job.log, run_train_job, job)
