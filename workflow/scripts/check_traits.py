from gpgcn.phenotypes import check_traits_stage, split_settings
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    check_traits_stage,
    snakemake.input.phenotypes,
    snakemake.input.accessions,
    snakemake.output[0],
    traits=snakemake.params.traits,
    **split_settings(snakemake.params, snakemake.input),
)
