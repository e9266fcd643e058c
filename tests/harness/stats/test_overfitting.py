"""Overfitting signal from training logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.stats.overfitting import overfitting_signal, read_training_log


def test_flags_rising_validation_loss(tmp_path: Path) -> None:
    lines = []
    for step in range(0, 110, 10):
        lines.append({"step": step, "loss": 2.0 - step * 0.015})
        if step % 20 == 0:
            val = 1.9 - step * 0.01 if step <= 40 else 1.5 + (step - 40) * 0.01
            lines.append({"step": step, "eval_loss": val})
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    train, val = read_training_log(log)
    result = overfitting_signal(train, val)
    assert result.flagged and result.best_step == 40
    # validation: best 1.5 at step 40, last 2.1 at step 100; training loss fell 1.4 -> 0.5 meanwhile
    assert (result.best_val_loss, result.last_val_loss) == pytest.approx((1.5, 2.1))
    assert result.train_change == pytest.approx(0.5 - 1.4)
    assert "keep the step 40 checkpoint" in result.describe()


def test_no_signal_when_validation_improves() -> None:
    train = [(s, 2.0 - s / 100) for s in range(0, 100, 10)]
    val = [(s, 1.9 - s / 200) for s in range(0, 100, 20)]
    result = overfitting_signal(train, val)
    assert not result.flagged and "no overfitting" in result.describe()
    one_bump = val[:-1] + [(90, val[-2][1] + 0.001)]
    assert not overfitting_signal(train, one_bump).flagged  # one small rise is noise


def test_guards() -> None:
    assert overfitting_signal([(0, 1.0), (1, 0.9)], [(0, 1.0)]).error == "too_few_evaluations"
    assert overfitting_signal([], [(0, 1.0), (1, 1.1)]).error == "no_training_loss"
