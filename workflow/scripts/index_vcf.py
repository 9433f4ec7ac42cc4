from gpgcn.data.fetch import index_vcf_stage
from gpgcn.stage import run_stage

run_stage(snakemake.log[0], index_vcf_stage, snakemake.input[0], snakemake.output[0])
