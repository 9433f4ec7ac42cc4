rule split:
    input:
        phenotypes=cohort_files()["phenotypes"],
        accessions=per_chromosome("results/genotypes/{chrom}.accessions.txt"),
    output:
        split="results/split/split.tsv",
        summary="results/split/summary.json",
    params:
        trait=config["input"]["trait"],
        id_column=config["input"]["id_column"],
        test_fraction=config["split"]["test_fraction"],
        folds=config["split"]["folds"],
        seed=config["split"]["seed"],
    log:
        "logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/gpgcn.yaml"
    script:
        "../workflow/scripts/split.py"
