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
    test_ids_path=snakemake.input.test_ids[0] if snakemake.input.test_ids else None,
    cv_folds_path=snakemake.input.cv_folds[0] if snakemake.input.cv_folds else None,
)
