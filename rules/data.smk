ruleorder: index_vcf > fetch_input


rule fetch_input:
    output:
        "resources/{key}/{filename}",
    log:
        "logs/fetch_input/{key}/{filename}.log",
    benchmark:
        "results/benchmarks/fetch_input/{key}/{filename}.tsv"
    wildcard_constraints:
        key="|".join(REMOTE_KEYS),
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=600,
    params:
        url=lambda wildcards: configured_input(wildcards.key),
        checksum=lambda wildcards: config["input"]["checksums"].get(wildcards.key, ""),
    script:
        "../workflow/scripts/fetch_input.py"


rule index_vcf:
    input:
        "resources/vcf/{filename}",
    output:
        "resources/vcf/{filename}.tbi",
    log:
        "logs/index_vcf/{filename}.log",
    benchmark:
        "results/benchmarks/index_vcf/{filename}.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=600,
    script:
        "../workflow/scripts/index_vcf.py"


rule simulate_cohort:
    output:
        vcf="results/cohort/cohort.vcf.gz",
        index="results/cohort/cohort.vcf.gz.tbi",
        samples="results/cohort/study_accessions.txt",
        phenotypes="results/cohort/phenotypes.tsv",
        genetic_values="results/cohort/genetic_values.tsv",
    log:
        "logs/simulate_cohort.log",
    benchmark:
        "results/benchmarks/simulate_cohort.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        chromosomes=CHROMOSOMES,
        traits=TRAITS,
        simulate=config["simulate"],
    script:
        "../workflow/scripts/simulate_cohort.py"


rule subset_vcf:
    input:
        unpack(subset_inputs),
    output:
        temp("results/vcf/{region}.bcf"),
    log:
        "logs/subset_vcf/{region}.log",
    benchmark:
        "results/benchmarks/subset_vcf/{region}.tsv"
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        region=lambda wildcards: REGIONS[wildcards.region].spec,
    script:
        "../workflow/scripts/subset_vcf.py"


# priority: consume each temporary BCF soon after it is written, so few sit on disk at once.
rule genotype_matrix:
    input:
        unpack(genotype_inputs),
    output:
        matrix="results/genotypes/{region}.npy",
        snps="results/genotypes/{region}.snps.tsv",
        accessions="results/genotypes/{region}.accessions.txt",
        # n x n floats per region, summed by rule kinship: 26 MB a region at 1,800 accessions
        grm_share=temp("results/kinship/shares/{region}.npz"),
        funnel="results/genotypes/{region}.funnel.json",
    log:
        "logs/genotype_matrix/{region}.log",
    benchmark:
        "results/benchmarks/genotype_matrix/{region}.tsv"
    priority: 1
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        genotypes=MODE.genotypes,
        filters=config["genotype"],
        region=lambda wildcards: vars(REGIONS[wildcards.region]),
    script:
        "../workflow/scripts/genotype_matrix.py"
