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
