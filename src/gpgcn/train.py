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
    lr: float = 0.0005
    weight_decay: float = 5e-4
    max_epochs: int = 600
    patience: int = 80
    warmup_epochs: int = 3
    seed: int = 0
    features: str = "centred"
    ensemble: bool = True
    val_fold: int = 1

    def validation_folds(self, problem):
        """Every CV fold in turn (an ensemble over folds), or the one `val_fold`."""
        return problem.folds if self.ensemble else [self.val_fold]


class TrainingDiverged(RuntimeError):
    pass


class Strategy:
    """How one strategy runs the shared loop; this base class is the serial strategy."""

    def loss_nodes(self, fit_idx):
        """Nodes this process takes the loss on, and the weight of their summed squared error."""
        return fit_idx, 1.0 / len(fit_idx)

    def forward(self, model, problem):
        return model(problem.x, problem.edge_index, problem.edge_weight)

    def after_backward(self, model):
        """Hook between backward and the optimiser step (e.g. synchronise replicated gradients)."""

    def synchronize(self):
        """Wait for queued device work before the clock is read."""


@dataclass
class TrainResult:
    predictions: np.ndarray  # standardised scale, every node (mean over the ensemble's members)
    best_epochs: list  # best validation epoch of each member
    validation_r: list  # validation Pearson r of each member at its best epoch
    epochs: list = field(default_factory=list)  # per-epoch records of every member


def fit(model, problem, settings, strategy, val_fold):
    """Full-batch transductive training, early-stopped on one inner validation fold.

    Returns the predictions for every node at the best validation epoch, and per-epoch records.
    """
    fit_idx, val_idx = problem.validation_split(val_fold)
    loss_idx, loss_weight = strategy.loss_nodes(fit_idx)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    y = problem.y
    best_loss, best_epoch, best_pred, waited = math.inf, -1, None, 0
    records = []
    for epoch in range(settings.max_epochs):
        strategy.synchronize()
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        pred = strategy.forward(model, problem)
        loss = ((pred[loss_idx] - y[loss_idx]) ** 2).sum() * loss_weight
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch} (fold {val_fold}); lower train.lr")
        loss.backward()
        strategy.after_backward(model)
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = strategy.forward(model, problem)
            train_loss = torch.mean((pred[fit_idx] - y[fit_idx]) ** 2).item()
            val_loss = torch.mean((pred[val_idx] - y[val_idx]) ** 2).item()
        strategy.synchronize()
        seconds = time.perf_counter() - start
        if val_loss < best_loss:
            best_loss, best_epoch, best_pred, waited = val_loss, epoch, pred.cpu().numpy().copy(), 0
        else:
            waited += 1
        val_r = pearson_r(pred[val_idx].cpu().numpy(), y[val_idx].cpu().numpy())
        records.append(
            {"fold": val_fold, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_r": val_r, "seconds": seconds}
        )
        if waited >= settings.patience:
            break
    best_r = records[best_epoch]["val_r"]
    return best_pred, best_epoch, best_r, records


def fit_ensemble(build_model, problem, settings, strategy=None):
    """Train one model per validation fold (same seed) and average their predictions.

    Each member learns from the other folds and stops early on its own, so together they use
    every training accession while none is early-stopped on data it was fitted to.
    """
    strategy = strategy or Strategy()
    predictions, best_epochs, validation_r, records = [], [], [], []
    for val_fold in settings.validation_folds(problem):
        pred, best_epoch, best_r, member_records = fit(build_model(), problem, settings, strategy, val_fold)
        predictions.append(pred)
        best_epochs.append(best_epoch)
        validation_r.append(best_r)
        records += member_records
    return TrainResult(np.mean(predictions, axis=0), best_epochs, validation_r, records)


def seconds_per_epoch(records, warmup_epochs):
    """Median epoch wall time, each member's warm-up epochs excluded."""
    timed = [r["seconds"] for r in records if r["epoch"] >= warmup_epochs] or [r["seconds"] for r in records]
    return float(np.median(timed))
