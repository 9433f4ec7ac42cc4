from gpgcn.data.phenotypes import split_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    split_stage,
    inputs.phenotypes,
    inputs.accessions,
    snakemake.output.split,
    snakemake.output.summary,
    trait=snakemake.wildcards.trait,
    test_ids_path=inputs.test_ids[0] if inputs.test_ids else None,
    cv_folds_path=inputs.cv_folds[0] if inputs.cv_folds else None,
    **dict(snakemake.params.items()),
)
