"""The one training core every strategy shares.

Strategies differ only in how they build the model and split the work, which they express
through a `Strategy`: the forward pass, which nodes this process takes the loss on and with
what weight, what to do with gradients before the optimiser step, and how to wait for the device.
"""

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .io import atomic_path
from .metrics import pearson_r

log = logging.getLogger(__name__)


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
    checkpoint_every: int = 25
    device: str = "cpu"

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


def fit(model, problem, settings, strategy, val_fold, checkpointer=None):
    """Full-batch transductive training, early-stopped on one inner validation fold.

    Returns the predictions for every node at the best validation epoch, and per-epoch records.
    With a checkpointer, the state is saved every `checkpoint_every` epochs and a rerun resumes
    from it, ending exactly as an uninterrupted run would.
    """
    fit_idx, val_idx = problem.validation_split(val_fold)
    loss_idx, loss_weight = strategy.loss_nodes(fit_idx)
    # Fused: one pass over each parameter. At a million SNPs the first layer's weight is 256 MB, and
    # the default CPU Adam's separate passes (and temporaries) took as long as half the products.
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=True)
    y = problem.y
    state = {"epoch": 0, "best_loss": math.inf, "best_epoch": -1, "best_pred": None, "waited": 0, "records": []}
    saved = checkpointer.load(val_fold) if checkpointer else None
    if saved:
        model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        torch.set_rng_state(saved.pop("rng"))
        if torch.cuda.is_available() and "cuda_rng" in saved:
            torch.cuda.set_rng_state_all(saved.pop("cuda_rng"))
        state = saved
        log.info("fold %d: resumed from the checkpoint at epoch %d", val_fold, state["epoch"])
    best_loss, best_epoch, best_pred, waited = state["best_loss"], state["best_epoch"], state["best_pred"], state["waited"]
    records = state["records"]
    for epoch in range(state["epoch"], settings.max_epochs):
        if waited >= settings.patience:
            break
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
            best_loss, best_epoch, best_pred, waited = val_loss, epoch, pred.detach().cpu().numpy().copy(), 0
        else:
            waited += 1
        val_r = pearson_r(pred[val_idx].detach().cpu().numpy(), y[val_idx].cpu().numpy())
        records.append(
            {"fold": val_fold, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_r": val_r, "seconds": seconds}
        )
        if checkpointer and (epoch + 1) % checkpointer.every == 0:
            checkpointer.save(
                val_fold,
                model,
                optimizer,
                {"epoch": epoch + 1, "best_loss": best_loss, "best_epoch": best_epoch, "best_pred": best_pred,
                 "waited": waited, "records": records},
            )
    best_r = records[best_epoch]["val_r"]
    return best_pred, best_epoch, best_r, records


def fit_ensemble(build_model, problem, settings, strategy=None, checkpointer=None):
    """Train one model per validation fold (same seed) and average their predictions.

    Each member learns from the other folds and stops early on its own, so together they use
    every training accession while none is early-stopped on data it was fitted to.
    """
    strategy = strategy or Strategy()
    predictions, best_epochs, validation_r, records = [], [], [], []
    for val_fold in settings.validation_folds(problem):
        pred, best_epoch, best_r, member_records = fit(build_model(), problem, settings, strategy, val_fold, checkpointer)
        predictions.append(pred)
        best_epochs.append(best_epoch)
        validation_r.append(best_r)
        records += member_records
    return TrainResult(np.mean(predictions, axis=0), best_epochs, validation_r, records)


def seconds_per_epoch(records, warmup_epochs):
    """Median epoch wall time, each member's warm-up epochs excluded."""
    timed = [r["seconds"] for r in records if r["epoch"] >= warmup_epochs] or [r["seconds"] for r in records]
    return float(np.median(timed))


class Checkpointer:
    """Atomic per-member training checkpoints, valid only for the run that wrote them."""

    def __init__(self, directory, every, rank, fingerprint):
        self.directory = Path(directory)
        self.every = max(1, int(every))
        self.rank = rank
        self.key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, val_fold):
        return self.directory / f"fold{val_fold}.rank{self.rank}.pt"

    def save(self, val_fold, model, optimizer, state):
        payload = {**state, "key": self.key, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
        payload["rng"] = torch.get_rng_state()
        if torch.cuda.is_available():
            payload["cuda_rng"] = torch.cuda.get_rng_state_all()
        with atomic_path(self.path(val_fold)) as tmp:
            torch.save(payload, tmp)

    def load(self, val_fold):
        path = self.path(val_fold)
        if not path.exists():
            return None
        payload = torch.load(path, weights_only=False)
        if payload.pop("key") != self.key:
            log.warning("ignoring %s: written by a run with other settings", path)
            return None
        return payload

    def clear(self):
        for path in self.directory.glob(f"fold*.rank{self.rank}.pt"):
            path.unlink()
        try:
            self.directory.rmdir()
        except OSError:
            pass  # other ranks' files, or not empty yet


def cross_validate(build_model, problem, settings, strategy=None):
    """Pearson r of out-of-fold predictions, pooled over the folds, for each published CV repeat.

    Each outer fold is predicted by the same procedure as the test set: an ensemble (or a single
    early-stopped model) trained on the other folds only.
    """
    scores = []
    for folds in problem.cv_repeats.values():
        predicted = np.full(len(problem.ids), np.nan)
        for held_fold in sorted(set(folds[folds > 0].tolist())):
            held_out = problem.holding_out(folds, held_fold)
            members = fit_ensemble(build_model, held_out, settings, strategy)
            index = held_out.test_idx.cpu().numpy()
            predicted[index] = members.predictions[index]
        trained = folds > 0
        scores.append(pearson_r(predicted[trained], problem.y.cpu().numpy()[trained]))
    return scores
