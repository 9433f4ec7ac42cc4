from gpgcn.genotypes import Filters
from gpgcn.regions import genotype_region_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    genotype_region_stage,
    snakemake.input[0],
    dict(snakemake.output.items()),
    Filters(
        maf=snakemake.params.maf,
        max_missing=snakemake.params.max_missing,
        ld_prune_r2=snakemake.params.ld_prune_r2,
        ld_window=snakemake.params.ld_window,
    ),
    region=snakemake.wildcards.region,
)
