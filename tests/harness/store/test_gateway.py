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
