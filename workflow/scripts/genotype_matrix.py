from gpgcn.data.genotypes import Filters
from gpgcn.data.regions import Region, genotype_region_stage
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    genotype_region_stage,
    snakemake.params.genotypes,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    Filters(**snakemake.params.filters),
    Region(**snakemake.params.region),
)
