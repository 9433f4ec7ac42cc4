rule gblup:
    input:
        kinship="results/kinship/grm.tsv",
        split="results/split/split.tsv",
    output:
        metrics="results/baseline/gblup/metrics.json",
        predictions="results/baseline/gblup/predictions.tsv",
    log:
        "logs/gblup.log",
    benchmark:
        "results/benchmarks/gblup.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow/scripts/gblup.py"
