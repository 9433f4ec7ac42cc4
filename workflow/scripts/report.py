from gpgcn.report import report_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
files = list(inputs.model_files)
run_stage(
    snakemake.log[0],
    report_stage,
    traits=snakemake.params.traits,
    model_files=list(zip(files[0::2], files[1::2])),
    epochs_files=inputs.epochs,
    candidate_tables=inputs.candidates,
    snp_tables=inputs.snps,
    funnels=inputs.funnels,
    graph_summary=inputs.graph_summary,
    split_summaries=inputs.split_summaries,
    outputs=snakemake.output,
    genetic_values_path=inputs.genetic_values[0] if inputs.genetic_values else None,
)
