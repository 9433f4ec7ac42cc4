from gpgcn.data.simulate import simulate_cohort
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    simulate_cohort,
    snakemake.output.vcf,
    snakemake.output.samples,
    snakemake.output.phenotypes,
    snakemake.output.genetic_values,
    chromosomes=snakemake.params.chromosomes,
    traits=snakemake.params.traits,
    **snakemake.params.simulate,
)
