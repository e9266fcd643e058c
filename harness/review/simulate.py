"""Simulated reviewers: people with a known noise level who judge outputs against the references.

They exist for the demo and the tests: each reviewer claims items and submits labels through the real
queue API (:func:`harness.review.queue.next_item` / :func:`~harness.review.queue.submit`), so a
simulation exercises leases, overlap and idempotent submits the way real reviewers do.

The judge is cheap and deterministic (no model): :func:`similarity` of an output to its reference is
1.0 for an exact match, the F1 over ``(field, value)`` pairs when both are JSON objects, else the token
F1. From it a reviewer derives the "true" label and then errs with probability ``noise``:

- scale fields: ``low + round(similarity * (high - low))``, moved one step up or down with probability
  ``noise``;
- yes/no fields: ``similarity >= threshold`` (per field, :data:`YES_NO_THRESHOLDS`, default 0.5),
  flipped with probability ``noise``;
- optional text fields are left empty (a required one gets a fixed comment);
- pairwise: the output closer to the reference wins, a tie when both are equally close; with
  probability ``noise`` the choice is flipped (left <-> right, a tie becomes a random side).

With ``noise=0`` every reviewer gives the same labels (perfect agreement); the random draws depend only
on ``(seed, reviewer, item)``, so a simulation gives the same labels whatever the claim order.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["YES_NO_THRESHOLDS", "json_field_f1", "judge_pairwise", "judge_rubric", "similarity",
           "simulate_reviews", "token_f1"]

YES_NO_THRESHOLDS: dict[str, float] = {
    "policy_compliance": 0.25,  # only a clearly off answer breaks policy
    "factual_accuracy": 0.6,
    "tone_appropriate": 0.1,
}
"""The similarity at or above which a simulated reviewer answers "yes" to a yes/no field (default 0.5)."""

_TOKEN = re.compile(r"\w+", re.UNICODE)


def token_f1(output: str, reference: str) -> float:
    """Return the F1 of the lowercased word tokens of ``output`` against ``reference`` (bag of words),
    1.0 when both are empty and 0.0 when only one is."""
    out, ref = _TOKEN.findall(output.lower()), _TOKEN.findall(reference.lower())
    if not out or not ref:
        return float(out == ref)
    common: dict[str, int] = {}
    for token in ref:
        common[token] = common.get(token, 0) + 1
    overlap = 0
    for token in out:
        if common.get(token, 0) > 0:
            common[token] -= 1
            overlap += 1
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(out), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def json_field_f1(output: str, reference: str) -> float | None:
    """Return the F1 over the ``(field, value)`` pairs of two JSON objects, or ``None`` when either text is
    not a JSON object. Two empty objects score 1.0."""
    out, ref = _json_object(output), _json_object(reference)
    if out is None or ref is None:
        return None
    out_pairs = {(k, json.dumps(v, sort_keys=True)) for k, v in out.items()}
    ref_pairs = {(k, json.dumps(v, sort_keys=True)) for k, v in ref.items()}
    if not out_pairs and not ref_pairs:
        return 1.0
    overlap = len(out_pairs & ref_pairs)
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(out_pairs), overlap / len(ref_pairs)
    return 2 * precision * recall / (precision + recall)


def similarity(output: str, reference: str | None) -> float:
    """Return how close ``output`` is to ``reference`` in [0, 1]: 1.0 for an exact match (ignoring outer
    whitespace), the JSON field F1 when the reference is a JSON object (0.0 for an output that is not
    one), else the token F1; 0.0 without a reference."""
    if reference is None:
        return 0.0
    if output.strip() == reference.strip():
        return 1.0
    if _json_object(reference) is not None:
        return json_field_f1(output, reference) or 0.0
    return token_f1(output, reference)


def judge_rubric(rubric: Any, output: str, reference: str | None, *, noise: float,
                 rng: random.Random) -> dict[str, Any]:
    """Return one simulated reviewer's values for ``rubric`` (a :class:`harness.review.rubric.Rubric`):
    ``{field: int | bool | str}`` derived from :func:`similarity` with errors at rate ``noise``."""
    score = similarity(output, reference)
    values: dict[str, Any] = {}
    for spec in rubric.fields:
        err = rng.random() < noise  # drawn for every field, so one field's answer does not shift another's draws
        if spec.type == "scale":
            low, high = int(spec.low), int(spec.high)
            value = low + round(score * (high - low))
            if err and high > low:
                step = rng.choice((-1, 1))
                value = value + step if low <= value + step <= high else value - step
            values[spec.name] = value
        elif spec.type == "yes_no":
            value = score >= YES_NO_THRESHOLDS.get(spec.name, 0.5)
            values[spec.name] = (not value) if err else value
        elif spec.required:
            values[spec.name] = "simulated reviewer"
    return values


def judge_pairwise(left: str, right: str, reference: str | None, *, noise: float,
                   rng: random.Random) -> str:
    """Return one simulated reviewer's choice, ``"left"``, ``"right"`` or ``"tie"``: the output closer to
    the reference (a tie when equally close), flipped with probability ``noise``."""
    left_score, right_score = similarity(left, reference), similarity(right, reference)
    if abs(left_score - right_score) < 1e-9:
        choice = "tie"
    else:
        choice = "left" if left_score > right_score else "right"
    err, side = rng.random() < noise, rng.choice(("left", "right"))
    if not err:
        return choice
    return {"left": "right", "right": "left"}.get(choice, side)


def simulate_reviews(engine: Any, batch_id: str, reviewers: Sequence[str] = ("ana", "ben", "chen"),
                     noise: float = 0.2, seed: int = 0) -> int:
    """Let ``reviewers`` work through batch ``batch_id`` in turns (one item each per round, until the
    queue has nothing left for any of them); returns the number of labels submitted.

    Raises :class:`HarnessError` for a noise outside [0, 1], no reviewers, or an unknown batch.
    """
    from harness.errors import HarnessError
    from harness.review.queue import get_batch, next_item, submit

    if not 0.0 <= noise <= 1.0:
        raise HarnessError(f"noise {noise} must be between 0 and 1")
    if not reviewers or len(set(reviewers)) != len(reviewers):
        raise HarnessError(f"reviewers {list(reviewers)!r} must be distinct names, at least one")
    get_batch(engine, batch_id)  # an unknown batch fails here with the list of known ones
    submitted = 0
    active = list(reviewers)
    while active:
        for reviewer in list(active):
            task = next_item(engine, batch_id, reviewer)
            if task is None:
                active.remove(reviewer)
                continue
            rng = random.Random(f"{seed}:{reviewer}:{task.item_id}")
            if task.kind == "pairwise":
                left, right = task.outputs
                choice = judge_pairwise(left, right, task.reference, noise=noise, rng=rng)
                submit(engine, task.item_id, reviewer, choice=choice)
            else:
                values = judge_rubric(task.rubric, task.outputs[0], task.reference, noise=noise, rng=rng)
                submit(engine, task.item_id, reviewer, values)
            submitted += 1
    return submitted
