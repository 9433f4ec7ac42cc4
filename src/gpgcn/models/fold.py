"""What a model is fitted on, and what it gives back."""

from dataclasses import dataclass, field

import numpy as np


class ModelFailure(Exception):
    """A model cannot be fitted on a fold (a numerical failure, or a model it needs failed): it is
    marked failed with this reason, and the other models go on."""


@dataclass
class FoldFit:
    predicted: np.ndarray  # every accession, on the trait problem's standardised scale
    out_of_fold: np.ndarray  # the fold's training accessions, each from a fit without its inner fold
    extra: dict = field(default_factory=dict)  # numbers the model records of itself in every fold (a weight, say)
    details: dict = field(default_factory=dict)  # what it records of its fit on all training accessions only
    # Inner fold -> the fixed part of the fit without that fold, every accession (GBLUP + loci's)
    offsets: dict = None
    failed: str = None  # why the model could not be fitted on this fold; None: it was
    trained: object = None  # what its own writer (`write_files`) writes from: the GCN's training

    @classmethod
    def failure(cls, reason, n):
        return cls(np.full(n, np.nan), np.full(n, np.nan), failed=reason)


@dataclass
class Fold:
    """The training accessions of one outer CV fold (or all of them): `folds` gives each its
    inner CV fold (0: not trained on)."""

    problem: object  # the trait's Problem: the scale every prediction is on
    held_out: object  # the same problem with only this fold's training accessions labelled for training
    folds: np.ndarray
    y: np.ndarray  # the trait on `problem`'s standardised scale
    kinship: object  # SplitKinship of the trait's split (relationships, fixed-effect design)
    markers: object  # loci.Markers, or None without genotypes
    settings: dict  # model name -> its settings (models.model_settings; what it chose, where it chooses)
    label: str  # for progress lines
    fits: dict = field(default_factory=dict)  # name -> FoldFit of the models fitted so far
    seconds: dict = field(default_factory=dict)  # name -> seconds its fit took
    # Fits that two of a job's outer folds make alike: outer fold f's inner fold g learns from all
    # but folds f and g, as g's inner fold f does. One dict for every Fold of the job (the outer
    # folds are `dataclasses.replace`d from one), so each such fit is made once (`inner_fit`).
    shared_fits: dict = field(default_factory=dict)

    def inner_folds(self):
        """(its number, its accessions, the accessions the fit without it learns from) of each inner fold."""
        trained = self.folds > 0
        for inner in np.unique(self.folds[trained]):
            held = self.folds == inner
            yield int(inner), held, trained & ~held

    def inner_fit(self, model, fit_mask, fit):
        """`fit(fit_mask)`: `model`'s fit of this fold's y on `fit_mask`'s accessions, or the same
        fit as another outer fold made it (let go then: no third fold makes it). Its result is
        shared, so read, never changed."""
        key = (model, fit_mask.tobytes(), self.y.tobytes())
        if key in self.shared_fits:
            return self.shared_fits.pop(key)
        self.shared_fits[key] = found = fit(fit_mask)
        return found
