"""The shared Trainer loop: early stopping, resume from checkpoint, the overfitting warning."""

from __future__ import annotations

import json
from pathlib import Path

from trainers.api import train


def _rows(record) -> list[dict]:
    return [json.loads(line) for line in Path(record.curves_path).read_text().splitlines()]


def test_early_stopping_triggers_after_patience(make_config, tmp_path):
    # A vanishing learning rate leaves validation loss flat: no evaluation improves on the first by
    # more than the threshold, so training stops after exactly `patience` further evaluations.
    config = make_config(name="flat", lr=1e-9, max_steps=40, eval_steps=2, early_stopping_patience=2,
                         early_stopping_threshold=0.01)
    record = train(config, tmp_path, say=lambda _m: None)
    val = [r["val_loss"] for r in _rows(record) if "val_loss" in r]
    assert record.extra["stopped_early"] is True
    assert len(val) == 3 and record.steps == 6
    assert max(val) - min(val) < 0.01
    assert record.best_val_loss == min(val)


def test_training_runs_to_max_steps_without_patience(make_config, tmp_path):
    record = train(make_config(name="nostop", lr=1e-9, max_steps=6, eval_steps=2, early_stopping_patience=None),
                   tmp_path, say=lambda _m: None)
    assert record.extra["stopped_early"] is False and record.steps == 6


def test_resume_continues_from_the_last_checkpoint(make_config, tmp_path):
    first = train(make_config(name="resumable", max_steps=4, eval_steps=2), tmp_path, say=lambda _m: None)
    checkpoints = sorted(p.name for p in (Path(first.path) / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-2", "checkpoint-4"]
    second = train(make_config(name="resumable", max_steps=8, eval_steps=2, resume=True), tmp_path,
                   overwrite=True, say=lambda _m: None)
    steps = [r["step"] for r in _rows(second) if "train_loss" in r]
    assert steps == list(range(1, 9))  # steps 1-4 from the first run, 5-8 after resuming (no restart at 1)
    assert second.steps == 8
    state = json.loads((Path(second.path) / "checkpoints" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8


def test_existing_unfinished_folder_needs_resume_or_force(make_config, tmp_path):
    import pytest

    from harness.errors import HarnessError

    (tmp_path / "models" / "half").mkdir(parents=True)
    (tmp_path / "models" / "half" / "metrics.jsonl").write_text("")
    with pytest.raises(HarnessError, match="unfinished run"):
        train(make_config(name="half"), tmp_path, say=lambda _m: None)


def test_overfitting_warning_when_val_rises_while_train_falls(tmp_path):
    from trainers.loop import make_metrics_logger

    warnings: list[str] = []
    logger = make_metrics_logger(tmp_path / "m.jsonl", append=False, warn=warnings.append)

    class State:
        is_world_process_zero = True
        num_input_tokens_seen = 0
        epoch = 0.0
        global_step = 0

    state = State()
    logger.on_train_begin(None, state, None)
    for step, (train_loss, val_loss) in enumerate([(2.0, 1.5), (1.5, 1.4), (1.0, 1.6)], start=1):
        state.global_step = step
        logger.on_log(None, state, None, logs={"loss": train_loss})
        logger.on_log(None, state, None, logs={"eval_loss": val_loss})
    assert len(warnings) == 1 and "1.4000 -> 1.6000" in warnings[0]
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r.get("warning") for r in rows if "val_loss" in r] == [None, None, "overfitting"]
