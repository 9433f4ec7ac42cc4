rule gblup:
    input:
        kinship="results/kinship/grm.tsv",
        split="results/split/{trait}/split.tsv",
        # how many SNPs the kinship holds (none where it was given)
        snps=per_region("results/genotypes/{region}.snps.tsv") if GENOTYPED else [],
    output:
        metrics="results/models/{trait}/gblup/metrics.json",
        predictions="results/models/{trait}/gblup/predictions.tsv",
    log:
        "logs/models/{trait}/gblup.log",
    benchmark:
        "results/benchmarks/models/{trait}/gblup.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        # Keeps it off the machine while a strategy is timed (profiles/default).
        timing_slot=1,
    script:
        "../workflow/scripts/gblup.py"
