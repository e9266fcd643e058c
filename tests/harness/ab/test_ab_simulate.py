"""The simulator produces what it promises: sizes, splits, true effects, sample-ratio mismatches."""

from __future__ import annotations

import numpy as np
import pytest

from harness.ab.simulate import SimulationConfig, iter_events, simulate_frame


def test_sizes_split_and_columns() -> None:
    cfg = SimulationConfig(days=3, units_per_day=400, weights={"a": 0.25, "b": 0.75}, seed=1)
    df = simulate_frame(cfg)
    units = df.groupby("variant")["unit_id"].nunique()
    assert units.sum() == cfg.total_units
    assert units["a"] / units.sum() == pytest.approx(0.25, abs=0.04)
    assert df.groupby("unit_id")["variant"].nunique().max() == 1  # a unit stays in its variant
    span = (df["timestamp"].max() - df["timestamp"].min()).total_seconds() / 86400
    assert 2.5 < span <= 3.0
    assert set(df["task_completed"].unique()) <= {0.0, 1.0}
    assert df["satisfaction"].isna().mean() == pytest.approx(0.7, abs=0.05)
    assert df["covariate"].between(0, 1).all() and (df["latency_s"] > 0).all()


def test_true_effects_are_applied() -> None:
    cfg = SimulationConfig(days=7, units_per_day=3000, effects={"candidate": {"latency_s": 0.2, "task_completed": 0.1}},
                           seed=2)
    sums: dict[str, np.ndarray] = {}
    for chunk in iter_events(cfg):
        for v in ("base", "candidate"):
            m = chunk["variant"] == v
            sums[v] = sums.get(v, 0) + np.array([m.sum(), chunk["latency_s"][m].sum(), chunk["task_completed"][m].sum()])
    base, cand = sums["base"], sums["candidate"]
    assert (cand[1] / cand[0]) / (base[1] / base[0]) == pytest.approx(1.2, abs=0.02)
    assert (cand[2] / cand[0]) / (base[2] / base[0]) == pytest.approx(1.1, abs=0.03)


def test_loss_creates_a_sample_ratio_mismatch() -> None:
    from harness.stats.srm import srm_check

    df = simulate_frame(SimulationConfig(days=2, units_per_day=5000, loss={"candidate": 0.1}, seed=3))
    units = df.groupby("variant")["unit_id"].nunique()
    assert srm_check([units["base"], units["candidate"]]).flag


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        SimulationConfig(effects={"zzz": {"cost": 0.1}})
    with pytest.raises(ValueError, match="at least two"):
        SimulationConfig(weights={"a": 1.0})


@pytest.mark.parametrize("name", ["events.parquet", "events.csv"])
def test_write_file_is_atomic_and_removes_what_a_killed_write_left(tmp_path, name) -> None:
    import pandas as pd

    from harness.ab.simulate import write_file

    path = tmp_path / name
    stale = tmp_path / f".{name}.999999999.x1y2.tmp"  # a write killed earlier: its process is gone
    stale.write_bytes(b"half a file")
    cfg = SimulationConfig(days=1, units_per_day=20, seed=1)
    n = write_file(cfg, path)
    frame = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    assert len(frame) == n and set(frame["variant"]) == {"base", "candidate"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
