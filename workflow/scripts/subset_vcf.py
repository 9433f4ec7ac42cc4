from gpgcn.data.vcf import subset_vcf
from gpgcn.stage import run_stage

run_stage(
    snakemake.log[0],
    subset_vcf,
    snakemake.input.vcf,
    snakemake.input.get("samples"),
    snakemake.params.region,
    snakemake.output[0],
    threads=snakemake.threads,
)
