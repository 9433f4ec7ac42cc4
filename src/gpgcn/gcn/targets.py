"""What each member of a batched model (`batched.fit_members`) learns and stops on: its standardised
target, the nodes its loss is taken on and those it stops on, and the trajectory it shares with
members whose loss is the same function of the weights."""

import numpy as np
import torch

from ..statistics import row_pearson_r
from .training import squared_error


def trajectory(problem, fold):
    """What a member's loss is a function of, besides the weights: the accessions it learns from
    and its target on them (`member_problem`'s, as Targets holds it)."""
    fit_idx, _ = problem.validation_split(fold)
    return fit_idx.cpu().numpy().tobytes(), torch.nan_to_num(problem.y)[fit_idx].cpu().numpy().tobytes()


class Targets:
    """Each member's standardised target, the nodes its loss is taken on (each weighing
    1 / its count, as `training.fit` weighs them) and the nodes it stops on."""

    def __init__(self, problems, folds):
        splits = [problem.validation_split(fold) for problem, fold in zip(problems, folds)]
        self.folds = list(folds)
        self.y = torch.stack([torch.nan_to_num(problem.y) for problem in problems])
        self.observed = [problem.y.cpu().numpy() for problem in problems]
        self.weight = torch.zeros_like(self.y)
        for member, (fit_idx, _) in enumerate(splits):
            self.weight[member, fit_idx] = 1.0 / len(fit_idx)
        self.nodes = [(fit_idx.cpu().numpy(), val_idx.cpu().numpy()) for fit_idx, val_idx in splits]
        # The fit nodes as float64 weights that average over them and the validation nodes as a
        # mask, for the records' train loss and validation r of every member at once (per
        # member, they were most of an epoch's cost on small cohorts).
        self.known = self.y.cpu().numpy().astype(float)
        self.fit_averaging = np.zeros(self.known.shape)
        self.validation = np.zeros(self.known.shape, dtype=bool)
        for member, (fit_idx, val_idx) in enumerate(self.nodes):
            self.fit_averaging[member, fit_idx] = 1.0 / len(fit_idx)
            self.validation[member, val_idx] = True
        self.keys = [trajectory(problem, fold) for problem, fold in zip(problems, folds)]

    def trajectories(self):
        """Each member's trajectory, and each trajectory's first member (its loss the trajectory's)."""
        first = {}
        for member, key in enumerate(self.keys):
            first.setdefault(key, member)
        leaders = list(first.values())
        slot = {key: s for s, key in enumerate(first)}
        return [slot[key] for key in self.keys], leaders

    def losses(self, pred, active):
        return (self.weight[active] * (pred - self.y[active]) ** 2).sum(dim=1)

    def summaries(self, pred, active):
        """Every active member's train loss and validation r (`pearson_r` of its validation
        nodes; NaN where either side is constant), from `pred` ([active members, nodes], numpy)."""
        pred, y = pred.astype(float), self.known[active]
        train_loss = np.sum(self.fit_averaging[active] * (pred - y) ** 2, axis=1)
        return train_loss, row_pearson_r(pred, y, self.validation[active])

    def record(self, member, epoch, pred, stopping, seconds, train_loss, val_r):
        """`pred`: the member's prediction of every node this epoch (numpy); `train_loss`,
        `val_r`: its `summaries`."""
        _, val_idx = self.nodes[member]
        val_loss = squared_error(pred, self.observed[member], val_idx)
        stopping.record(epoch, val_loss, pred, val_idx)
        return {
            "fold": self.folds[member],
            "epoch": epoch,
            "train_loss": float(train_loss),
            "val_loss": val_loss,
            "val_r": float(val_r),
            "seconds": seconds,
        }
