from gpgcn.genotypes import Filters, write_genotype_matrix
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    write_genotype_matrix,
    snakemake.input[0],
    snakemake.output.matrix,
    snakemake.output.snps,
    snakemake.output.accessions,
    Filters(maf=snakemake.params.maf, max_missing=snakemake.params.max_missing),
)
