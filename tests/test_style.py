"""What keeps the code and docs in one shape: formatters, linters, and the places that must agree
with one source of truth (the schema for config keys, STRATEGIES for the strategies), compared
as data, not by pattern."""

import subprocess
import sys

import pytest
import yaml

from gpgcn.config.reference import config_keys, generated_block, strategies_block
from gpgcn.gcn.strategies import STRATEGIES

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
    assert generated_block(REPO) in readme, "config/README.md is stale: run python -m gpgcn.config.reference"


def test_the_strategies_table_in_the_docs_is_current():
    docs = (REPO / "docs" / "strategies.md").read_text()
    assert strategies_block() in docs, "docs/strategies.md is stale: run python -m gpgcn.config.reference"


def test_the_schema_and_config_list_the_registrys_strategies():
    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())
    assert list(schema["properties"]["strategies"]["properties"]) == list(STRATEGIES)
    assert list(yaml.safe_load((REPO / "config.yaml").read_text())["strategies"]) == list(STRATEGIES)


def test_the_slurm_profile_gives_each_training_rule_its_strategys_resources():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
    training = {rule: resources for rule, resources in profile.items() if rule.startswith("train_")}
    assert training == {f"train_{name}": strategy.slurm_resources for name, strategy in STRATEGIES.items()}


def test_the_input_formats_table_is_the_schemas():
    """Every mode, input file and remote input of the formats table (src/gpgcn/data/formats.py)
    is the schema's, and every mode's files and genotype source are in the table."""
    from gpgcn.data.formats import GENOTYPE_SOURCES, INPUT_FILES, INPUT_MODES

    schema = yaml.safe_load((REPO / "config.schema.yaml").read_text())["properties"]
    assert schema["input"]["properties"]["mode"]["enum"] == list(INPUT_MODES)
    for key, file in INPUT_FILES.items():
        assert key in schema[file.section]["properties"], key
    checksums = schema["input"]["properties"]["checksums"]["properties"]
    assert sorted(checksums) == sorted(key for key, file in INPUT_FILES.items() if file.remote)
    for mode in INPUT_MODES.values():
        assert set(mode.files) <= set(INPUT_FILES) and mode.genotypes in (None, *GENOTYPE_SOURCES)
    assert all(source.file in INPUT_FILES for source in GENOTYPE_SOURCES.values())
