"""Training checkpoints: a killed training job resumes where it left off and ends as an
uninterrupted run would."""

import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from ..io import atomic_path
from .training import EarlyStopping

log = logging.getLogger(__name__)


class Checkpointer:
    """Atomic per-member training checkpoints, valid only for the run that wrote them.

    `fingerprint` is a flat dict of everything that shapes the result (settings, and the
    content hash of every input); a checkpoint written under another fingerprint is ignored,
    and the log names what changed.
    """

    def __init__(self, directory, every, rank, fingerprint):
        self.directory = Path(directory)
        self.every = max(1, int(every))
        self.rank = rank
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))

    def path(self, val_fold):
        return self.directory / f"fold{val_fold}.rank{self.rank}.pt"

    def save(self, val_fold, model, optimizer, stopping, records):
        payload = {
            "fingerprint": self.fingerprint,
            "stopping": asdict(stopping),
            "records": records,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            payload["cuda_rng"] = torch.cuda.get_rng_state_all()
        with atomic_path(self.path(val_fold)) as tmp:
            torch.save(payload, tmp)

    def load(self, val_fold, model, optimizer):
        """Restore model, optimiser and random state; return (early stopping, records), or None
        when there is no checkpoint of this run."""
        path = self.path(val_fold)
        if not path.exists():
            return None
        payload = torch.load(path, weights_only=False)
        if payload["fingerprint"] != self.fingerprint:
            old = payload["fingerprint"]
            changed = sorted(k for k in {**old, **self.fingerprint} if old.get(k) != self.fingerprint.get(k))
            log.warning("starting fresh: %s was written by a run with other %s", path, ", ".join(changed))
            return None
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["rng"])
        if torch.cuda.is_available() and "cuda_rng" in payload:
            torch.cuda.set_rng_state_all(payload["cuda_rng"])
        return EarlyStopping(**payload["stopping"]), payload["records"]

    def clear(self):
        for path in self.directory.glob(f"fold*.rank{self.rank}.pt"):
            path.unlink()
        try:
            self.directory.rmdir()
        except OSError:
            pass  # other ranks' files, or not empty yet
