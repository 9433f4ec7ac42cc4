from gpgcn.report import report_stage
from gpgcn.stage import run_stage

inputs = snakemake.input
run_stage(
    snakemake.log[0],
    report_stage,
    model_files=[
        *zip(inputs.gcn_metrics, inputs.gcn_predictions),
        (inputs.gblup_metrics, inputs.gblup_predictions),
    ],
    epochs_files=inputs.gcn_epochs,
    snp_tables=inputs.snps,
    funnels=inputs.funnels,
    graph_summary=inputs.graph_summary,
    split_summary=inputs.split_summary,
    outputs=snakemake.output,
    genetic_values_path=inputs.genetic_values[0] if inputs.genetic_values else None,
)
