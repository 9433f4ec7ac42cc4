from gpgcn.models.job import trait_models_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    trait_models_stage,
    problem_files={
        "matrix_paths": list(inputs.get("markers", [])),
        "accessions_paths": list(inputs.get("accessions", [])),
        "matrix_chromosomes": snakemake.params.matrix_chromosomes,
        "split_path": inputs.split,
    },
    grm_path=inputs.grm,
    marker_files={
        "matrix_paths": list(inputs.get("markers", [])),
        "snps_paths": list(inputs.get("marker_sites", [])),
    },
    trait=snakemake.wildcards.trait,
    train=snakemake.params.train,
    graph=snakemake.params.graph,
    select=snakemake.params.select,
    outputs=dict(snakemake.output.items()),
)
