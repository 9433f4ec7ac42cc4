if not GENOTYPED:

    rule import_kinship:
        input:
            input_path("kinship"),
        output:
            kinship="results/kinship/grm.tsv",
            accessions="results/kinship/accessions.txt",
        log:
            "logs/import_kinship.log",
        benchmark:
            "results/benchmarks/import_kinship.tsv"
        conda:
            "../envs/gpgcn.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../workflow/scripts/import_kinship.py"

else:

    rule kinship:
        input:
            shares=per_region("results/kinship/shares/{region}.npz"),
            accessions=per_region("results/genotypes/{region}.accessions.txt"),
            funnels=per_region("results/genotypes/{region}.funnel.json"),
        output:
            "results/kinship/grm.tsv",
        log:
            "logs/kinship.log",
        benchmark:
            "results/benchmarks/kinship.tsv"
        conda:
            "../envs/gpgcn.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        script:
            "../workflow/scripts/kinship.py"


rule kinship_graph:
    input:
        "results/kinship/grm.tsv",
    output:
        graph="results/graph/knn_graph.tsv",
        summary="results/graph/summary.json",
    log:
        "logs/kinship_graph.log",
    benchmark:
        "results/benchmarks/kinship_graph.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        k=config["graph"]["k"],
    script:
        "../workflow/scripts/kinship_graph.py"
