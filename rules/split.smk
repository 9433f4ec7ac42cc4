# Every trait is checked before any is split or trained on, and before the data stage starts
# (its jobs wait for this one): one bad trait stops the run.
rule check_traits:
    input:
        unpack(check_inputs),
    output:
        "results/split/traits.json",
    log:
        "logs/check_traits.log",
    benchmark:
        "results/benchmarks/check_traits.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        **SPLIT_SETTINGS,
        traits=TRAITS,
        genotypes=MODE.genotypes,
    script:
        "../workflow/scripts/check_traits.py"


rule split:
    input:
        unpack(split_inputs),
        checked="results/split/traits.json",
    output:
        split="results/split/{trait}/split.tsv",
        summary="results/split/{trait}/summary.json",
    log:
        "logs/split/{trait}.log",
    benchmark:
        "results/benchmarks/split/{trait}.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        # Keeps it off the machine while a strategy is timed (profiles/default).
        timing_slot=1,
    params:
        **SPLIT_SETTINGS,
    script:
        "../workflow/scripts/split.py"
