"""What keeps the code and docs in one shape: formatters, linters, and the places that must agree
with one source of truth (the schema for config keys, STRATEGIES for the strategies)."""

import re
import subprocess
import sys

import pytest
import yaml

from gpgcn.config_reference import config_keys, generated_block
from gpgcn.strategies import STRATEGIES

from helpers import REPO


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    run = subprocess.run([sys.executable, "-m", "ruff", *command, str(REPO)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_snakefmt_formatted():
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "rules").glob("*.smk")))]
    run = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_every_config_key_is_described_and_listed():
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    undescribed = [key for key, node in config_keys(schema) if not node.get("description")]
    assert not undescribed
    readme = (REPO / "config" / "README.md").read_text()
    assert generated_block(REPO) in readme, "config/README.md is stale: run python -m gpgcn.config_reference"


def test_every_place_lists_the_same_strategies():
    names = list(STRATEGIES)
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    assert list(schema["properties"]["strategies"]["properties"]) == names
    assert list(yaml.safe_load((REPO / "config.yaml").read_text())["strategies"]) == names
    rules = (REPO / "rules" / "train.smk").read_text()
    assert re.findall(r"^(?:rule|use rule \w+ as) (train_\w+)", rules, re.MULTILINE) == [f"train_{n}" for n in names]
    assert re.findall(r'strategy="(\w+)"', rules) == names
    docs = (REPO / "docs" / "strategies.md").read_text()
    assert re.findall(r"^\| `(\w+)` \(`train_", docs, re.MULTILINE) == names
