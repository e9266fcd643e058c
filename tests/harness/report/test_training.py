"""The training view: curves, early-stopping point and overfitting call, lineage and data files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.io import file_sha256
from harness.report.training import (
    TRAIN_COMMAND,
    model_curve,
    model_lineage,
    model_names,
    model_record,
    read_curve,
    training_data_files,
)
from harness.stats.overfitting import overfitting_signal, read_training_log
from harness.store.models import ModelRecord


def write_log(path: Path, rows: list[dict], torn_tail: bool = False) -> Path:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    path.write_text(text + ('{"step": 99, "train_lo' if torn_tail else ""), encoding="utf-8")
    return path


def overfit_rows() -> list[dict]:
    """Train loss falls 1.0 -> 0.1 over steps 1..10; val (every 2 steps) is best at step 4, then rises 3 times."""
    rows = [{"step": step, "train_loss": round(1.1 - 0.1 * step, 2)} for step in range(1, 11)]
    for step, loss in ((2, 0.9), (4, 0.7), (6, 0.8), (8, 0.9), (10, 1.0)):
        rows.append({"step": step, "val_loss": loss})
    return rows


# planted logs --------------------------------------------------------------------------------------------

def test_planted_overfitting_log_gives_best_step_and_warning(tmp_path: Path) -> None:
    log = write_log(tmp_path / "metrics.jsonl", overfit_rows(), torn_tail=True)
    curve = read_curve(log, model="m", planned_steps=10)
    assert curve.best_step == 4 and curve.best_val_loss == pytest.approx(0.7)
    assert curve.stop_step == 10  # the torn line (step 99) is skipped
    assert curve.overfitting.flagged
    assert curve.overfitting.val_rise == pytest.approx((1.0 - 0.7) / 0.7)
    assert curve.overfitting.train_change == pytest.approx(0.1 - 0.7)  # last train loss minus the one at step 4
    assert "keep the step 4 checkpoint" in curve.overfitting.describe()
    assert curve.stopping() == "training stopped at step 10 of 10; best validation loss 0.7000 at step 4"
    frame = curve.frame()
    assert list(frame.columns) == ["step", "split", "loss"]
    assert (frame["split"] == "train").sum() == 10 and (frame["split"] == "validation").sum() == 5
    val = frame[frame["split"] == "validation"].sort_values("step")
    assert val["loss"].tolist() == [0.9, 0.7, 0.8, 0.9, 1.0]


def test_planted_improving_log_is_not_flagged(tmp_path: Path) -> None:
    rows = [{"step": s, "train_loss": 1.0 - 0.05 * s} for s in range(1, 9)]
    rows += [{"step": s, "eval_loss": 1.0 - 0.1 * s} for s in (2, 4, 6, 8)]  # the other key the rule reads
    curve = read_curve(write_log(tmp_path / "metrics.jsonl", rows), stopped_early=True)
    assert curve.best_step == 8 and not curve.overfitting.flagged and curve.overfitting.error is None
    assert "early stopping" in curve.stopping()


def test_one_evaluation_still_has_a_best_step(tmp_path: Path) -> None:
    rows = [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.9}, {"step": 2, "val_loss": 0.95}]
    curve = read_curve(write_log(tmp_path / "metrics.jsonl", rows))
    assert curve.overfitting.error == "too_few_evaluations" and not curve.overfitting.flagged
    assert (curve.best_step, curve.best_val_loss) == (2, 0.95)


def test_missing_log_is_an_empty_curve(tmp_path: Path) -> None:
    curve = read_curve(tmp_path / "nope.jsonl")
    assert curve.empty and curve.best_step is None and curve.stop_step is None
    assert curve.frame().empty
    assert curve.stopping() == "no training steps logged"


def test_model_curve_reads_config_and_extra(tmp_path: Path) -> None:
    write_log(tmp_path / "metrics.jsonl", overfit_rows())
    record = ModelRecord(name="planted", path=str(tmp_path), base_model="tiny", method="lora", adapter=True,
                         config={"max_steps": 40}, extra={"stopped_early": True})
    curve = model_curve(record)  # no curves_path: the folder's metrics.jsonl
    assert (curve.model, curve.planned_steps, curve.stopped_early, curve.best_step) == ("planted", 40, True, 4)
    assert curve.stopping().startswith("training stopped at step 10 of 40 (early stopping")


# data files ----------------------------------------------------------------------------------------------

def test_data_files_missing_and_changed(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text('{"messages": []}\n', encoding="utf-8")
    record = ModelRecord(name="m", path=str(tmp_path), base_model="tiny", method="lora", adapter=True,
                         config={"train_file": str(train), "val_file": str(tmp_path / "gone.jsonl"),
                                 "mix": {"fraction": 0.0, "file": "/x.jsonl"}},
                         dataset_hashes={"train_file": "0" * 64, "val_file": "a" * 64})
    files = {f.role: f for f in training_data_files(record, check_hashes=True)}
    assert set(files) == {"train_file", "val_file"}  # no mix-in at fraction 0
    assert files["train_file"].exists and files["train_file"].current_hash == file_sha256(train)
    assert files["train_file"].unchanged is False and "has changed" in files["train_file"].describe()
    gone = files["val_file"]
    assert not gone.exists and gone.unchanged is None
    assert gone.describe() == f"val_file was {tmp_path / 'gone.jsonl'} (sha256 aaaaaaaaaaaa...); that file is not here any more"


def test_train_command_is_the_cli_spelling() -> None:
    from harness.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert TRAIN_COMMAND.split()[:2] == ["harness", "train"] and "train" in names
    assert (Path(__file__).parents[3] / TRAIN_COMMAND.split()[2]).is_file()


# the demo workspace --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_model(demo_workspace):
    from harness.workspace import Workspace

    assert demo_workspace.result.exit_code == 0, demo_workspace.result.stderr[-2000:]
    engine = Workspace.open_read_only(demo_workspace.path).engine
    assert "lora-extract" in model_names(engine)
    return model_record(engine, "lora-extract")


def test_demo_curve_matches_the_log(demo_model: ModelRecord) -> None:
    curve = model_curve(demo_model)
    log = Path(demo_model.path) / "metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    assert [(s, v) for s, v in curve.val] == sorted(val)
    assert len(curve.train) == sum(1 for r in rows if "train_loss" in r)
    best = min(val, key=lambda p: p[1])
    assert curve.best_step == best[0] and curve.best_val_loss == pytest.approx(best[1])
    assert curve.best_val_loss == pytest.approx(demo_model.best_val_loss)
    assert curve.stop_step == demo_model.steps
    # the same call `harness compare` makes on the same log
    assert curve.overfitting == overfitting_signal(*read_training_log(log))
    assert curve.overfitting.flagged == demo_model.extra["overfitting_warned"]


def test_demo_lineage(demo_model: ModelRecord) -> None:
    lineage = model_lineage(demo_model)
    recorded = json.loads((Path(demo_model.path) / "lineage.json").read_text())
    assert lineage.lineage_found
    assert lineage.value("base model") == "tiny"
    assert lineage.value("git commit") == (recorded["git_commit"] or "-")
    assert lineage.value("train_file") == demo_model.config["train_file"]
    assert lineage.value("train_file sha256") == recorded["dataset_hashes"]["train_file"]
    assert lineage.value("lora.r") == str(demo_model.config["lora"]["r"])
    assert lineage.value("best val loss") == f"{demo_model.best_val_loss:.4f}".rstrip("0").rstrip(".")
    data = recorded["data"]
    assert lineage.value("train examples used") == f"{data['train_examples']:,} of {data['train_examples_in_file']:,}"
    assert lineage.package_versions == recorded["package_versions"]
    assert set(lineage.frame()["section"]) == {"model", "code", "data", "config", "metrics"}


def test_demo_data_files_are_the_recorded_ones(demo_model: ModelRecord) -> None:
    files = {f.role: f for f in training_data_files(demo_model, check_hashes=True)}
    assert files["train_file"].path == demo_model.config["train_file"]
    assert files["train_file"].unchanged is True and files["val_file"].unchanged is True
