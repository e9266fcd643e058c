from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import DataError
from harness.store import gateway as gw
from harness.store.ab import create_experiment, delete_experiment
from harness.workspace import Workspace


@pytest.fixture
def engine(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "exp", {"base": 0.5, "cand": 0.5}, control="base")
    yield ws.engine
    ws.close()


def _log(engine, rid: str, unit: str, variant: str, ts: float, **kw) -> None:
    gw.log_request(engine, "exp", request_id=rid, unit_id=unit, variant=variant, served_by=kw.pop("served_by", variant),
                   ts=ts, **kw)


def test_requests_round_trip_in_time_order(engine) -> None:
    _log(engine, "r2", "u1", "cand", 20.0, served_by="base", fallback=True, fallback_reason="timeout: slow",
         latency_s=0.5, prompt_tokens=10, completion_tokens=3, cost=0.01)
    _log(engine, "r1", "u2", "base", 10.0)
    rows = gw.requests(engine, "exp")
    assert [r.request_id for r in rows] == ["r1", "r2"]
    assert rows[1].fallback is True and rows[1].served_by == "base" and rows[1].cost == 0.01
    assert gw.request_count(engine, "exp") == 2
    with pytest.raises(DataError, match="status"):
        _log(engine, "r3", "u", "base", 1.0, status="weird")
    with pytest.raises(DataError, match="unknown experiment"):
        gw.requests(engine, "nope")


def test_outcomes_are_counted_once_on_the_assigned_variant(engine) -> None:
    _log(engine, "r1", "u1", "cand", 1.0, served_by="base", fallback=True)
    _log(engine, "r2", "u1", "cand", 2.0)
    assert gw.log_outcomes(engine, "exp", {"thumbs_up": 1, "rating": 4}, request_id="r1") == 2
    assert gw.log_outcomes(engine, "exp", {"thumbs_up": 1}, request_id="r1") == 0  # the same feedback again
    assert gw.log_outcomes(engine, "exp", {"thumbs_up": 0}, request_id="r2") == 1  # another request: counts
    assert gw.log_outcomes(engine, "exp", {"resolved": 1}, unit_id="u1", ts=5.0) == 1
    assert gw.log_outcomes(engine, "exp", {"resolved": 1}, unit_id="u1") == 0
    rows = gw.outcomes(engine, "exp")
    assert len(rows) == 4 and {r["variant"] for r in rows} == {"cand"}  # intention-to-treat
    assert gw.outcome_names(engine, "exp") == ["rating", "resolved", "thumbs_up"]


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"request_id": "missing"}, gw.UnknownRequestError), ({"unit_id": "nobody"}, gw.UnknownRequestError),
    ({}, DataError), ({"request_id": "r1", "unit_id": "u1"}, DataError)])
def test_outcome_errors(engine, kwargs, error) -> None:
    _log(engine, "r1", "u1", "base", 1.0)
    with pytest.raises(error):
        gw.log_outcomes(engine, "exp", {"x": 1}, **kwargs)


@pytest.mark.parametrize("outcomes", [{}, {"x": "high"}, {"x": float("nan")}, {"x": True}, {"": 1}])
def test_bad_outcome_values(engine, outcomes) -> None:
    _log(engine, "r1", "u1", "base", 1.0)
    with pytest.raises(DataError):
        gw.log_outcomes(engine, "exp", outcomes, request_id="r1")


def test_deleting_the_experiment_deletes_its_gateway_rows(engine) -> None:
    from sqlalchemy import text

    _log(engine, "r1", "u1", "base", 1.0)
    gw.log_outcomes(engine, "exp", {"x": 1}, request_id="r1")
    assert delete_experiment(engine, "exp")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ab_requests")).scalar() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM ab_outcomes")).scalar() == 0


def _row(rid: str, unit: str, variant: str, ts: float) -> dict:
    return {"request_id": rid, "unit_id": unit, "variant": variant, "served_by": variant, "ts": ts,
            "latency_s": 0.1, "prompt_tokens": 3, "model": "m"}


@pytest.mark.parametrize("paramstyle", ["qmark", "named"])
def test_hot_path_writes_on_a_callers_transaction(tmp_path: Path, paramstyle: str) -> None:
    """What the gateway's event writer does: many rows and feedback posts in one transaction, on the
    driver's own parameter style (SQLite's default qmark; named, as some drivers use)."""
    from sqlalchemy import create_engine

    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "exp", {"base": 0.5, "cand": 0.5}, control="base")
    other = create_experiment(ws.engine, "other", {"base": 0.5, "cand": 0.5}, control="base")
    gw.log_request(ws.engine, "other", request_id="x1", unit_id="u9", variant="base", served_by="base", ts=1.0)
    engine = create_engine(ws.engine.url, paramstyle=paramstyle)
    assert engine.dialect.paramstyle == paramstyle
    exp_id = gw.experiment_id(engine, "exp")
    try:
        with engine.begin() as conn:
            gw.insert_requests(conn, gw.request_values(exp_id, [_row("r1", "u1", "base", 1.0),
                                                                _row("r2", "u1", "cand", 3.0)]))
            gw.insert_requests(conn, gw.request_values(exp_id, [_row("r3", "u2", "cand", 2.0)]))
            gw.insert_requests(conn, [])
            # feedback on requests of the same transaction: counted once, on the assigned variant
            assert gw.insert_outcomes(conn, exp_id, {"a": 1.0, "b": 2.0}, request_id="r1", unit_id=None, ts=5.0) == 2
            assert gw.insert_outcomes(conn, exp_id, {"a": 0.0, "c": 3.0}, request_id="r1", unit_id=None, ts=6.0) == 1
            assert gw.insert_outcomes(conn, exp_id, {"a": 1.0}, request_id="r1", unit_id=None, ts=7.0) == 0
            # by unit: the variant of the unit's latest request (r2 at ts 3, not r1 at ts 1)
            assert gw.insert_outcomes(conn, exp_id, {"a": 1.0}, request_id=None, unit_id="u1", ts=8.0) == 1
            assert gw.insert_outcomes(conn, exp_id, {"a": 9.0}, request_id=None, unit_id="u1", ts=9.0) == 0
            # unknown here (x1/u9 belong to another experiment): raises, writes nothing, the transaction goes on
            for kwargs in ({"request_id": "x1", "unit_id": None}, {"request_id": None, "unit_id": "u9"},
                           {"request_id": "nope", "unit_id": None}):
                with pytest.raises(gw.UnknownRequestError):
                    gw.insert_outcomes(conn, exp_id, {"z": 1.0}, ts=10.0, **kwargs)
        with pytest.raises(Exception, match="(?i)unique"):  # a failed transaction writes nothing
            with engine.begin() as conn:
                gw.insert_requests(conn, gw.request_values(exp_id, [_row("r4", "u4", "base", 4.0)]))
                gw.insert_requests(conn, gw.request_values(exp_id, [_row("r1", "u4", "base", 4.0)]))
        rows = gw.requests(engine, "exp")
        assert [(r.request_id, r.variant, r.latency_s, r.prompt_tokens, r.fallback, r.status, r.cost)
                for r in rows] == [("r1", "base", 0.1, 3, False, "ok", None), ("r3", "cand", 0.1, 3, False, "ok", None),
                                   ("r2", "cand", 0.1, 3, False, "ok", None)]
        assert [(o["request_id"], o["unit_id"], o["variant"], o["name"], o["value"], o["ts"])
                for o in gw.outcomes(engine, "exp")] == [
            ("r1", "u1", "base", "a", 1.0, 5.0), ("r1", "u1", "base", "b", 2.0, 5.0),
            ("r1", "u1", "base", "c", 3.0, 6.0), ("", "u1", "cand", "a", 1.0, 8.0)]
        assert gw.outcomes(engine, "other") == [] and other.id != exp_id
    finally:
        engine.dispose()
        ws.close()


@pytest.mark.parametrize(("paramstyle", "markers"), [
    ("qmark", ["?"] * 15), ("format", ["%s"] * 15), ("pyformat", ["%s"] * 15),
    ("numeric", [f":{i}" for i in range(1, 16)]), ("named", [f":p{i}" for i in range(15)])])
def test_hot_path_sql_uses_the_drivers_parameter_markers(paramstyle: str, markers: list[str]) -> None:
    from types import SimpleNamespace

    conn = SimpleNamespace(dialect=SimpleNamespace(paramstyle=paramstyle))
    insert, named = gw._sql(conn, "insert_request")  # type: ignore[arg-type]
    assert named == (paramstyle == "named")
    assert insert.startswith("INSERT INTO ab_requests (experiment_id, request_id, unit_id, variant, served_by, ")
    assert insert.endswith(f"VALUES ({', '.join(markers)})")
    outcome, _ = gw._sql(conn, "outcome_by_request")  # type: ignore[arg-type]
    assert f"WHERE request_id = {markers[3]} AND experiment_id = {markers[4]} ON CONFLICT" in outcome
