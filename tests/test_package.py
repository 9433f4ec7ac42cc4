"""The package as a user installs it: built and installed outside the checkout, it imports and
runs a stage there, and reads no file of the checkout."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from gpgcn.models import MODELS, model_settings

from helpers import REPO, default_config

pytestmark = pytest.mark.slow

# Run by the installed package, in a folder outside the checkout: every module the workflow's
# jobs import, then the per-trait model job on a small cohort (every model's settings given as
# JSON, as the workflow passes them); every file opened under the checkout (but its virtual
# environment's, where the dependencies live) is listed.
PROBE = """
import json, sys
checkout, environment, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
opened = []
def audit(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(checkout):
        if not args[0].startswith(environment):
            opened.append(args[0])
sys.addaudithook(audit)
import numpy as np, pandas as pd
import gpgcn, gpgcn.cli, gpgcn.data.formats, gpgcn.data.regions, gpgcn.models.job, gpgcn.report.summary
import gpgcn.report.speedups, gpgcn.gcn.strategies, gpgcn.gcn.timing_job, gpgcn.config.check
from gpgcn.data.kinship import write_kinship
from gpgcn.models import trait_model_outputs
from gpgcn.models.job import trait_models_stage
rng = np.random.default_rng(0)
z = rng.binomial(2, 0.3, size=(40, 200)) - 0.6
ids = [f"a{i}" for i in range(40)]
write_kinship("grm.tsv", z @ z.T / 200, ids)
sets = ["train"] * 30 + ["test"] * 10
y = z[:, :5].sum(axis=1) + rng.normal(size=40)
folds = [1 + i % 5 for i in range(30)] + [0] * 10
pd.DataFrame({"ID": ids, "y": y, "set": sets, "fold": folds, "cv_1": folds}).to_csv("split.tsv", sep="\\t", index=False)
outputs = {**trait_model_outputs("models"), "cv_predictions": "cv.tsv", "table": "table.tsv"}
files = {"trait": "T", "split_path": "split.tsv", "grm_path": "grm.tsv"}
trait_models_stage(files=files, settings=settings, outputs=outputs)
print(json.dumps({"package": gpgcn.__file__, "opened": opened}))
"""


def test_the_installed_package_runs_outside_the_checkout(tmp_path):
    source, site, work = tmp_path / "source", tmp_path / "site", tmp_path / "work"
    # Built from a copy: an in-tree build would leave build/ in the checkout.
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    run = subprocess.run([*install, "--target", str(site), str(source)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    environment = sys.prefix  # the virtual environment the dependencies come from
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO), environment, json.dumps(small_settings())],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    assert probe["package"].startswith(str(site)), probe["package"]
    assert probe["opened"] == []
    for name in MODELS:
        assert json.loads((work / "models" / name / "metrics.json").read_text())["n_train"] == 30, name
    run = subprocess.run(
        [sys.executable, "-m", "gpgcn.cli", "--help"], cwd=work, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0 and "usage: python -m gpgcn.cli" in run.stdout


def small_settings():
    """Every model's settings from config.yaml, the GCN's training cut short."""
    config = default_config()
    config["train"] = {**config["train"], "max_epochs": 5, "patience": 2, "hidden": 8}
    config["select"] = {**config["select"], "candidates": [{}], "loci_counts": [0]}
    return model_settings(config)
