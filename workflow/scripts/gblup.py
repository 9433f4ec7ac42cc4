from gpgcn.models.gblup import gblup_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    gblup_stage,
    snakemake.input.kinship,
    snakemake.input.split,
    snakemake.output.metrics,
    snakemake.output.predictions,
    list(snakemake.input.snps),
)
