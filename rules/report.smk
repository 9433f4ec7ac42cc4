STRATEGY_RUNS = [
    f"results/train/{strategy}/{ndev}"
    for strategy, counts in config["strategies"].items()
    for ndev in counts
]


rule aggregate_timings:
    input:
        runs=[
            f"{run}/{name}"
            for run in STRATEGY_RUNS
            for name in ("metrics.json", "predictions.tsv", "epochs.tsv")
        ],
        reference=MODEL_FILES[TIMED_TRAIT][REFERENCE]["metrics"],
    output:
        timings=reported(
            "results/summary/timings.tsv",
            caption="../report/timings.rst",
            category="Scaling",
        ),
        speedup=reported(
            "results/plots/speedup.png",
            caption="../report/speedup.rst",
            category="Scaling",
        ),
        efficiency=reported(
            "results/plots/efficiency.png",
            caption="../report/efficiency.rst",
            category="Scaling",
        ),
        accuracy=reported(
            "results/plots/accuracy_by_strategy.png",
            caption="../report/accuracy_by_strategy.rst",
            category="Scaling",
        ),
        summary=reported(
            "results/summary/scaling.html",
            caption="../report/scaling.rst",
            category="Scaling",
        ),
    log:
        "logs/aggregate_timings.log",
    benchmark:
        "results/benchmarks/aggregate_timings.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        run_dirs=STRATEGY_RUNS,
        planned=config["strategies"],
    script:
        "../workflow/scripts/aggregate_timings.py"


rule report:
    input:
        model_files=[
            path
            for models in MODEL_FILES.values()
            for files in models.values()
            for path in files.values()
        ],
        tables=expand("results/predictions/{trait}.tsv", trait=TRAITS),
        snps=(
            [] if not GENOTYPED else per_region("results/genotypes/{region}.snps.tsv")
        ),
        funnels=(
            []
            if not GENOTYPED
            else per_region("results/genotypes/{region}.funnel.json")
        ),
        graph_summary="results/graph/summary.json",
        split_summaries=expand("results/split/{trait}/summary.json", trait=TRAITS),
        genetic_values=(["results/cohort/genetic_values.tsv"] if SIMULATED else []),
    output:
        accuracy=reported(
            "results/summary/accuracy.tsv",
            caption="../report/accuracy.rst",
            category="Accuracy",
        ),
        by_trait=reported(
            "results/plots/accuracy_by_trait.png",
            caption="../report/accuracy_by_trait.rst",
            category="Accuracy",
        ),
        loci=reported(
            "results/summary/loci.tsv",
            caption="../report/loci.rst",
            category="Accuracy",
        ),
        variance_components=reported(
            "results/summary/variance_components.tsv",
            caption="../report/variance_components.rst",
            category="Accuracy",
        ),
        model_choice=reported(
            "results/summary/model_choice.tsv",
            caption="../report/model_choice.rst",
            category="Accuracy",
        ),
        scatter=reported(
            "results/plots/predicted_vs_observed.png",
            caption="../report/predicted_vs_observed.rst",
            category="Accuracy",
        ),
        learning_curves=reported(
            "results/plots/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Training",
        ),
        data=reported(
            "results/summary/data.tsv",
            caption="../report/data.rst",
            category="Data",
        ),
    log:
        "logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        # Keeps it off the machine while a strategy is timed (profiles/default).
        timing_slot=1,
    params:
        traits=TRAITS,
        model_files=MODEL_FILES,
        study=STUDY,
    script:
        "../workflow/scripts/report.py"
