from gpgcn.phenotypes import split_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    split_stage,
    snakemake.input.phenotypes,
    snakemake.input.accessions,
    snakemake.output.split,
    snakemake.output.summary,
    trait=snakemake.params.trait,
    id_column=snakemake.params.id_column or None,
    test_fraction=snakemake.params.test_fraction,
    n_folds=snakemake.params.folds,
    seed=snakemake.params.seed,
)
