"""The configured defaults: config.yaml beside the Snakefile is their one home. Code run outside
the workflow (tests, benchmarks, `make gpu-check`) reads them here instead of keeping copies."""

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[3] / "config.yaml"


def default_config():
    with open(CONFIG) as handle:
        return yaml.safe_load(handle)
