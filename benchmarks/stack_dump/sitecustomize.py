"""Put this folder on PYTHONPATH and set GPGCN_STACK_DUMP to a folder: every stack fit of the
per-trait jobs then also writes its inputs there (each model's out-of-fold and deployed
predictions, the trait, the folds), for benchmarks/stack_rules.py to replay other rules on.
Python imports this file at start-up; without GPGCN_STACK_DUMP it does nothing.

Beside the stack's own inputs, each record holds what the replay's evidence variants need:
GBLUP's and RKHS's leave-one-out predictions of the fold's training accessions (from their fits on
all of them: the size of what they deploy, where their out-of-fold evidence comes from fits
without a fifth of them), GBLUP + loci's marker count, and per averaged GCN candidate the
variance between its members' predictions at the accessions none of them learnt from (the noise
a single member's evidence carries and the members' mean mostly averages away)."""

import os

if os.environ.get("GPGCN_STACK_DUMP"):
    import itertools
    import pickle
    import subprocess

    import numpy as np

    import gpgcn.gcn.batched as batched
    import gpgcn.models.stack as stack
    from gpgcn.models import rkhs

    fit_stack, ensemble_result = stack.fit_fold, batched.ensemble_result
    calls = itertools.count()
    # The code the models ran, for the page to name (the replay may run at a later commit).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=os.path.dirname(stack.__file__)
    ).stdout.strip()

    def leave_one_out(kinship, y, trained):
        """Each training accession's prediction by the model fitted on the others, at the
        variance ratio and fixed effects' design of the fit on all of them (Pᵢ y / Pᵢᵢ is the
        left-out residual of a GLS + BLUP fit)."""
        fit, x = kinship.fit(y, trained)
        s, u = kinship.eigen(trained)
        v_inverse = (u / (s + fit.delta)) @ u.T
        design = v_inverse @ x[trained]
        p = v_inverse - design @ np.linalg.solve(x[trained].T @ design, design.T)
        predicted = np.full(len(y), np.nan)
        predicted[trained] = y[trained] - (p @ y[trained]) / np.diag(p)
        return predicted

    def rkhs_leave_one_out(fold, trained):
        """RKHS's, at the bandwidth its fit on all training accessions took; None where it failed."""
        fit = fold.fits.get("rkhs")
        if fit is None or fit.failed:
            return None
        kernel = rkhs.kernels(fold.kinship, trained)[fit.extra["rkhs_bandwidth"]]
        return leave_one_out(kernel, fold.y, trained)

    def with_members(problem, members, offsets):
        """`ensemble_result`, which also keeps each member's predictions."""
        result = ensemble_result(problem, members, offsets)
        result.member_predictions = [
            problem.rescaled(stopping.best_pred, own) + (0.0 if offsets is None else offsets[fold])
            for fold, own, stopping, _ in members
            if stopping.best_pred is not None
        ]
        return result

    batched.ensemble_result = with_members

    def member_noise(fold):
        """[(variance between the members' predictions at accessions none learnt from, members)]
        per averaged GCN candidate, on the fold's scale; None without a fitted GCN."""
        gcn = fold.fits.get("gcn")
        if gcn is None or gcn.failed or gcn.trained is None:
            return None
        unseen = fold.folds == 0
        found = []
        for _, problem, result in gcn.trained.trained:
            members = np.array([fold.problem.rescaled(p, problem) for p in result.member_predictions])
            found.append((float(members[:, unseen].var(axis=0, ddof=1).mean()), len(members)))
        return found

    def fit_fold(fold, settings):
        fitted = fit_stack(fold, settings)
        trained = fold.folds > 0
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
            "loo": {
                "gblup": leave_one_out(fold.kinship, fold.y, trained),
                "rkhs": rkhs_leave_one_out(fold, trained),
            },
            "loci_m": fold.fits["gblup_loci"].extra.get("loci_m") if "gblup_loci" in fold.fits else None,
            "member_noise": member_noise(fold),
        }
        folder = os.environ["GPGCN_STACK_DUMP"]
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{os.getpid()}.{next(calls)}.pkl"), "wb") as out:
            pickle.dump(record, out)
        return fitted

    stack.fit_fold = fit_fold
