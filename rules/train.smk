# One rule per training strategy, each with a device-count wildcard {ndev}: one template (inputs,
# outputs, script, params), and each strategy's rule overrides only what differs: the wildcard
# values it takes, its threads, and the GPUs, tasks and nodes it asks for. The strategy itself
# comes from the {strategy} wildcard.
# Run locally, every training job holds all the timing slots (profiles/default), so it runs
# alone on the machine; on a cluster each has its node to itself instead (profiles/slurm asks
# for --exclusive and gives back the slots).


rule train_serial:
    input:
        unpack(train_inputs),
    output:
        metrics="results/train/{strategy}/{ndev}/metrics.json",
        predictions="results/train/{strategy}/{ndev}/predictions.tsv",
        epochs="results/train/{strategy}/{ndev}/epochs.tsv",
    log:
        "logs/train/{strategy}/{ndev}.log",
    benchmark:
        "results/benchmarks/train/{strategy}/{ndev}.tsv"
    wildcard_constraints:
        strategy="serial",
        ndev="1",
    conda:
        "../envs/gpgcn.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
        gpu=gpus_with_cuda,
    params:
        settings=config["train"],
        self_loop_weight=config["graph"]["self_loop_weight"],
        matrix_chromosomes=MATRIX_CHROMOSOMES,
        checkpoint_dir="results/checkpoints/{strategy}/{ndev}",
    script:
        "../workflow/scripts/train.py"


# n threads of one process: intra-op threads on the CPU; inter-op threads forking per-chromosome
# branches, on the CPU or one GPU.
use rule train_serial as train_intraop with:
    wildcard_constraints:
        strategy="intraop",
        ndev=r"\d+",
    threads: ndev_threads
    resources:
        **TRAIN_RESOURCES,
        gpu=0,


use rule train_intraop as train_interop with:
    wildcard_constraints:
        strategy="interop",
        ndev=r"\d+",
    resources:
        **TRAIN_RESOURCES,
        gpu=one_gpu_with_cuda,


# One process driving n GPUs.
use rule train_serial as train_dataparallel with:
    wildcard_constraints:
        strategy="dataparallel",
        ndev=r"\d+",
    resources:
        **TRAIN_RESOURCES,
        gpu=ndev_threads,


# One rank per device, started by the job with torchrun, or with srun inside a SLURM job.
use rule train_serial as train_ddp with:
    wildcard_constraints:
        strategy="ddp",
        ndev=r"\d+",
    threads: ndev_threads
    resources:
        **TRAIN_RESOURCES,
        gpu=gpus_with_cuda,
        tasks=ndev_threads,
        nodes=nodes_for_devices,


use rule train_ddp as train_snpshard with:
    wildcard_constraints:
        strategy="snpshard",
        ndev=r"\d+",
