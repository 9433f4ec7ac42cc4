from gpgcn.models.job import trait_models_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    trait_models_stage,
    files={
        "trait": snakemake.wildcards.trait,
        "split_path": inputs.split,
        "grm_path": inputs.grm,
        "matrix_paths": list(inputs.get("markers", [])),
        "snps_paths": list(inputs.get("marker_sites", [])),
        "accessions_paths": list(inputs.get("accessions", [])),
        "matrix_chromosomes": snakemake.params.matrix_chromosomes,
    },
    settings=snakemake.params.settings,
    outputs=dict(snakemake.output.items()),
    threads=snakemake.threads,
)
