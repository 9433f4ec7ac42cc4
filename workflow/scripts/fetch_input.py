from gpgcn.fetch import fetch_stage
from gpgcn.stage import run_stage

run_stage(snakemake.log[0], fetch_stage, snakemake.params.url, snakemake.output[0], snakemake.params.checksum or None)
