rule split:
    input:
        phenotypes=cohort_files()["phenotypes"],
        accessions=accession_lists(),
        test_ids=optional_input("test_ids"),
        cv_folds=optional_input("cv_folds_file"),
    output:
        split="results/split/split.tsv",
        summary="results/split/summary.json",
    log:
        "logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        trait=config["input"]["trait"],
        id_column=config["input"]["id_column"],
        test_fraction=config["split"]["test_fraction"],
        folds=config["split"]["folds"],
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/split.py"
