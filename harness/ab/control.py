"""Experiment control: start, stop, change weights, kill switch, read by a running gateway.

The state lives in the existing A/B tables (no schema of its own): the weights in ``ab_variants.weight``
and, in ``ab_experiments.config_json``, the keys ``"status"`` (``"running"`` or ``"stopped"``; an
experiment without it is running), ``"kill_switch"`` (bool, default off), ``"salt"`` (default: the
experiment name), ``"updated_at"`` (epoch seconds of the last change) and ``"weight_history"`` (every
weight change: ``[{"from": epoch or null, "weights": {...}}]``, for the sample-ratio check,
:func:`weight_periods`). A gateway re-reads
:func:`experiment_state` (about once a second), so a change takes effect without a restart.

While an experiment is stopped or its kill switch is on, every request goes to the control and records
no exposure (:meth:`ExperimentState.variant_for` returns ``None``), as for units that are not enrolled
(see :mod:`harness.ab.assignment`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.ab.assignment import assign, moved_share, slots
from harness.errors import DataError, HarnessError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

STATUSES = ("running", "stopped")
#: The keys of ``ab_experiments.config_json`` owned by this module (not analysis settings).
CONTROL_KEYS = ("status", "kill_switch", "salt", "updated_at", "weight_history")


@dataclass(frozen=True)
class ExperimentState:
    """What a gateway needs to route an experiment's traffic, as stored now.

    ``weights`` are absolute shares of all units (summing to at most 1); ``updated_at`` is the epoch
    time of the last control change (the experiment's creation time before any).
    """

    name: str
    control: str
    status: str
    weights: dict[str, float]
    kill_switch: bool
    salt: str
    updated_at: float
    variants: tuple[str, ...] = field(default=())

    @property
    def active(self) -> bool:
        """Return whether the experiment splits traffic now (running and not killed)."""
        return self.status == "running" and not self.kill_switch

    def variant_for(self, unit_id: str) -> str | None:
        """Return the unit's assigned variant, or ``None`` (stopped, killed or not enrolled: no exposure)."""
        if not self.active:
            return None
        return assign(unit_id, self.salt, self.weights)

    def serving(self, unit_id: str) -> str:
        """Return the variant that serves the unit: its assigned variant, else the control."""
        return self.variant_for(unit_id) or self.control


def experiment_state(engine: Engine, name: str) -> ExperimentState:
    """Return the stored state of experiment ``name`` (raises :class:`DataError` when it does not exist)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, control, config_json, created_at FROM ab_experiments WHERE name = :n"),
                           {"n": name}).first()
        if row is None:
            raise _unknown(name)
        variants = conn.execute(text("SELECT name, weight FROM ab_variants WHERE experiment_id = :e ORDER BY id"),
                                {"e": row[0]}).all()
    return _state(name, row[1], _config(row[2]), {v: float(w) for v, w in variants}, row[3])


def start(engine: Engine, name: str) -> ExperimentState:
    """Set the experiment running (traffic is split by its weights again); returns the new state."""
    return _update(engine, name, status="running")


def stop(engine: Engine, name: str) -> ExperimentState:
    """Stop the experiment: all traffic goes to the control, no exposures are recorded; returns the new state."""
    return _update(engine, name, status="stopped")


def kill(engine: Engine, name: str, on: bool = True) -> ExperimentState:
    """Turn the kill switch on (all traffic to the control at once) or off; returns the new state."""
    return _update(engine, name, kill_switch=bool(on))


def set_weights(engine: Engine, name: str, weights: Mapping[str, float], *, force: bool = False) -> ExperimentState:
    """Change the weights of some or all variants of ``name``; returns the new state.

    Weights are absolute shares of all units (the sum may be below 1: the rest is not enrolled). A change
    that would move already assigned units to another variant (e.g. 90/10 -> 50/50, which moves 40% of
    the units from the control to the candidate) is refused unless ``force``; ramp-ups from the
    unenrolled share (e.g. 10/10 -> 50/50) never move anyone.
    """
    from sqlalchemy import text

    current = experiment_state(engine, name)
    unknown = sorted(set(weights) - set(current.weights))
    if unknown:
        raise DataError(f"experiment {name!r} has no variant {unknown[0]!r}",
                        hint=f"its variants are {', '.join(current.weights)}")
    new = {**current.weights, **{k: float(v) for k, v in weights.items()}}
    try:
        slots(new)  # validates: no negative weight, the sum at most 1
    except DataError as exc:
        raise DataError(f"experiment {name!r}: {exc.message}", hint=exc.hint) from None
    if not any(w > 0 for w in new.values()):
        raise DataError(f"experiment {name!r}: every weight would be 0",
                        hint=f"to send all traffic to the control, use `harness ab stop {name}` or the kill switch")
    moved = moved_share(current.weights, new)
    if moved > 0 and not force:
        raise HarnessError(
            f"changing the weights of {name!r} from {_fmt(current.weights)} to {_fmt(new)} would move "
            f"{moved:.1%} of all units to another variant (assignments are sticky only when a variant grows "
            "into the unenrolled share)",
            hint="ramp up from a smaller enrolled share (e.g. base=0.1,candidate=0.1 -> base=0.5,candidate=0.5), "
            "or pass --force to reassign those units anyway")
    with engine.begin() as conn:
        exp_id, raw = conn.execute(text("SELECT id, config_json FROM ab_experiments WHERE name = :n"),
                                   {"n": name}).one()
        for variant, weight in new.items():
            conn.execute(text("UPDATE ab_variants SET weight = :w WHERE experiment_id = :e AND name = :v"),
                         {"w": weight, "e": exp_id, "v": variant})
    history = list(_config(raw).get("weight_history") or [{"from": None, "weights": dict(current.weights)}])
    history.append({"from": time.time(), "weights": new})
    return _update(engine, name, weight_history=history)


def weight_periods(config: Mapping[str, Any], weights: Mapping[str, float]) -> list[tuple[float, float, dict[str, float]]]:
    """Return the experiment's constant-weight periods as ``(start, end, weights)``, oldest first.

    ``config`` is the experiment's stored config (with the ``weight_history`` :func:`set_weights`
    keeps), ``weights`` its current weights; the first period starts at ``-inf``, the last ends at
    ``inf``. Without a recorded change it is one period with the current weights.
    """
    history = config.get("weight_history") or []
    if len(history) < 2:
        return [(-math.inf, math.inf, dict(weights))]
    starts = [-math.inf, *(float(h["from"]) for h in history[1:])]
    ends = [*starts[1:], math.inf]
    return [(a, b, {k: float(v) for k, v in h["weights"].items()}) for a, b, h in zip(starts, ends, history, strict=True)]


def _update(engine: Engine, name: str, **changes: Any) -> ExperimentState:
    """Merge ``changes`` into the experiment's config (with a new ``updated_at``) in one transaction."""
    from sqlalchemy import text

    with engine.begin() as conn:
        row = conn.execute(text("SELECT config_json FROM ab_experiments WHERE name = :n"), {"n": name}).first()
        if row is None:
            raise _unknown(name)
        config = _config(row[0])
        config.update(changes, updated_at=time.time())
        conn.execute(text("UPDATE ab_experiments SET config_json = :c WHERE name = :n"),
                     {"c": json.dumps(config, sort_keys=True), "n": name})
    return experiment_state(engine, name)


def _state(name: str, control: str, config: dict[str, Any], weights: dict[str, float], created_at: Any) -> ExperimentState:
    status = config.get("status", "running")
    if status not in STATUSES:
        raise DataError(f"experiment {name!r}: stored status {status!r} is not one of {STATUSES}",
                        hint=f"run `harness ab start {name}` or `harness ab stop {name}`")
    total = sum(weights.values())
    if total > 1:  # relative weights (e.g. 1 and 1 from an older simulate run): everyone is enrolled
        weights = {k: w / total for k, w in weights.items()}
    updated = config.get("updated_at")
    if updated is None:
        updated = _epoch(created_at)
    return ExperimentState(name=name, control=control, status=status, weights=weights,
                           kill_switch=bool(config.get("kill_switch", False)), salt=str(config.get("salt") or name),
                           updated_at=float(updated), variants=tuple(weights))


def _config(text: str | None) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}


def _epoch(value: Any) -> float:
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return float(value or 0.0)


def _unknown(name: str) -> DataError:
    return DataError(f"unknown experiment {name!r}",
                     hint="list them with `harness ab list`; the gateway creates its experiment on start")


def _fmt(weights: Mapping[str, float]) -> str:
    return ",".join(f"{k}={w:g}" for k, w in weights.items())
