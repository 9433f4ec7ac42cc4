"""A training job's fingerprint: what decides whether a checkpoint may be resumed from."""

import dataclasses

import pytest

from gpgcn.gcn.timing_job import TrainJob
from gpgcn.gcn.training import TrainSettings

from helpers import train_settings


def job(tmp_path, **changes):
    inputs = {}
    for name in ("matrix.tsv", "accessions.txt", "graph.tsv", "split.tsv"):
        if not (tmp_path / name).exists():
            (tmp_path / name).write_text(f"{name}\n")
        inputs[name] = str(tmp_path / name)
    base = dict(
        strategy="serial",
        n_devices=1,
        graph=inputs["graph.tsv"],
        split=inputs["split.tsv"],
        outputs={},
        log=str(tmp_path / "log"),
        settings=dataclasses.asdict(train_settings()),
        self_loop_weight=1.0,
        matrices=[inputs["matrix.tsv"]],
        accessions=[inputs["accessions.txt"]],
        matrix_chromosomes=["1"],
    )
    return TrainJob(**{**base, **changes})


def changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    return {"cpu": "cuda", "centred": "standardised"}.get(value, value + "x")


SHAPING = [f.name for f in dataclasses.fields(TrainSettings) if f.name != "checkpoint_every"]


@pytest.mark.parametrize("key", SHAPING)
def test_every_training_setting_changes_the_fingerprint(tmp_path, key):
    reference = job(tmp_path)
    settings = {**reference.settings, key: changed(reference.settings[key])}
    assert job(tmp_path, settings=settings).fingerprint() != reference.fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"strategy": "intraop"},
        {"n_devices": 2},
        {"self_loop_weight": 5.0},
        {"matrix_chromosomes": ["2"]},
    ],
)
def test_strategy_devices_and_graph_settings_change_the_fingerprint(tmp_path, change):
    assert job(tmp_path, **change).fingerprint() != job(tmp_path).fingerprint()


@pytest.mark.parametrize("name", ["matrix.tsv", "accessions.txt", "graph.tsv", "split.tsv"])
def test_an_input_files_content_changes_the_fingerprint(tmp_path, name):
    before = job(tmp_path).fingerprint()
    (tmp_path / name).write_text("changed\n")
    assert job(tmp_path).fingerprint() != before


def test_how_often_checkpoints_are_written_does_not_change_it(tmp_path):
    reference = job(tmp_path)
    settings = {**reference.settings, "checkpoint_every": reference.settings["checkpoint_every"] + 7}
    assert job(tmp_path, settings=settings).fingerprint() == reference.fingerprint()


def test_the_kinship_files_content_changes_the_fingerprint(tmp_path):
    """Mode kinship: the node features are the matrix's rows, so its content shapes the result."""
    (tmp_path / "grm.tsv").write_text("grm\n")

    def kinship_job():
        return job(tmp_path, kinship=str(tmp_path / "grm.tsv"), matrices=[], accessions=[], matrix_chromosomes=[])

    before = kinship_job().fingerprint()
    (tmp_path / "grm.tsv").write_text("changed\n")
    assert kinship_job().fingerprint() != before
