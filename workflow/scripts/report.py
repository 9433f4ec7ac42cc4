from gpgcn.report.summary import report_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    report_stage,
    traits=snakemake.params.traits,
    model_files=snakemake.params.model_files,
    snp_tables=inputs.snps,
    funnels=inputs.funnels,
    graph_summary=inputs.graph_summary,
    split_summaries=inputs.split_summaries,
    outputs=dict(snakemake.output.items()),
    genetic_values_path=inputs.genetic_values[0] if inputs.genetic_values else None,
    study=snakemake.params.study,
)
