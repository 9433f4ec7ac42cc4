from gpgcn.phenotypes import split_settings, split_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    split_stage,
    snakemake.input.phenotypes,
    snakemake.input.accessions,
    snakemake.output.split,
    snakemake.output.summary,
    trait=snakemake.wildcards.trait,
    **split_settings(snakemake.params, snakemake.input),
)
