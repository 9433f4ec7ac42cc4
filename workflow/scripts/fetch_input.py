from gpgcn.data.fetch import fetch
from gpgcn.stage import run_stage

run_stage(snakemake.log[0], fetch, snakemake.params.url, snakemake.output[0], snakemake.params.checksum or None)
