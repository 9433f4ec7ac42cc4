from gpgcn.models.inputs import job_files
from gpgcn.models.job import trait_models_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    trait_models_stage,
    files=job_files(snakemake.wildcards.trait, snakemake.input, snakemake.params.matrix_chromosomes),
    settings=snakemake.params.settings,
    outputs=dict(snakemake.output.items()),
    threads=snakemake.threads,
    cv_parts=list(snakemake.input.cv_parts),
)
