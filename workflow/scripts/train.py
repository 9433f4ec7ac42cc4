from gpgcn.stage import run_stage
from gpgcn.strategies import train_stage

run_stage(
    snakemake.log[0],
    train_stage,
    strategy=snakemake.rule.removeprefix("train_"),
    n_devices=int(snakemake.wildcards.ndev),
    matrix_paths=snakemake.input.get("matrices", []),
    accessions_paths=snakemake.input.get("accessions", []),
    kinship_path=snakemake.input.get("kinship"),
    matrix_chromosomes=snakemake.params.matrix_chromosomes,
    graph_path=snakemake.input.graph,
    split_path=snakemake.input.split,
    settings=snakemake.params.settings,
    self_loop_weight=snakemake.params.self_loop_weight,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    outputs=snakemake.output,
)
