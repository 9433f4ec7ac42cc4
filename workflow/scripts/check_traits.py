from gpgcn.data.phenotypes import check_traits_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    check_traits_stage,
    inputs.phenotypes,
    {key: inputs[key] for key in ("vcf", "bed", "samples", "accessions") if key in inputs.keys()},
    snakemake.output[0],
    test_ids_path=inputs.test_ids[0] if inputs.test_ids else None,
    cv_folds_path=inputs.cv_folds[0] if inputs.cv_folds else None,
    **dict(snakemake.params.items()),
)
