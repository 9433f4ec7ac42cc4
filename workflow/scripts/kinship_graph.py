from gpgcn.data.graph import graph_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    graph_stage,
    snakemake.input[0],
    snakemake.output.graph,
    snakemake.output.summary,
    k=snakemake.params.k,
)
