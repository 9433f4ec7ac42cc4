"""The one training core every strategy shares: a training step, an evaluation, early stopping,
an ensemble over the CV folds (checkpoints: `checkpoints.py`; many members as one model: `batched.py`).

Strategies (`strategies.py`) differ only in how they build the model and split the work: the
forward pass, which nodes this process takes the loss on and with what weight, what to do with
gradients before the optimiser step, and how to wait for the device.
"""

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..statistics import pearson_r

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    """The config's `train:` section (config.yaml holds the defaults)."""

    hidden: int
    layers: int
    dropout: float
    lr: float
    weight_decay: float
    max_epochs: int
    patience: int
    patience_accessions: int  # validation folds of more accessions than this stop sooner (`patience_for`); 0: never
    prediction_window: int  # epochs either side of the best one whose predictions are averaged with it
    warmup_epochs: int
    seed: int
    features: str
    ensemble: bool
    val_fold: int
    checkpoint_every: int
    device: str
    batch_members: int  # the per-trait models' members trained as one batched model, at most
    first_layer_precision: str  # the per-trait models' first-layer products: float32 | bfloat16
    first_layer_variance: float  # the per-trait models' first layer through the features' factor holding this share

    def patience_for(self, n_validation):
        """Epochs without a better loss before a model stopped on `n_validation` accessions stops:
        `patience`; on more than `patience_accessions`, patience × √(patience_accessions / n_validation),
        half of it at the least. The patience waits out dips of the loss that noise made, whose
        sampling noise shrinks as 1 / √(accessions). Small folds keep it all: half of it cost the GCN
        CV r on folds of some 26 accessions, next to nothing on some 230 (docs/benchmarks/patience.md)."""
        if not self.patience_accessions or n_validation <= self.patience_accessions:
            return self.patience
        shrunk = round(self.patience * math.sqrt(self.patience_accessions / n_validation))
        return max(shrunk, math.ceil(self.patience / 2))

    def validation_folds(self, problem):
        """Every CV fold in turn (an ensemble over folds), or the one `val_fold`: in an outer CV
        fold that holds `val_fold` out, the first fold it trains on (there is no other to stop on)."""
        if self.ensemble:
            return problem.folds
        return [self.val_fold if self.val_fold in problem.folds else problem.folds[0]]


class TrainingDiverged(FloatingPointError):
    pass


@dataclass
class TrainResult:
    predictions: np.ndarray  # standardised scale, every node (mean over the ensemble's members)
    best_epochs: list  # best validation epoch of each member
    validation_r: list  # validation Pearson r of each member at its best epoch
    # Out-of-fold predictions of the training accessions (NaN elsewhere): each member's of its
    # own validation fold, around the median best epoch of the other members. Not at its own best
    # epoch: on a trait with little signal, the epoch a fold picks for itself makes that fold's
    # r look far better than it is (measured r 0.19 against 0.01 for the ensemble out of fold).
    validation_predictions: np.ndarray = None
    epochs: list = field(default_factory=list)  # per-epoch records of every member


@dataclass
class EarlyStopping:
    """The best validation epoch so far, how long ago it was, and the predictions around it.

    A model's predictions move from epoch to epoch by more than its fit improves: each Adam step
    follows one dropout draw, and on a trait with little signal that noise is much of what the
    best epoch's predictions hold. The predictions of the `window` epochs either side of the best
    one (as many as were run) are averaged with its own (`best_pred`): the same training, less of
    its last steps' noise. `window` 0: the best epoch's alone."""

    patience: int
    window: int = 0
    best_loss: float = math.inf
    best_epoch: int = -1
    waited: int = 0
    history: list = field(default_factory=list)  # the validation nodes' predictions, every epoch
    recent: list = field(default_factory=list)  # every node's predictions, the last window + 1 epochs
    around_best: list = field(default_factory=list)  # every node's, from best_epoch - window on

    def record(self, epoch, val_loss, pred, val_idx):
        """`pred`: every node's prediction this epoch (numpy); `val_idx`: the validation nodes."""
        self.history.append(pred[val_idx].tolist())
        pred = pred.copy()  # one copy per epoch, shared by both windows (`pred` may be a batch's row)
        self.recent = [*self.recent, pred][-(self.window + 1) :]
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, epoch, 0
            self.around_best = list(self.recent)
        else:
            self.waited += 1
            if epoch - self.best_epoch <= self.window:
                self.around_best.append(pred)

    def diverged(self):
        """The loss stopped being finite: the epochs after the best one, which led there, leave the
        window (their predictions may already be far off)."""
        after = min(len(self.history) - 1 - self.best_epoch, self.window)
        self.around_best = self.around_best[: len(self.around_best) - after]

    @property
    def best_pred(self):
        """Every node's prediction: the mean over the epochs around the best one; None before any."""
        return np.mean(self.around_best, axis=0) if self.around_best else None

    def validation_around(self, epoch):
        """The validation nodes' predictions averaged over the epochs around `epoch`, as `best_pred`
        averages them around the best one."""
        return np.mean(self.history[max(0, epoch - self.window) : epoch + self.window + 1], axis=0)

    @property
    def done(self):
        return self.waited >= self.patience


PROGRESS_EVERY_S = 30.0


class Progress:
    """Log lines that show a long training job is alive and how long it has left: one about every
    PROGRESS_EVERY_S seconds of training, and one as each of the `n_members` ensemble members ends."""

    def __init__(self, n_members, max_epochs, label="training"):
        self.n_members, self.max_epochs, self.label, self.every = n_members, max_epochs, label, PROGRESS_EVERY_S
        self.start = self.last = time.monotonic()
        self.epochs_done = 0

    def line(self, member, record, best_epoch, epochs_left):
        elapsed = time.monotonic() - self.start
        left = elapsed / max(self.epochs_done, 1) * epochs_left
        return (
            f"{self.label}: member {member} of {self.n_members}, epoch {record['epoch'] + 1}, "
            f"train loss {record['train_loss']:.4g}, validation loss {record['val_loss']:.4g}, "
            f"best epoch {best_epoch + 1}, elapsed {elapsed:.0f} s, at most {left:.0f} s left"
        )

    def epoch(self, member, record, best_epoch):
        self.epochs_done += 1
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            # No member runs past max_epochs, so this bounds the time left (early stopping ends sooner).
            epochs_left = (self.max_epochs - record["epoch"] - 1) + (self.n_members - member) * self.max_epochs
            log.info("%s", self.line(member, record, best_epoch, epochs_left))

    def member_done(self, member, record, best_epoch):
        epochs_left = (self.n_members - member) * self.max_epochs
        log.info("%s (member done)", self.line(member, record, best_epoch, epochs_left))


def train_step(model, problem, strategy, optimizer, loss_idx, loss_weight):
    """One optimiser step on this process's share of the loss; returns the loss."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    pred = strategy.forward(model, problem)
    loss = ((pred[loss_idx] - problem.y[loss_idx]) ** 2).sum() * loss_weight
    if torch.isfinite(loss):
        loss.backward()
        strategy.after_backward(model)
        optimizer.step()
    return loss.item()


def evaluate(model, problem, strategy, y, fit_idx, val_idx):
    """Predictions for every node (numpy), and the mean squared error on the fit and validation
    nodes against `y` (the problem's target as numpy)."""
    model.eval()
    with torch.no_grad():
        pred = strategy.forward(model, problem).cpu().numpy()
    return pred, squared_error(pred, y, fit_idx), squared_error(pred, y, val_idx)


def squared_error(pred, y, idx):
    """The mean squared error over the nodes `idx` (numpy), as every trainer computes it: the
    sequential and the batched members stop on the same numbers."""
    return float(np.mean((pred[idx] - y[idx]) ** 2))


def fit(model, problem, settings, strategy, val_fold, checkpointer=None, progress=None, member=1):
    """Full-batch transductive training, early-stopped on one inner validation fold, on the
    target as `problem` has it standardised.

    Returns the early stopping state (predictions for every node at the best validation epoch,
    that epoch, the validation nodes' predictions at every epoch) and per-epoch records. With a
    checkpointer, the state is saved every `checkpoint_every` epochs and a rerun resumes from it,
    ending exactly as an uninterrupted run would.
    """
    fit_idx, val_idx = problem.validation_split(val_fold)
    loss_idx, loss_weight = strategy.loss_nodes(fit_idx)
    fit_idx, val_idx, y = fit_idx.cpu().numpy(), val_idx.cpu().numpy(), problem.y.cpu().numpy()
    # Fused: one pass over each parameter. At a million SNPs the first layer's weight is 256 MB, and
    # the default CPU Adam's separate passes (and temporaries) took as long as half the products.
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=True)
    stopping, records = EarlyStopping(settings.patience_for(len(val_idx)), settings.prediction_window), []
    if checkpointer and (saved := checkpointer.load(val_fold, model, optimizer)):
        stopping, records = saved
        log.info("fold %d: resumed from the checkpoint at epoch %d", val_fold, len(records))
    for epoch in range(len(records), settings.max_epochs):
        if stopping.done:
            break
        strategy.synchronize()
        start = time.perf_counter()
        loss = train_step(model, problem, strategy, optimizer, loss_idx, loss_weight)
        if not math.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss} at epoch {epoch} (fold {val_fold}); lower train.lr")
        pred, train_loss, val_loss = evaluate(model, problem, strategy, y, fit_idx, val_idx)
        strategy.synchronize()
        seconds = time.perf_counter() - start
        stopping.record(epoch, val_loss, pred, val_idx)
        val_r = pearson_r(pred[val_idx], y[val_idx])
        records.append(
            {
                "fold": val_fold,
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_r": val_r,
                "seconds": seconds,
            }
        )
        if progress:
            progress.epoch(member, records[-1], stopping.best_epoch)
        if checkpointer and (epoch + 1) % checkpointer.every == 0:
            checkpointer.save(val_fold, model, optimizer, stopping, records)
    if progress:
        progress.member_done(member, records[-1], stopping.best_epoch)
    return stopping, records


def fit_ensemble(build_model, problem, settings, strategy, checkpointer=None, label="training", offsets=None):
    """Train one model per validation fold (same seed) and average their predictions.

    Each member learns from the other folds and stops early on its own, so together they use
    every training accession while none is early-stopped on data it was fitted to. Each member
    standardises the target on the accessions it is fitted to; its predictions come back on
    `problem`'s scale. `offsets` (validation fold -> every node's value, on `problem`'s scale):
    fixed effects estimated without that fold, which its member learns around and adds back.
    """
    members = []
    folds = settings.validation_folds(problem)
    progress = Progress(len(folds), settings.max_epochs, label)
    for member, val_fold in enumerate(folds, 1):
        own = member_problem(problem, val_fold, offsets)
        stopping, records = fit(build_model(), own, settings, strategy, val_fold, checkpointer, progress, member)
        members.append((val_fold, own, stopping, records))
    return ensemble_result(problem, members, offsets)


def member_problem(problem, val_fold, offsets):
    """The problem an ensemble member trains on: the target less its fixed effects (`offsets`
    of its validation fold, if any), standardised on the accessions it is fitted to."""
    fit_idx, _ = problem.validation_split(val_fold)
    return (problem if offsets is None else problem.without(offsets[val_fold])).standardised_on(fit_idx)


def ensemble_result(problem, members, offsets):
    """The ensemble of trained members [(validation fold, its problem, EarlyStopping, records)]:
    their predictions back on `problem`'s scale (fixed effects added back) and averaged, and
    each one's out-of-fold predictions around the median best epoch of the others (averaged over
    the window of epochs its best prediction averages). A member that
    never had a finite validation loss (it diverged at once) is left out."""
    kept = [member for member in members if member[2].best_pred is not None]
    if not kept:
        raise TrainingDiverged("every ensemble member diverged; lower train.lr")
    validation_r, records, rescaled = [], [], []
    for val_fold, own, stopping, member_records in kept:
        val_idx = problem.validation_split(val_fold)[1].cpu().numpy()
        offset = 0.0 if offsets is None else offsets[val_fold]
        val_offset = 0.0 if offsets is None else offsets[val_fold][val_idx]
        best = problem.rescaled(stopping.best_pred, own) + offset
        rescaled.append((val_idx, best, stopping, own, val_offset))
        validation_r.append(member_records[stopping.best_epoch]["val_r"])
        records += member_records
    best_epochs = [stopping.best_epoch for _, _, stopping, _ in kept]
    validation_predictions = np.full(len(problem.ids), np.nan)
    for i, (val_idx, _, stopping, own, val_offset) in enumerate(rescaled):
        others = best_epochs[:i] + best_epochs[i + 1 :] or [best_epochs[i]]
        epoch = min(int(round(np.median(others))), len(stopping.history) - 1)
        validation_predictions[val_idx] = problem.rescaled(stopping.validation_around(epoch), own) + val_offset
    return TrainResult(
        np.mean([best for _, best, *_ in rescaled], axis=0), best_epochs, validation_r, validation_predictions, records
    )
