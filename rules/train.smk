rule train_serial:
    input:
        matrices=per_chromosome("results/genotypes/{chrom}.npy"),
        accessions=per_chromosome("results/genotypes/{chrom}.accessions.txt"),
        graph="results/graph/knn_graph.tsv",
        split="results/split/split.tsv",
    output:
        metrics="results/train/serial/{ndev}/metrics.json",
        predictions="results/train/serial/{ndev}/predictions.tsv",
        epochs="results/train/serial/{ndev}/epochs.tsv",
    log:
        "logs/train/serial/{ndev}.log",
    benchmark:
        "results/benchmarks/train/serial/{ndev}.tsv"
    wildcard_constraints:
        ndev="1",
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
    script:
        "../workflow/scripts/train.py"
