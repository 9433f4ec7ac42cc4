from gpgcn.data.kinship import kinship_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    kinship_stage,
    snakemake.input.shares,
    snakemake.input.accessions,
    snakemake.input.funnels,
    snakemake.output[0],
)
