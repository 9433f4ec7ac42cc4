"""Every strategy trains the same model as serial: same first update, same predictions."""

import uuid

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from gpgcn.gcn.checkpoints import Checkpointer
from gpgcn.gcn.distributed import exit_rank
from gpgcn.gcn.strategies import PREDICTION_TOLERANCE, STRATEGIES, DataParallelStrategy, InterOp, IntraOp, Serial
from gpgcn.gcn.training import fit, fit_ensemble

from helpers import train_settings
from toy import toy_problem

# Two processes that lose each other hang rather than fail: stop them long before CI's limit.
pytestmark = pytest.mark.timeout(300)

SETTINGS = dict(hidden=16, dropout=0.2, lr=0.005, weight_decay=1e-4, patience=1000, ensemble=False)


def run_local(strategy_class, n_devices, epochs, **overrides):
    settings = train_settings(**{**SETTINGS, "max_epochs": epochs, **overrides})
    runner = strategy_class(n_devices, settings)
    problem = runner.prepare(toy_problem())
    model = runner.build_model(problem, settings)
    pred = fit(model, problem, settings, runner, val_fold=1)[0].best_pred
    return model, pred


def distributed_worker(rank, world, name, epochs, init_file, out_dir, overrides):
    settings = train_settings(**{**SETTINGS, "max_epochs": epochs, **overrides})
    group = {"init_method": f"file://{init_file}", "rank": rank, "world_size": world}
    runner = STRATEGIES[name](world, settings, group)
    problem = toy_problem()
    columns = runner.columns(problem.n_snps)
    if columns is not None:
        problem.x = problem.x[:, columns.start : columns.stop].contiguous()
    problem = runner.prepare(problem)
    model = runner.build_model(problem, settings)
    pred = fit(model, problem, settings, runner, val_fold=1)[0].best_pred
    torch.save({"state": model.state_dict(), "pred": pred, "columns": columns}, f"{out_dir}/rank{rank}.pt")
    runner.close()
    exit_rank(0)


def run_distributed(tmp_path, name, epochs, world=2, **overrides):
    # A fresh rendezvous file per process group: a used one would confuse the next group.
    init_file = tmp_path / f"init.{uuid.uuid4().hex}"
    mp.spawn(distributed_worker, args=(world, name, epochs, init_file, tmp_path, overrides), nprocs=world)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world)]


def serial_state(epochs, **overrides):
    model, pred = run_local(Serial, 1, epochs, **overrides)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, pred


def assert_same_predictions(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=PREDICTION_TOLERANCE)


def test_the_tolerance_tells_a_doubled_learning_rate_apart():
    _, reference = serial_state(60)
    _, doubled = serial_state(60, lr=2 * SETTINGS["lr"])
    with pytest.raises(AssertionError):
        assert_same_predictions(doubled, reference)


def assert_same_parameters(expected, actual):
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-6, msg=key)


def test_ddp_first_update_and_predictions_match_serial(tmp_path):
    serial_first, _ = serial_state(1)
    ranks = run_distributed(tmp_path, "ddp", 1)
    for rank in ranks:
        assert_same_parameters(serial_first, {k.removeprefix("module."): v for k, v in rank["state"].items()})
    _, serial_pred = serial_state(60)
    ranks = run_distributed(tmp_path, "ddp", 60)
    assert_same_predictions(ranks[0]["pred"], serial_pred)
    np.testing.assert_array_equal(ranks[0]["pred"], ranks[1]["pred"])


def gathered_snpshard_state(ranks):
    """The full model's parameters, reassembled from the ranks' column shards."""
    state = {k: v for k, v in ranks[0]["state"].items() if "convs.0" not in k}
    state["stack.convs.0.lin.weight"] = torch.cat([r["state"]["stack.convs.0.conv.lin.weight"] for r in ranks], dim=1)
    state["stack.convs.0.bias"] = ranks[0]["state"]["stack.convs.0.bias"]
    return state


def test_snpshard_first_update_and_predictions_match_serial(tmp_path):
    serial_first, _ = serial_state(1)
    ranks = run_distributed(tmp_path, "snpshard", 1)
    assert [r["columns"] for r in ranks] == [range(0, 15), range(15, 30)]
    assert_same_parameters(serial_first, gathered_snpshard_state(ranks))
    _, serial_pred = serial_state(60)
    ranks = run_distributed(tmp_path, "snpshard", 60)
    assert_same_predictions(ranks[0]["pred"], serial_pred)
    # The replicated part of the model stays identical on every rank.
    for key, value in ranks[0]["state"].items():
        if "convs.0.conv" not in key:
            torch.testing.assert_close(ranks[1]["state"][key], value, rtol=0, atol=0, msg=key)


def test_intraop_matches_serial():
    serial_first, _ = serial_state(1)
    model, _ = run_local(IntraOp, 2, 1)
    assert_same_parameters(serial_first, model.state_dict())
    _, serial_pred = serial_state(60)
    _, pred = run_local(IntraOp, 2, 60)
    assert_same_predictions(pred, serial_pred)
    torch.set_num_threads(1)


def interop_worker(_, n_devices, epochs, out):
    model, pred = run_local(InterOp, n_devices, epochs)
    torch.save({"state": model.state_dict(), "pred": pred, "branches": len(model.branches)}, out)


def run_interop(tmp_path, n_devices, epochs):
    """In a fresh process: the inter-op pool's size can be set once per process only."""
    out = tmp_path / f"interop{n_devices}.{epochs}.pt"
    mp.spawn(interop_worker, args=(n_devices, epochs, out), nprocs=1)
    return torch.load(out, weights_only=False)


def test_interop_matches_its_sequential_twin_with_dropout(tmp_path):
    # Every branch's dropout masks are drawn before the fork, in branch order: same seed, same model.
    twin, forked = run_interop(tmp_path, 1, 1), run_interop(tmp_path, 2, 1)
    assert_same_parameters(twin["state"], forked["state"])
    assert forked["branches"] == 3
    twin, forked = run_interop(tmp_path, 1, 60), run_interop(tmp_path, 2, 60)
    np.testing.assert_allclose(forked["pred"], twin["pred"], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_dataparallel_refuses_to_run_without_cuda():
    with pytest.raises(RuntimeError, match="dataparallel needs 2 CUDA device"):
        DataParallelStrategy(2, train_settings())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("strategy", [Serial, InterOp])
def test_a_cuda_strategy_refuses_without_cuda(strategy):
    with pytest.raises(RuntimeError, match="no CUDA device"):
        strategy(1, train_settings(device="cuda"))


class Killed(Exception):
    pass


class KilledAt(Serial):
    """Serial training that dies after `epochs` optimiser steps, like a job killed mid-run."""

    def __init__(self, epochs):
        super().__init__(1, train_settings())
        self.left = epochs

    def after_backward(self, model):
        self.left -= 1
        if self.left < 0:
            raise Killed()


class CountingSteps(Serial):
    """Serial training that counts its optimiser steps."""

    def __init__(self):
        super().__init__(1, train_settings())
        self.steps = 0

    def after_backward(self, model):
        self.steps += 1


def test_killed_training_resumes_to_the_same_result(tmp_path):
    settings = train_settings(**{**SETTINGS, "max_epochs": 40, "ensemble": True, "checkpoint_every": 5})
    problem = toy_problem()
    runner = Serial(1, settings)

    def build():
        return runner.build_model(problem, settings)

    uninterrupted = fit_ensemble(build, problem, settings, runner)
    checkpoints = Checkpointer(tmp_path, settings.checkpoint_every, 0, {"run": 1})
    with pytest.raises(Killed):
        fit_ensemble(build, problem, settings, KilledAt(40 + 40 + 12), checkpoints)  # dies in the 3rd member
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"fold{f}.rank0.pt" for f in (1, 2, 3)]
    restored = sum(len(torch.load(path, weights_only=False)["records"]) for path in tmp_path.iterdir())
    counting = CountingSteps()
    resumed = fit_ensemble(build, problem, settings, counting, checkpoints)
    assert counting.steps == len(uninterrupted.epochs) - restored  # only the epochs no checkpoint held
    np.testing.assert_array_equal(resumed.predictions, uninterrupted.predictions)
    assert resumed.best_epochs == uninterrupted.best_epochs
    assert len(resumed.epochs) == len(uninterrupted.epochs)


def test_checkpoint_of_other_settings_is_ignored(tmp_path):
    settings = train_settings(**{**SETTINGS, "max_epochs": 10, "checkpoint_every": 5})
    problem = toy_problem()
    runner = Serial(1, settings)
    model = runner.build_model(problem, settings)
    fit(model, problem, settings, runner, 1, Checkpointer(tmp_path, 5, 0, {"graph.k": 10}))
    optimizer = torch.optim.Adam(model.parameters())
    assert Checkpointer(tmp_path, 5, 0, {"graph.k": 20}).load(1, model, optimizer) is None
    stopping, records = Checkpointer(tmp_path, 5, 0, {"graph.k": 10}).load(1, model, optimizer)
    assert len(records) == 10


@pytest.mark.parametrize(
    "name, threads, gpus_cpu, gpus_cuda, launcher",
    [
        ("serial", [1], [0], [1], [{}]),
        ("intraop", [1, 4], [0, 0], [0, 0], [{}, {}]),
        ("interop", [1, 4], [0, 0], [1, 1], [{}, {}]),
        ("dataparallel", [1, 1], [1, 4], [1, 4], [{}, {}]),
        ("ddp", [1, 4], [0, 0], [1, 4], [{"tasks": 1, "nodes": 1}, {"tasks": 4, "nodes": 2}]),
        ("snpshard", [1, 4], [0, 0], [1, 4], [{"tasks": 1, "nodes": 1}, {"tasks": 4, "nodes": 2}]),
    ],
)
def test_what_each_strategys_rule_asks_for(name, threads, gpus_cpu, gpus_cuda, launcher):
    """Threads, GPUs (train.device cpu and cuda) and SLURM tasks and nodes (3 devices a node) for
    1 and 4 devices (serial: 1 only)."""
    strategy = STRATEGIES[name]
    counts = [1] if name == "serial" else [1, 4]
    assert [strategy.threads(n) for n in counts] == threads
    assert [strategy.gpus(n, "cpu") for n in counts] == gpus_cpu
    assert [strategy.gpus(n, "cuda") for n in counts] == gpus_cuda
    assert [strategy.launcher_resources(n, 3) for n in counts] == launcher
