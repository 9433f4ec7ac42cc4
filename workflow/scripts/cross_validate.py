from gpgcn.models.cross_validation import cross_validation_stage
from gpgcn.models.inputs import job_files
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    cross_validation_stage,
    files=job_files(snakemake.wildcards.trait, snakemake.input, snakemake.params.matrix_chromosomes),
    settings=snakemake.params.settings,
    part=int(snakemake.wildcards.part),
    parts=snakemake.params.parts,
    output=snakemake.output[0],
    threads=snakemake.threads,
)
