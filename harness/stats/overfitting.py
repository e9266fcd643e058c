"""Overfitting signal from a training log: validation loss rising while training loss falls.

Rule: take the evaluation points (steps with a validation loss). Flag when the last validation loss
is more than ``tolerance`` (relative) above the best one, it has risen on at least ``patience``
consecutive evaluations since the best, and the training loss fell between the best step and the
end. The report quotes the best step (where to stop / which checkpoint to keep).

This is the one overfitting rule: the trainer's loop (``trainers/loop.py``) applies it to the log so
far at every evaluation, ``harness compare`` to the whole log.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRAIN_KEYS = ("train_loss", "loss")
VAL_KEYS = ("val_loss", "eval_loss", "validation_loss")
NAN = float("nan")


@dataclass(frozen=True)
class OverfittingResult:
    """Whether the log shows overfitting, with the numbers behind the call."""

    flagged: bool
    best_step: float
    best_val_loss: float
    last_val_loss: float
    val_rise: float
    train_change: float
    n_evals: int
    error: str | None = None

    def describe(self) -> str:
        """A plain-language sentence for reports."""
        if self.error:
            return f"overfitting check not computed ({self.error})"
        if not self.flagged:
            return f"no overfitting signal (best validation loss {self.best_val_loss:.4f} at step {self.best_step:g})"
        return (f"overfitting: validation loss rose {100 * self.val_rise:.1f}% since step {self.best_step:g} "
                f"({self.best_val_loss:.4f} -> {self.last_val_loss:.4f}) while training loss changed "
                f"{self.train_change:+.4f}; keep the step {self.best_step:g} checkpoint")


def overfitting_signal(train: Sequence[tuple[float, float]], val: Sequence[tuple[float, float]],
                       tolerance: float = 0.02, patience: int = 2) -> OverfittingResult:
    """Analyse ``(step, loss)`` points of training and validation loss; returns an :class:`OverfittingResult`."""
    val = sorted(val)
    train = sorted(train)
    if len(val) < 2:
        return OverfittingResult(False, NAN, NAN, NAN, NAN, NAN, len(val), "too_few_evaluations")
    if len(train) < 2:
        return OverfittingResult(False, NAN, NAN, NAN, NAN, NAN, len(val), "no_training_loss")
    best_index = min(range(len(val)), key=lambda i: (val[i][1], i))
    best_step, best_loss = val[best_index]
    last_loss = val[-1][1]
    rise = (last_loss - best_loss) / abs(best_loss) if best_loss else (math.inf if last_loss > best_loss else 0.0)
    rising = 0
    for i in range(len(val) - 1, best_index, -1):
        if val[i][1] > val[i - 1][1]:
            rising += 1
        else:
            break
    before = [loss for step, loss in train if step <= best_step] or [train[0][1]]
    after = [loss for step, loss in train if step > best_step]
    train_change = (after[-1] - before[-1]) if after else 0.0
    flagged = rise > tolerance and rising >= patience and train_change < 0
    return OverfittingResult(flagged, best_step, best_loss, last_loss, rise, train_change, len(val))


def training_points(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``(train_points, val_points)`` as ``(step, loss)`` lists from numbered ``metrics.jsonl`` rows.

    A row contributes a training point for ``train_loss``/``loss`` and a validation point for
    ``val_loss``/``eval_loss``/``validation_loss`` (finite numbers only); the step is ``step`` (or
    ``global_step``, else the row's number). The trainer's loop and :func:`read_training_log` both use
    it, so the flag raised during training and the one ``harness compare`` reads from the log agree.
    """
    train: list[tuple[float, float]] = []
    val: list[tuple[float, float]] = []
    for number, row in rows:
        step = row.get("step", row.get("global_step", number))
        for keys, points in ((TRAIN_KEYS, train), (VAL_KEYS, val)):
            for key in keys:
                value = row.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                    points.append((float(step), float(value)))
                    break
    return train, val


def read_training_log(path: str | os.PathLike[str]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Read a trainer ``metrics.jsonl``: ``(train_points, val_points)`` as ``(step, loss)`` lists
    (see :func:`training_points`)."""
    from harness.io import read_jsonl

    return training_points(read_jsonl(path))
