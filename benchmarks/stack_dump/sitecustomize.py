"""Put this folder on PYTHONPATH and set GPGCN_STACK_DUMP to a folder: every stack fit of the
per-trait jobs then also writes its inputs there (each model's out-of-fold and deployed
predictions, the trait, the folds), for benchmarks/stack_rules.py to replay other rules on.
Python imports this file at start-up; without GPGCN_STACK_DUMP it does nothing."""

import os

if os.environ.get("GPGCN_STACK_DUMP"):
    import itertools
    import pickle
    import subprocess

    import gpgcn.models.stack as stack

    fit_stack = stack.fit_fold
    calls = itertools.count()
    # The code the models ran, for the page to name (the replay may run at a later commit).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=os.path.dirname(stack.__file__)
    ).stdout.strip()

    def fit_fold(fold, settings):
        fitted = fit_stack(fold, settings)
        record = {
            "label": fold.label,
            "commit": commit,
            "y": fold.y,
            "folds": fold.folds,
            "models": {
                name: (fit.out_of_fold, fit.predicted)
                for name, fit in fold.fits.items()
                if not fit.failed and name != "stack"
            },
        }
        folder = os.environ["GPGCN_STACK_DUMP"]
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{os.getpid()}.{next(calls)}.pkl"), "wb") as out:
            pickle.dump(record, out)
        return fitted

    stack.fit_fold = fit_fold
