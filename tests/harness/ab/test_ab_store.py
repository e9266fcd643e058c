"""The A/B event store API: experiments, bulk insert, SQL aggregation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.ab.store_source import StoreSource
from harness.errors import DataError
from harness.store.ab import (
    create_experiment,
    delete_experiment,
    get_experiment,
    list_experiments,
    log_events,
)
from harness.workspace import Workspace


@pytest.fixture
def engine(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    yield ws.engine
    ws.close()


def test_create_get_list_delete(engine) -> None:
    info = create_experiment(engine, "exp", {"a": 0.3, "b": 0.7}, control="a", config={"alpha": 0.01})
    assert info.weights == {"a": 0.3, "b": 0.7} and info.control == "a" and info.config == {"alpha": 0.01}
    assert get_experiment(engine, "exp") == info
    with pytest.raises(DataError, match="already exists"):
        create_experiment(engine, "exp", {"a": 1, "b": 1})
    assert create_experiment(engine, "exp", {"a": 1, "b": 1}, exist_ok=True) == info
    with pytest.raises(DataError, match="control 'z'"):
        create_experiment(engine, "x", {"a": 1, "b": 1}, control="z")
    with pytest.raises(DataError, match="at least two variants"):
        create_experiment(engine, "x", {"a": 1})
    assert [e.name for e in list_experiments(engine)] == ["exp"]
    log_events(engine, "exp", [{"unit_id": "u1", "variant": "a", "ts": 0.0, "cost": 1.0}])
    assert delete_experiment(engine, "exp") and get_experiment(engine, "exp") is None
    assert not delete_experiment(engine, "exp")


def test_log_events_is_all_or_nothing(engine) -> None:
    import datetime as dt

    from sqlalchemy import text

    create_experiment(engine, "exp", {"a": 1, "b": 1})
    good = {"unit_id": "u1", "variant": "a", "ts": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "latency_s": 1.0}
    with pytest.raises(DataError, match="event 1 .* variant 'c'"):
        log_events(engine, "exp", [good, {**good, "variant": "c"}], batch_size=1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ab_events")).scalar() == 0
    assert log_events(engine, "exp", [good, ("u2", "b", 5.0, 1, None, 0, 2.0, 0.1, 100, 300, 0.5)]) == 2
    with pytest.raises(DataError, match="unknown experiment"):
        log_events(engine, "nope", [good])


def test_sql_aggregation_per_unit(engine) -> None:
    from harness.ab.sums import Pair, UnitValue

    create_experiment(engine, "exp", {"a": 1, "b": 1})
    rows = [("u1", "a", 0.0, 1, None, 0, 1.0, 0.1, 10, 5, 0.2), ("u1", "a", 1.0, 0, None, 0, 3.0, 0.1, 10, 5, 0.2),
            ("u2", "a", 2.0, 1, None, 0, 2.0, 0.1, 10, 5, 0.4), ("u3", "b", 86400.0, 1, 5, 0, 4.0, 0.1, 10, 5, 0.1)]
    log_events(engine, "exp", rows)
    src = StoreSource(engine, "exp")
    pair = Pair(UnitValue("sum", "latency_s"), UnitValue("count"))
    sums = src.pair_sums([pair], {})
    a = sums["a"][0]
    # units: u1 (latency 1+3, 2 requests), u2 (2, 1)
    assert (a.n, a.sum_a, a.sum_b, a.sum_aa, a.sum_bb, a.sum_ab) == (2, 6.0, 3.0, 20.0, 5.0, 10.0)
    units, t0, t1 = src.overview()
    assert units == {"a": 2, "b": 1} and (t0, t1) == (0.0, 86400.0)
    with pytest.raises(DataError, match="not in the event store"):
        src.quantiles("bogus; DROP TABLE ab_events", {"a": [0.5]})


@pytest.mark.parametrize("column", ["latency_s", "cost"])  # with and without an index
def test_quantiles_match_numpy_inverted_cdf(engine, column: str) -> None:
    import numpy as np

    from harness.store.ab import log_event_columns

    rng = np.random.default_rng(0)
    create_experiment(engine, "exp", {"a": 1, "b": 1})
    n = 2001
    values = rng.lognormal(0, 1, n)
    values[::50] = np.nan  # missing values are ignored
    variant = np.where(rng.random(n) < 0.5, "a", "b")
    log_event_columns(engine, "exp", {"unit_id": np.char.add("u", np.arange(n).astype(str)), "variant": variant,
                                      "ts": np.arange(n, dtype=float), column: values})
    probs = [0.0, 0.05, 0.5, 0.95, 0.999, 1.0]
    got = StoreSource(engine, "exp").quantiles(column, {"a": probs, "b": probs})
    for v in ("a", "b"):
        x = values[(variant == v) & ~np.isnan(values)]
        assert got[v] == pytest.approx(np.quantile(x, probs, method="inverted_cdf").tolist(), abs=0)


def test_columnar_insert_errors(engine) -> None:
    from harness.store.ab import log_event_columns

    create_experiment(engine, "exp", {"a": 1, "b": 1})
    with pytest.raises(DataError, match="missing column 'ts'"):
        log_event_columns(engine, "exp", {"unit_id": ["u"], "variant": ["a"]})
    with pytest.raises(DataError, match="unknown column 'latency'"):
        log_event_columns(engine, "exp", {"unit_id": ["u"], "variant": ["a"], "ts": [0.0], "latency": [1.0]})
    with pytest.raises(DataError, match="column 'ts' has 2 values"):
        log_event_columns(engine, "exp", {"unit_id": ["u"], "variant": ["a"], "ts": [0.0, 1.0]})
    assert log_event_columns(engine, "exp", {"unit_id": ["u", "u"], "variant": ["a", "a"], "ts": [0.0, 0.0]}) == 2
    with pytest.raises(DataError, match="unknown experiment 'zz'"):
        StoreSource(engine, "zz")


def test_rollup_follows_batches_and_rebuild_agrees(engine) -> None:
    import numpy as np
    from sqlalchemy import text

    from harness.ab.config import AnalysisConfig, default_store_metrics
    from harness.ab.simulate import SimulationConfig, iter_events
    from harness.store.ab import EVENT_COLUMNS, rebuild_rollup

    create_experiment(engine, "exp", {"base": 1, "candidate": 1})
    chunk = next(iter_events(SimulationConfig(days=2, units_per_day=200, seed=5)))
    rows = list(zip(*(chunk[c].tolist() for c in EVENT_COLUMNS), strict=True))
    np.random.default_rng(0).shuffle(rows)  # a unit's events arrive in several batches
    log_events(engine, "exp", rows, batch_size=97)

    def snapshot() -> list:
        with engine.connect() as conn:
            return conn.execute(text("SELECT * FROM ab_units ORDER BY unit_id, variant")).all()

    incremental = snapshot()
    assert rebuild_rollup(engine, "exp") == len(incremental) == len(set(chunk["unit_id"]))
    rebuilt = snapshot()
    for a, b in zip(incremental, rebuilt, strict=True):
        assert all(x == y if x is None or isinstance(x, str) else x == pytest.approx(y, rel=1e-9)
                   for x, y in zip(a, b, strict=True)), (a, b)
    cfg = AnalysisConfig(metrics=default_store_metrics())
    from harness.ab.collect import collect

    one = collect(StoreSource(engine, "exp", workers=1), cfg)
    three = collect(StoreSource(engine, "exp", workers=3), cfg)
    assert one.units == three.units and one.days == three.days
    from dataclasses import astuple

    for name in one.metrics:
        for v in one.metrics[name]:
            assert astuple(one.metrics[name][v]) == pytest.approx(astuple(three.metrics[name][v]), rel=1e-9), name


def test_a_variant_without_units_is_reported_and_flags_srm(engine) -> None:
    from harness.ab.api import analyze_experiment
    from harness.ab.config import AnalysisConfig, MetricSpec

    create_experiment(engine, "exp", {"a": 1, "b": 1, "c": 1})
    rows = [(f"u{i}", "ab"[i % 2], float(i), i % 3 == 0, None, 0, 1.0 + i % 5, 0.1, 10, 5, 0.2) for i in range(600)]
    log_events(engine, "exp", rows)
    result, decision = analyze_experiment(engine, "exp", AnalysisConfig(metrics=(MetricSpec("task_completed", "proportion"),)))
    assert result.variants == {"a": 300, "b": 300, "c": 0}
    assert result.srm.flag and decision.action == "keep_running"  # a broken split is never shipped
