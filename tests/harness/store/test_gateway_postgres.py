"""The gateway's tables and the analysis of a gateway experiment on a real PostgreSQL server, checked
against the same events in SQLite (the server is started by the test when the binaries exist)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from harness.ab import control
from harness.ab.api import analyze_experiment
from harness.ab.config import AnalysisConfig, parse_metric_flag
from harness.ab.gateway_source import SRM_GUARD_S, GatewaySource
from harness.errors import DataError
from harness.store import gateway as gw
from harness.store.ab import create_experiment, delete_experiment
from harness.workspace import Workspace
from tests.harness.postgres_support import new_database, running_postgres


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with running_postgres() as url:
        yield url


@pytest.fixture
def engines(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """``{"sqlite": engine, "postgres": engine}``: two fresh workspaces, one per database."""
    lite = Workspace.open(tmp_path / "lite")
    monkeypatch.setenv("HARNESS_DATABASE_URL", new_database(postgres_url, f"gw_{request.node.name[:40].lower()}"))
    pg = Workspace.open(tmp_path / "pg")
    monkeypatch.delenv("HARNESS_DATABASE_URL")
    assert pg.engine.dialect.name == "postgresql" and lite.engine.dialect.name == "sqlite"
    yield {"sqlite": lite.engine, "postgres": pg.engine}
    lite.close()
    pg.close()


def _both(engines: dict, fn, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(engine, ...)`` on both databases; returns the PostgreSQL result after checking it equals SQLite's."""
    lite, pg = fn(engines["sqlite"], *args, **kwargs), fn(engines["postgres"], *args, **kwargs)
    assert pg == lite, fn.__name__
    return pg


def test_store_functions_on_postgres(engines) -> None:
    _both(engines, create_experiment, "exp", {"base": 0.5, "cand": 0.5}, control="base")
    _both(engines, gw.log_request, "exp", request_id="r2", unit_id="u1", variant="cand", served_by="base",
          ts=20.0, fallback=True, fallback_reason="timeout: slow", latency_s=0.5, prompt_tokens=10,
          completion_tokens=3, cost=0.01, model="m" * 600)
    _both(engines, gw.log_request, "exp", request_id="r1", unit_id="u2", variant="base", served_by="base", ts=10.0)
    assert _both(engines, gw.log_requests, "exp", [
        {"request_id": "r3", "unit_id": 7, "variant": "cand", "served_by": None, "ts": 30, "status": "error"}]) == 1
    rows = _both(engines, gw.requests, "exp")
    assert [r.request_id for r in rows] == ["r1", "r2", "r3"]
    assert rows[1].fallback is True and rows[0].fallback is False and rows[1].cost == 0.01
    assert len(rows[1].model or "") == 500 and rows[2].unit_id == "7" and rows[2].status == "error"
    assert _both(engines, gw.request_count, "exp") == 3
    # a failed batch writes nothing (all or nothing), on both databases
    for engine in engines.values():
        with pytest.raises(DataError, match="status"):
            gw.log_requests(engine, "exp", [{"request_id": "r4", "unit_id": "u", "variant": "base",
                                             "served_by": "base", "ts": 1.0},
                                            {"request_id": "r5", "unit_id": "u", "variant": "base",
                                             "served_by": "base", "ts": 1.0, "status": "weird"}])
    assert _both(engines, gw.request_count, "exp") == 3

    # feedback: counted once, on the assigned variant; by request id or by unit id (the latest request)
    assert _both(engines, gw.log_outcomes, "exp", {"thumbs_up": 1, "rating": 4}, request_id="r2", ts=21.0) == 2
    assert _both(engines, gw.log_outcomes, "exp", {"thumbs_up": 0, "rating": 4}, request_id="r2", ts=22.0) == 0
    assert _both(engines, gw.log_outcomes, "exp", {"thumbs_up": 1, "resolved": 1}, request_id="r1", ts=23.0) == 2
    assert _both(engines, gw.log_outcomes, "exp", {"resolved": 1}, unit_id="u1", ts=24.0) == 1
    assert _both(engines, gw.log_outcomes, "exp", {"resolved": 0}, unit_id="u1", ts=25.0) == 0
    got = _both(engines, gw.outcomes, "exp")
    assert [(r["request_id"], r["variant"], r["name"], r["value"]) for r in got] == [
        ("r2", "cand", "thumbs_up", 1.0), ("r2", "cand", "rating", 4.0), ("r1", "base", "thumbs_up", 1.0),
        ("r1", "base", "resolved", 1.0), ("", "cand", "resolved", 1.0)]
    assert _both(engines, gw.outcome_names, "exp") == ["rating", "resolved", "thumbs_up"]

    # unknown ids (the gateway's 404) and bad feedback, and nothing written by them
    for engine in engines.values():
        with pytest.raises(gw.UnknownRequestError, match="unknown request id"):
            gw.log_outcomes(engine, "exp", {"x": 1}, request_id="missing")
        with pytest.raises(gw.UnknownRequestError, match="unknown unit id"):
            gw.log_outcomes(engine, "exp", {"x": 1}, unit_id="nobody")
        create_experiment(engine, "other", {"base": 0.5, "cand": 0.5}, control="base")
        with pytest.raises(gw.UnknownRequestError, match="unknown request id"):  # r1 is exp's, not other's
            gw.log_outcomes(engine, "other", {"x": 1}, request_id="r1")
        with pytest.raises(gw.UnknownRequestError, match="unknown unit id"):
            gw.log_outcomes(engine, "other", {"x": 1}, unit_id="u1")
        with pytest.raises(DataError):
            gw.log_outcomes(engine, "exp", {"x": float("nan")}, request_id="r1")
        with pytest.raises(DataError, match="unknown experiment"):
            gw.requests(engine, "nope")
    assert len(_both(engines, gw.outcomes, "exp")) == 5

    # deleting the experiment deletes its gateway rows (ON DELETE CASCADE)
    assert _both(engines, delete_experiment, "exp")
    for engine in engines.values():
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM ab_requests")).scalar() == 0
            assert conn.execute(text("SELECT COUNT(*) FROM ab_outcomes")).scalar() == 0


W1 = {"base": 0.5, "candidate": 0.1}
W2 = {"base": 0.5, "candidate": 0.5}


def _traffic(engines: dict) -> None:
    """A gateway experiment on both databases: a ramp-up (two weight periods), fallbacks, costs, feedback."""
    from harness.ab.assignment import assign

    _both(engines, create_experiment, "gw", W1, control="base")
    control.set_weights(engines["sqlite"], "gw", W2)
    with engines["sqlite"].connect() as conn:  # the same weight history (change time) on both
        config = conn.execute(text("SELECT config_json FROM ab_experiments WHERE name = 'gw'")).scalar_one()
    control.set_weights(engines["postgres"], "gw", W2)
    with engines["postgres"].begin() as conn:
        conn.execute(text("UPDATE ab_experiments SET config_json = :c WHERE name = 'gw'"), {"c": config})
    changed = float(json.loads(config)["weight_history"][-1]["from"])

    rng = random.Random(7)
    rows, feedback = [], []
    for period, (weights, t0) in enumerate(((W1, changed - 4000.0), (W2, changed + SRM_GUARD_S + 1))):
        for u in range(period * 400, 400 + period * 1200):
            variant = assign(f"u{u}", "gw", weights)
            if variant is None:
                continue
            for k in range(rng.randint(1, 3)):
                rid = f"r{period}-{u}-{k}"
                fallback = variant == "candidate" and rng.random() < 0.2
                rows.append({"request_id": rid, "unit_id": f"u{u}", "variant": variant,
                             "served_by": "base" if fallback else variant, "ts": t0 + u + k * 0.1,
                             "fallback": fallback, "fallback_reason": "timeout" if fallback else None,
                             "latency_s": round(rng.uniform(0.1, 1.0) + (0.2 if variant == "candidate" else 0), 4),
                             "prompt_tokens": 12, "completion_tokens": rng.randint(5, 40),
                             "cost": rng.randint(1, 9) / 1000, "status": "ok"})
                outcomes = {}
                if rng.random() < 0.7:
                    outcomes["thumbs_up"] = float(rng.random() < (0.7 if variant == "candidate" else 0.45))
                if rng.random() < 0.3:
                    outcomes["rating"] = round(rng.uniform(1, 5) + (0.3 if variant == "candidate" else 0), 2)
                if outcomes:
                    feedback.append(({"request_id": rid}, outcomes))
            if rng.random() < 0.2:
                feedback.append(({"unit_id": f"u{u}"}, {"resolved": float(rng.random() < 0.5)}))
    for engine in engines.values():
        for i in range(0, len(rows), 500):
            gw.log_requests(engine, "gw", rows[i:i + 500])
        for j, (who, outcomes) in enumerate(feedback):
            gw.log_outcomes(engine, "gw", outcomes, ts=rows[0]["ts"] + j, **who)
        gw.log_outcomes(engine, "gw", feedback[0][1], **feedback[0][0])  # a repeat: ignored on both


def _assert_same(lite: Any, pg: Any, where: str = "") -> None:
    """Equal JSON-like values; floats to 1e-9 (sums may add in another order)."""
    if isinstance(lite, dict):
        assert isinstance(pg, dict) and list(lite) == list(pg), where
        for k in lite:
            _assert_same(lite[k], pg[k], f"{where}.{k}")
    elif isinstance(lite, list | tuple):
        assert isinstance(pg, list | tuple) and len(lite) == len(pg), where
        for i, (a, b) in enumerate(zip(lite, pg, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(lite, float) and not isinstance(pg, bool):
        assert isinstance(pg, int | float), where
        assert (math.isnan(lite) and math.isnan(pg)) or pg == pytest.approx(lite, rel=1e-9, abs=1e-12), where
    else:
        assert pg == lite, where


def test_gateway_analysis_on_postgres_equals_sqlite(engines) -> None:
    _traffic(engines)
    for engine in engines.values():
        assert gw.request_count(engine, "gw") > 1000 and len(gw.outcomes(engine, "gw")) > 800

    # the per-period sample-ratio counts and the quantiles, straight from the sources
    srcs = {k: GatewaySource(e, "gw") for k, e in engines.items()}
    periods = {k: s.srm_periods(["base", "candidate"]) for k, s in srcs.items()}
    assert periods["postgres"] is not None and len(periods["postgres"]) == 2
    assert periods["postgres"] == periods["sqlite"]
    probs = {"base": [0.05, 0.5, 0.95], "candidate": [0.5, 0.99]}
    for column in ("latency_s", "rating", "completion_tokens"):
        assert srcs["postgres"].quantiles(column, probs) == srcs["sqlite"].quantiles(column, probs), column

    configs = {
        "named outcomes": AnalysisConfig(metrics=(
            parse_metric_flag("thumbs_up:proportion"), parse_metric_flag("resolved:mean"),
            parse_metric_flag("rating_p90:quantile:rating@0.9"),
            parse_metric_flag("fallback_rate:ratio:fallback/requests"),
            parse_metric_flag("errors:ratio:error/requests")), sequential=False),
        "defaults": AnalysisConfig(sequential=False),
        "defaults, sequential": AnalysisConfig(),
    }
    for label, config in configs.items():
        (lite, lite_decision), (pg, pg_decision) = (analyze_experiment(engines[k], "gw", config)
                                                    for k in ("sqlite", "postgres"))
        _assert_same(lite.to_dict(), pg.to_dict(), label)
        _assert_same(lite_decision.to_dict(), pg_decision.to_dict(), label)
        for m in pg.metrics:  # real numbers on both arms; an effect wherever the control's mean is not 0
            assert all(a.n > 0 and math.isfinite(a.mean) for a in m.arms.values()), (label, m.spec.name)
            assert m.effect.error is None or m.arms["base"].mean == 0, (label, m.spec.name, m.effect.error)
    by_name = {m.spec.name: m for m in pg.metrics}
    assert {"thumbs_up", "rating", "resolved", "latency_p95", "cost_per_request", "fallback_rate"} <= set(by_name)
    assert by_name["fallback_rate"].guardrail == "harmed" and by_name["fallback_rate"].arms["base"].mean == 0.0
    assert any("2 weight periods" in n for n in pg.notes) and not pg.srm.flag


def test_gateway_writer_batches_on_postgres(engines) -> None:
    """The gateway's writer thread: requests and feedback in shared transactions, per-post results, on both."""
    import asyncio

    from harness.ab.gateway.events import EventWriter, FeedbackEvent, RequestEvent

    def burst(engine) -> tuple[list, list]:
        exp = create_experiment(engine, "w", {"a": 0.5, "b": 0.5})
        writer = EventWriter(engine, exp.id)

        async def jobs() -> list:
            todo = [writer.write(RequestEvent(f"r{i}", f"u{i % 7}", "ab"[i % 2], 1.0 + i, 0.01, None, error="x"))
                    for i in range(40)]
            todo.append(writer.write(RequestEvent("r1", "dup", "a", 99.0, 0.01, None, error="x")))  # fails alone
            todo += [writer.feedback(FeedbackEvent({"thumbs_up": float(i % 2)}, f"r{i}", None, 50.0))
                     for i in range(40)]
            todo += [writer.feedback(FeedbackEvent({"thumbs_up": 1.0}, "r2", None, 51.0)),
                     writer.feedback(FeedbackEvent({"resolved": 1.0}, None, "u3", 52.0)),
                     writer.feedback(FeedbackEvent({"x": 1.0}, "missing", None, 53.0))]
            return await asyncio.gather(*todo, return_exceptions=True)

        try:
            results = asyncio.run(jobs())
        finally:
            writer.close()
        kinds = [r if r is None or isinstance(r, int) else type(r).__name__ for r in results]
        return kinds, [(r["request_id"], r["unit_id"], r["variant"], r["name"], r["value"])
                       for r in gw.outcomes(engine, "w")]

    kinds, rows = _both(engines, burst)
    assert kinds[:40] == [None] * 40 and kinds[40] == "IntegrityError"
    assert kinds[41:81] == [1] * 40 and kinds[81:] == [0, 1, "UnknownRequestError"]
    assert len(rows) == 41 and ("", "u3", "a", "resolved", 1.0) in rows  # u3 last asked at r38 (variant a)
