# One rule per training strategy, each with a device-count wildcard {ndev}. They share the
# inputs, the training core and the outputs' shape; only how the work is split differs.
# Run locally, every training job holds the one `timing_slot` (profiles/default), so no two
# timed jobs share a machine; on a cluster each has its node to itself instead (profiles/slurm
# asks for --exclusive and gives back the slot).


rule train_serial:
    input:
        unpack(train_inputs),
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
        runtime=120,
        timing_slot=1,
        gpu=1 if config["train"]["device"] == "cuda" else 0,
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        checkpoint_dir="results/checkpoints/serial/{ndev}",
    script:
        "../workflow/scripts/train.py"


use rule train_serial as train_intraop with:
    output:
        metrics="results/train/intraop/{ndev}/metrics.json",
        predictions="results/train/intraop/{ndev}/predictions.tsv",
        epochs="results/train/intraop/{ndev}/epochs.tsv",
    log:
        "logs/train/intraop/{ndev}.log",
    benchmark:
        "results/benchmarks/train/intraop/{ndev}.tsv"
    wildcard_constraints:
        ndev=r"\d+",
    threads: ndev_threads
    resources:
        mem_mb=4000,
        runtime=120,
        timing_slot=1,
        gpu=0,
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        checkpoint_dir="results/checkpoints/intraop/{ndev}",


use rule train_intraop as train_interop with:
    output:
        metrics="results/train/interop/{ndev}/metrics.json",
        predictions="results/train/interop/{ndev}/predictions.tsv",
        epochs="results/train/interop/{ndev}/epochs.tsv",
    log:
        "logs/train/interop/{ndev}.log",
    benchmark:
        "results/benchmarks/train/interop/{ndev}.tsv"
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        checkpoint_dir="results/checkpoints/interop/{ndev}",


use rule train_intraop as train_dataparallel with:
    output:
        metrics="results/train/dataparallel/{ndev}/metrics.json",
        predictions="results/train/dataparallel/{ndev}/predictions.tsv",
        epochs="results/train/dataparallel/{ndev}/epochs.tsv",
    log:
        "logs/train/dataparallel/{ndev}.log",
    benchmark:
        "results/benchmarks/train/dataparallel/{ndev}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        timing_slot=1,
        gpu=ndev_threads,
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        checkpoint_dir="results/checkpoints/dataparallel/{ndev}",


# Multi-process strategies: `gpgcn.cli launch` starts one rank per device with torchrun, or
# with srun inside a SLURM allocation (rank, world size and master address from SLURM).
rule train_ddp:
    input:
        unpack(train_inputs),
    output:
        metrics="results/train/ddp/{ndev}/metrics.json",
        predictions="results/train/ddp/{ndev}/predictions.tsv",
        epochs="results/train/ddp/{ndev}/epochs.tsv",
    log:
        "logs/train/ddp/{ndev}.log",
    benchmark:
        "results/benchmarks/train/ddp/{ndev}.tsv"
    wildcard_constraints:
        ndev=r"\d+",
    conda:
        "../envs/gpgcn.yaml"
    threads: ndev_threads
    resources:
        mem_mb=4000,
        runtime=120,
        timing_slot=1,
        tasks=ndev_threads,
        nodes=nodes_for_devices,
        gpu=lambda wildcards: (
            int(wildcards.ndev) if config["train"]["device"] == "cuda" else 0
        ),
    params:
        python=sys.executable,
        settings=lambda wildcards: json.dumps(config["train"]),
        self_loop_weight=config["graph"]["self_loop_weight"],
        checkpoint_dir="results/checkpoints/ddp/{ndev}",
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        features=feature_arguments,
        strategy="ddp",
    shell:
        "{params.python} -m gpgcn.cli launch --ndev {wildcards.ndev} --"
        " train --strategy {params.strategy} --ndev {wildcards.ndev}"
        " {params.features}"
        " --graph {input.graph} --split {input.split}"
        " --settings {params.settings:q} --self-loop-weight {params.self_loop_weight}"
        " --out-dir {params.out_dir} --checkpoint-dir {params.checkpoint_dir}"
        " --log-file {log} 2>> {log}"


use rule train_ddp as train_snpshard with:
    output:
        metrics="results/train/snpshard/{ndev}/metrics.json",
        predictions="results/train/snpshard/{ndev}/predictions.tsv",
        epochs="results/train/snpshard/{ndev}/epochs.tsv",
    log:
        "logs/train/snpshard/{ndev}.log",
    benchmark:
        "results/benchmarks/train/snpshard/{ndev}.tsv"
    params:
        python=sys.executable,
        settings=lambda wildcards: json.dumps(config["train"]),
        self_loop_weight=config["graph"]["self_loop_weight"],
        checkpoint_dir="results/checkpoints/snpshard/{ndev}",
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        features=feature_arguments,
        strategy="snpshard",
