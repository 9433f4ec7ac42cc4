from gpgcn.report.speedups import aggregate_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    aggregate_stage,
    run_dirs=snakemake.params.run_dirs,
    planned=snakemake.params.planned,
    reference_metrics_path=snakemake.input.reference,
    outputs=dict(snakemake.output.items()),
)
