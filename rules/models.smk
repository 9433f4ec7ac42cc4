# Per trait, a share of the outer folds of its cross-validation (split.cv_jobs shares): every
# model of the registry fitted in each on the other folds, every choice made anew there.
rule cross_validate:
    input:
        unpack(model_inputs),
    output:
        "results/models/{trait}/cv/part_{part}.json",
    log:
        "logs/models/{trait}/cross_validate_{part}.log",
    benchmark:
        "results/benchmarks/models/{trait}/cross_validate_{part}.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: threads_per_trait(len(CV_JOBS))
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        # Keeps it off the machine while a strategy is timed (profiles/default).
        timing_slot=1,
    params:
        settings=model_settings(config),
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        parts=len(CV_JOBS),
    script:
        "../workflow/scripts/cross_validate.py"


# Per trait: every model of the registry (src/gpgcn/models/__init__.py): GBLUP, RKHS, GBLUP +
# loci, the GCN with its settings chosen by cross-validation inside the training accessions, and
# the stack of them all (the recommended model), their CV gathered from the trait's CV jobs;
# every accession's prediction from the recommended model.
rule trait_models:
    input:
        unpack(model_inputs),
        cv_parts=cv_parts,
    output:
        **TRAIT_MODEL_OUTPUTS,
        cv_predictions=reported(
            f"results/models/{{trait}}/{RECOMMENDED}/cv_predictions.tsv",
            caption="../report/cv_predictions.rst",
            category="Accuracy",
            labels={"trait": "{trait}", "table": "CV predictions"},
        ),
        table=reported(
            "results/predictions/{trait}.tsv",
            caption="../report/predictions.rst",
            category="Predictions",
            labels={"trait": "{trait}", "table": "predictions"},
        ),
    log:
        "logs/models/{trait}/trait_models.log",
    benchmark:
        "results/benchmarks/models/{trait}/trait_models.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: threads_per_trait()
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        # Keeps it off the machine while a strategy is timed (profiles/default).
        timing_slot=1,
    params:
        settings=model_settings(config),
        matrix_chromosomes=MATRIX_CHROMOSOMES,
    script:
        "../workflow/scripts/trait_models.py"
