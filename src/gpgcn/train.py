"""The one training core every strategy shares.

Strategies differ only in how they build the model and split the work, which they express
through a `Strategy`: the forward pass, which nodes this process takes the loss on and with
what weight, what to do with gradients before the optimiser step, and how to wait for the device.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .metrics import pearson_r


@dataclass
class TrainSettings:
    hidden: int = 64
    layers: int = 3
    dropout: float = 0.5
    lr: float = 0.005
    weight_decay: float = 5e-4
    max_epochs: int = 300
    patience: int = 40
    warmup_epochs: int = 3
    seed: int = 0
    val_fold: int = 1


class TrainingDiverged(RuntimeError):
    pass


@dataclass
class Strategy:
    """How one strategy runs the shared loop; the defaults are the serial strategy's."""

    loss_idx: torch.Tensor = None  # nodes this process takes the loss on (default: all fit nodes)
    loss_weight: float = None  # multiplies the summed squared error (default 1/len(fit nodes))
    after_backward: callable = None  # e.g. synchronise replicated gradients
    synchronize: callable = None  # wait for queued device work before reading the clock

    def forward(self, model, problem):
        return model(problem.x, problem.edge_index, problem.edge_weight)


@dataclass
class TrainResult:
    predictions: np.ndarray  # standardised scale, every node, at the best validation epoch
    best_epoch: int
    epochs: list = field(default_factory=list)  # per-epoch records


def fit(model, problem, settings, strategy=None):
    """Full-batch transductive training with early stopping on the inner validation fold."""
    strategy = strategy or Strategy()
    loss_idx = problem.fit_idx if strategy.loss_idx is None else strategy.loss_idx
    loss_weight = 1.0 / len(problem.fit_idx) if strategy.loss_weight is None else strategy.loss_weight
    synchronize = strategy.synchronize or (lambda: None)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    y = problem.y
    best_loss, best_epoch, best_pred, waited = math.inf, -1, None, 0
    records = []
    for epoch in range(settings.max_epochs):
        synchronize()
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        pred = strategy.forward(model, problem)
        loss = ((pred[loss_idx] - y[loss_idx]) ** 2).sum() * loss_weight
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch}; lower train.lr or check the input")
        loss.backward()
        if strategy.after_backward:
            strategy.after_backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = strategy.forward(model, problem)
            train_loss = torch.mean((pred[problem.fit_idx] - y[problem.fit_idx]) ** 2).item()
            val_loss = torch.mean((pred[problem.val_idx] - y[problem.val_idx]) ** 2).item()
        synchronize()
        seconds = time.perf_counter() - start
        val_r = pearson_r(pred[problem.val_idx].cpu().numpy(), y[problem.val_idx].cpu().numpy())
        records.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_r": val_r, "seconds": seconds}
        )
        if val_loss < best_loss:
            best_loss, best_epoch, best_pred, waited = val_loss, epoch, pred.detach().cpu().numpy().copy(), 0
        else:
            waited += 1
            if waited >= settings.patience:
                break
    return TrainResult(best_pred, best_epoch, records)


def seconds_per_epoch(records, warmup_epochs):
    """Median epoch wall time, warm-up epochs excluded."""
    timed = [r["seconds"] for r in records[warmup_epochs:]] or [r["seconds"] for r in records]
    return float(np.median(timed))
