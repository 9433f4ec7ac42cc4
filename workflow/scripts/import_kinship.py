from gpgcn.data.kinship import import_kinship_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    import_kinship_stage,
    snakemake.input[0],
    snakemake.output.kinship,
    snakemake.output.accessions,
)
