"""Simulate realistic LLM A/B experiments: units arriving over days, several requests each.

Each unit (user) has its own propensity to get its task done (logit-normal), its own latency level,
and a pre-period completion rate (the CUPED covariate). Per request: task completion, escalation
(more likely when the task failed), an optional 1-5 satisfaction rating (30% of requests), latency
(log-normal), prompt/response tokens and cost. ``effects`` sets true relative effects per variant,
e.g. ``{"candidate": {"task_completed": 0.05, "latency_s": 0.02}}``; ``loss`` drops a share of a
variant's units to reproduce a logging bug (a sample-ratio mismatch).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

COLUMNS = ("unit_id", "variant", "ts", "task_completed", "satisfaction", "escalated", "latency_s", "cost",
           "response_tokens", "prompt_tokens", "covariate")
EFFECT_METRICS = ("task_completed", "satisfaction", "escalated", "latency_s", "cost", "response_tokens")


@dataclass(frozen=True)
class SimulationConfig:
    """Sizes, base rates and true effects of a simulated experiment."""

    days: int = 14
    units_per_day: int = 300
    weights: dict[str, float] = field(default_factory=lambda: {"base": 0.5, "candidate": 0.5})
    requests_per_unit: float = 3.0
    task_completion: float = 0.70
    satisfaction_rate: float = 0.3
    latency_median_s: float = 1.2
    response_tokens: float = 180.0
    prompt_tokens: float = 400.0
    price_per_1k_prompt: float = 0.00015
    price_per_1k_response: float = 0.0006
    effects: dict[str, dict[str, float]] = field(default_factory=dict)
    loss: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    start: _dt.datetime = _dt.datetime(2026, 1, 5, tzinfo=_dt.UTC)  # a Monday

    def __post_init__(self) -> None:
        if self.days < 1 or self.units_per_day < 1:
            raise ValueError("days and units_per_day must be >= 1")
        if len(self.weights) < 2:
            raise ValueError("an experiment needs at least two variants in weights")
        for variant, eff in self.effects.items():
            if variant not in self.weights:
                raise ValueError(f"effects for unknown variant {variant!r}; variants: {list(self.weights)}")
            bad = set(eff) - set(EFFECT_METRICS)
            if bad:
                raise ValueError(f"unknown effect metric {sorted(bad)[0]!r}; choose from {EFFECT_METRICS}")

    @property
    def total_units(self) -> int:
        """Units entering the experiment over all days."""
        return self.days * self.units_per_day


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def iter_events(cfg: SimulationConfig, *, chunk_units: int = 100_000) -> Iterator[dict[str, np.ndarray]]:
    """Yield the events column by column (dict of arrays, :data:`COLUMNS`) in chunks of units."""
    rng = np.random.default_rng(cfg.seed)
    names = list(cfg.weights)
    w = np.array([cfg.weights[n] for n in names], dtype=float)
    w /= w.sum()
    start = cfg.start.timestamp()
    horizon = cfg.days * 86400.0
    logit_base = np.log(cfg.task_completion / (1 - cfg.task_completion))
    for first in range(0, cfg.total_units, chunk_units):
        n = min(chunk_units, cfg.total_units - first)
        arm = rng.choice(len(names), size=n, p=w)
        keep = np.ones(n, dtype=bool)
        for i, name in enumerate(names):
            if cfg.loss.get(name):
                keep &= ~((arm == i) & (rng.random(n) < cfg.loss[name]))
        ids = np.arange(first, first + n)[keep]
        arm = arm[keep]
        n = len(ids)
        arrival = np.sort(rng.random(n)) * horizon
        propensity = logit_base + rng.normal(0, 0.9, n)
        covariate = rng.binomial(10, _expit(propensity)) / 10.0
        speed = rng.normal(0, 0.2, n)
        k = 1 + rng.poisson(cfg.requests_per_unit - 1, n)
        unit = np.repeat(np.arange(n), k)
        m = len(unit)
        effect = {metric: np.array([cfg.effects.get(v, {}).get(metric, 0.0) for v in names])[arm[unit]]
                  for metric in EFFECT_METRICS}
        remaining = horizon - arrival[unit]
        ts = start + arrival[unit] + rng.random(m) * np.minimum(remaining, 3 * 86400.0)
        p_done = np.clip(_expit(propensity[unit]) * (1 + effect["task_completed"]), 0, 1)
        done = (rng.random(m) < p_done).astype(float)
        p_esc = np.clip(np.where(done == 1, 0.02, 0.18) * (1 + effect["escalated"]), 0, 1)
        escalated = (rng.random(m) < p_esc).astype(float)
        rated = rng.random(m) < cfg.satisfaction_rate
        score = np.clip(np.round(rng.normal(3.0 + 1.3 * done, 0.8) * (1 + effect["satisfaction"])), 1, 5)
        satisfaction = np.where(rated, score, np.nan)
        latency = cfg.latency_median_s * np.exp(speed[unit] + rng.normal(0, 0.45, m)) * (1 + effect["latency_s"])
        response = np.round(cfg.response_tokens * np.exp(rng.normal(0, 0.5, m)) * (1 + effect["response_tokens"]))
        prompt = np.round(cfg.prompt_tokens * np.exp(rng.normal(0, 0.3, m)))
        cost = (prompt * cfg.price_per_1k_prompt + response * cfg.price_per_1k_response) / 1000 * (1 + effect["cost"])
        order = np.argsort(ts, kind="stable")
        yield {
            "unit_id": np.char.add("u", np.char.zfill(ids[unit].astype(str), 9))[order],
            "variant": np.array(names, dtype=object)[arm[unit]][order],
            "ts": ts[order],
            "task_completed": done[order],
            "satisfaction": satisfaction[order],
            "escalated": escalated[order],
            "latency_s": np.round(latency, 4)[order],
            "cost": cost[order],
            "response_tokens": response[order],
            "prompt_tokens": prompt[order],
            "covariate": covariate[unit][order],
        }


def simulate_frame(cfg: SimulationConfig):  # -> pandas.DataFrame
    """Return all simulated events as one DataFrame with ISO timestamps (the events-file format)."""
    import pandas as pd

    frames = [pd.DataFrame(chunk) for chunk in iter_events(cfg)]
    df = pd.concat(frames, ignore_index=True)
    df["timestamp"] = pd.to_datetime(df.pop("ts"), unit="s", utc=True)
    return df[["unit_id", "variant", "timestamp", *COLUMNS[3:]]]


def write_file(cfg: SimulationConfig, path: Path) -> int:
    """Write simulated events to CSV or Parquet (by extension), atomically; returns the number of events."""
    from harness.io import atomic_write

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"unknown extension {suffix!r}; use .csv or .parquet")
    df = simulate_frame(cfg)
    if suffix == ".csv":
        with atomic_write(path) as fh:
            df.to_csv(fh, index=False)
    else:
        with atomic_write(path, "wb") as fh:
            df.to_parquet(fh, index=False)
    return len(df)


def write_store(cfg: SimulationConfig, engine: Engine, name: str, *, control: str | None = None,
                replace: bool = False, progress=None) -> int:
    """Create experiment ``name`` and insert the simulated events; returns the number of events.

    ``replace`` deletes an existing experiment of that name first; ``progress(n_events)`` is called
    after each chunk.
    """
    from harness.store.ab import create_experiment, delete_experiment, log_event_columns

    if replace:
        delete_experiment(engine, name)
    create_experiment(engine, name, cfg.weights, control=control or next(iter(cfg.weights)),
                      description=f"simulated: {cfg.days} days x {cfg.units_per_day} units/day, seed {cfg.seed}")
    total = 0
    try:
        for chunk in iter_events(cfg):
            # inserting in key order (unit, then time) appends to the clustered table instead of splitting pages
            order = np.lexsort((chunk["ts"], chunk["unit_id"]))
            total += log_event_columns(engine, name, {c: v[order] for c, v in chunk.items()})
            if progress:
                progress(total)
    except BaseException:
        delete_experiment(engine, name)  # all or nothing: no half-simulated experiment stays behind
        raise
    return total
