"""What the workflow plans from its config before any job (src/gpgcn/config/plan.py)."""

import pytest

from gpgcn.config.plan import Plan
from gpgcn.errors import ConfigError

from helpers import default_config, merged


def test_the_default_config_plans_the_simulated_cohort():
    plan = Plan(default_config())
    assert plan.simulated and plan.genotyped and plan.traits == [default_config()["input"]["trait"]]
    assert plan.chromosomes == ["1", "2", "3", "4", "5"] and list(plan.regions) == plan.chromosomes
    assert plan.study_description() == "the simulated study accessions"
    assert plan.split_settings()["n_folds"] == default_config()["split"]["folds"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input": {"traits": ["A", "B", "A"]}}, "input.traits: A listed twice"),
        ({"strategies": {"serial": [], "ddp": [2]}}, "strategies.serial: [] while ddp is timed"),
        (
            {"input": {"mode": "plink", "bed": "https://example.org/x.bed"}},
            "input.bed: https://example.org/x.bed: give a local path",
        ),
        (
            {"input": {"mode": "vcf", "vcf": "absent.vcf.gz"}, "chromosomes": []},
            "chromosomes: not set, and absent.vcf.gz is not here yet",
        ),
    ],
)
def test_a_config_no_job_could_run_stops_the_plan(change, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        Plan(merged(default_config(), change))


def test_an_input_given_as_a_url_lives_under_resources():
    config = merged(default_config(), {"input": {"mode": "vcf", "vcf": "https://example.org/d/all.vcf.gz"}})
    config["chromosomes"] = ["1"]
    assert Plan(config).input_path("vcf") == "resources/vcf/all.vcf.gz"
