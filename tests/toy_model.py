"""A model as docs/extending.md adds one: a module whose fit_fold(fold, settings) returns a FoldFit,
with one setting (`select.toy_shrink`). It shrinks GBLUP's predictions towards the mean, so it
also shows a model using the fits of those before it in the registry."""

from gpgcn.models import FoldFit


def fit_fold(fold, settings):
    shrink = settings["toy_shrink"]
    gblup = fold.fits["gblup"]
    return FoldFit(shrink * gblup.predicted, shrink * gblup.out_of_fold, {"toy_shrink": shrink})
