"""Fixtures for the A/B tests: small simulated events files and summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def events_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated experiment (base vs candidate, candidate completes more tasks) as CSV."""
    from harness.ab.simulate import SimulationConfig, write_file

    path = tmp_path_factory.mktemp("ab") / "events.csv"
    write_file(SimulationConfig(days=7, units_per_day=150, effects={"candidate": {"task_completed": 0.1}}, seed=3), path)
    return path


@pytest.fixture
def summary_file(tmp_path: Path) -> Path:
    """A summary JSON with a proportion and a mean metric."""
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"variants": {
        "A": {"n": 3407, "metrics": {"conv": {"successes": 1022}, "revenue": {"sum": 10221.0, "sum_squares": 61000.0}}},
        "B": {"n": 3391, "metrics": {"conv": {"successes": 1102}, "revenue": {"sum": 10512.0, "sum_squares": 63500.0}}},
    }, "days": 14, "primary": "conv"}))  # two candidate primary metrics: the file names the deciding one
    return path
