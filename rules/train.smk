# One rule per training strategy (train_serial, train_intraop, ...), each with a device-count
# wildcard {ndev}, generated from the strategy registry (gpgcn.gcn.strategies.STRATEGIES): a strategy
# class says which {ndev} its rule takes, its threads, and the GPUs, SLURM tasks and nodes it asks
# for. Adding a strategy adds its rule.
# Run locally, every training job holds all the timing slots (profiles/default), so it runs
# alone on the machine; on a cluster each has its node to itself instead (profiles/slurm asks
# for --exclusive and gives back the slots).


for strategy in STRATEGIES.values():

    rule:
        name:
            f"train_{strategy.name}"
        input:
            unpack(train_inputs),
        output:
            metrics=f"results/train/{strategy.name}/{{ndev}}/metrics.json",
            predictions=f"results/train/{strategy.name}/{{ndev}}/predictions.tsv",
            epochs=f"results/train/{strategy.name}/{{ndev}}/epochs.tsv",
        log:
            f"logs/train/{strategy.name}/{{ndev}}.log",
        benchmark:
            f"results/benchmarks/train/{strategy.name}/{{ndev}}.tsv"
        wildcard_constraints:
            ndev=strategy.device_counts,
        conda:
            "../envs/gpgcn.yaml"
        threads: per_device_count(strategy.threads)
        resources:
            **TRAIN_RESOURCES,
            **strategy_resources(strategy),
        params:
            strategy=strategy.name,
            settings=config["train"],
            self_loop_weight=config["graph"]["self_loop_weight"],
            matrix_chromosomes=MATRIX_CHROMOSOMES,
            checkpoint_dir=f"results/checkpoints/{strategy.name}/{{ndev}}",
        script:
            "../workflow/scripts/train.py"
