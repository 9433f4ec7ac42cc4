"""The configured defaults for the benchmarks and `make gpu-check`: config.yaml beside the
Snakefile is their one home (the package itself is given its settings by the workflow)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def default_config():
    with open(REPO / "config.yaml") as handle:
        return yaml.safe_load(handle)
