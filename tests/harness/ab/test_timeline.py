"""The analysis as of successive times (harness.ab.timeline): cutoffs, and each point equal to the analysis of
the data logged by then, for simulated events and for gateway requests with late feedback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.ab.api import analyze_experiment
from harness.ab.timeline import SECONDS_PER_DAY, analyze_over_time, timeline_cutoffs
from harness.store.ab import create_experiment, log_events
from harness.store.gateway import log_outcomes, log_request
from harness.workspace import Workspace

T0 = 1.7e9


def test_cutoffs_are_daily_hourly_or_twelve_steps_and_end_at_the_last_row() -> None:
    assert timeline_cutoffs(T0, T0 + 3.5 * SECONDS_PER_DAY) == [T0 + k * SECONDS_PER_DAY for k in (1, 2, 3)] + [
        T0 + 3.5 * SECONDS_PER_DAY]
    assert timeline_cutoffs(T0, T0 + 3 * SECONDS_PER_DAY) == [T0 + k * SECONDS_PER_DAY for k in (1, 2, 3)]
    hours = timeline_cutoffs(T0, T0 + 5 * 3600)
    assert hours == [T0 + k * 3600 for k in (1, 2, 3, 4, 5)]
    short = timeline_cutoffs(T0, T0 + 60)
    assert len(short) == 12 and short[-1] == T0 + 60 and short[0] == pytest.approx(T0 + 5)
    assert timeline_cutoffs(T0, T0) == [T0]
    wide = timeline_cutoffs(T0, T0 + 200 * SECONDS_PER_DAY, max_points=50)
    assert len(wide) <= 50 and wide[0] == T0 + 4 * SECONDS_PER_DAY and wide[-1] == T0 + 200 * SECONDS_PER_DAY


def _requests(seed: int = 2) -> tuple[list[dict], list[dict]]:
    """Gateway traffic over 6 days; feedback on a request arrives 3 days later, by unit id half a day later."""
    rng = random.Random(seed)
    requests, outcomes = [], []
    for u in range(240):
        variant = "base" if rng.random() < 0.5 else "candidate"
        first = T0 + rng.uniform(0, 5 * SECONDS_PER_DAY)
        for k in range(rng.randint(1, 3)):
            ts = first + k * rng.uniform(0, SECONDS_PER_DAY)
            rid = f"r{u}-{k}"
            fallback = variant == "candidate" and rng.random() < 0.1
            requests.append({"request_id": rid, "unit_id": f"u{u}", "variant": variant, "ts": ts,
                             "served_by": "base" if fallback else variant, "fallback": fallback,
                             "latency_s": rng.uniform(0.2, 1.0), "completion_tokens": rng.randint(5, 40)})
            if rng.random() < 0.8:
                good = rng.random() < (0.7 if variant == "candidate" else 0.5)
                outcomes.append({"request_id": rid, "ts": ts + 3 * SECONDS_PER_DAY,
                                 "outcomes": {"thumbs_up": float(good)}})
        if rng.random() < 0.3:  # feedback by unit id counts when it arrives
            outcomes.append({"unit_id": f"u{u}", "ts": first + SECONDS_PER_DAY / 2,
                             "outcomes": {"resolved": float(rng.random() < 0.5)}})
    return requests, outcomes


def _log(engine, requests: list[dict], outcomes: list[dict]) -> None:
    create_experiment(engine, "gw", {"base": 0.5, "candidate": 0.5}, control="base")
    for r in sorted(requests, key=lambda r: r["ts"]):
        log_request(engine, "gw", **r)
    for o in outcomes:
        log_outcomes(engine, "gw", o["outcomes"], request_id=o.get("request_id"), unit_id=o.get("unit_id"),
                     ts=o["ts"])


def _effects(result) -> dict[tuple[str, str], tuple[float, float, float]]:
    return {(m.spec.name, m.treatment): (m.effect.absolute.estimate, *m.effect.absolute.ci) for m in result.metrics}


def _same(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12, nan_ok=True), key


def test_gateway_points_equal_the_analysis_of_the_rows_logged_by_then(tmp_path: Path) -> None:
    requests, outcomes = _requests()
    full = Workspace.open(tmp_path / "full")
    _log(full.engine, requests, outcomes)
    result, _ = analyze_experiment(full.engine, "gw")
    config = result.config  # the same metrics at every cutoff
    cutoff = T0 + 2.5 * SECONDS_PER_DAY
    points = analyze_over_time(full.engine, "gw", config, cutoffs=[cutoff, T0 + 10 * SECONDS_PER_DAY])

    # the reference: a store holding only the requests served by the cutoff, with the feedback about them
    # (dated by its request, although it arrived 3 days later) and the feedback by unit id sent by then
    part = Workspace.open(tmp_path / "part")
    served = [r for r in requests if r["ts"] <= cutoff]
    ids = {r["request_id"] for r in served}
    _log(part.engine, served, [o for o in outcomes if o.get("request_id") in ids
                               or ("unit_id" in o and o["ts"] <= cutoff)])
    expected, _ = analyze_experiment(part.engine, "gw", config)
    assert points[0].result is not None and points[0].error is None
    assert points[0].result.variants == expected.variants
    assert points[0].days == pytest.approx(2.5 - (min(r["ts"] for r in requests) - T0) / SECONDS_PER_DAY)
    _same(_effects(points[0].result), _effects(expected))
    assert {m.spec.name for m in points[0].result.metrics} >= {"thumbs_up", "fallback_rate"}
    # the last point is the full analysis (its unit-id feedback included)
    _same(_effects(points[-1].result), _effects(result))
    assert points[-1].result.days == pytest.approx(result.days)
    # before any feedback by unit id, the "resolved" metric cannot be computed: that point says so
    early = analyze_over_time(full.engine, "gw", config, cutoffs=[min(r["ts"] for r in requests) + 60])
    assert early[0].result is None and "resolved" in (early[0].error or "")
    full.close()
    part.close()


def test_simulated_events_points_and_a_cutoff_before_a_variant_has_units(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "sim", {"base": 0.5, "candidate": 0.5}, control="base")
    rng = random.Random(5)
    events = [{"unit_id": "first", "variant": "base", "ts": T0, "task_completed": 1.0}]
    for u in range(300):
        variant = ("base", "candidate")[u % 2]
        for _ in range(rng.randint(1, 3)):
            events.append({"unit_id": f"u{u}", "variant": variant, "ts": T0 + 3600 + rng.uniform(0, 4 * SECONDS_PER_DAY),
                           "task_completed": float(rng.random() < (0.6 if variant == "candidate" else 0.5)),
                           "latency_s": rng.uniform(0.1, 2.0)})
    log_events(ws.engine, "sim", events)
    config = analyze_experiment(ws.engine, "sim", None)[0].config
    points = analyze_over_time(ws.engine, "sim", config)
    assert [round(p.days, 6) for p in points] == [1.0, 2.0, 3.0, 4.0, round(points[-1].days, 6)]
    assert points[-1].cutoff == max(e["ts"] for e in events)
    late = analyze_over_time(ws.engine, "sim", config, cutoffs=[T0 + 1])
    assert late[0].result is None or late[0].result.variants["candidate"] == 0
    _same(_effects(points[-1].result), _effects(analyze_experiment(ws.engine, "sim", config)[0]))
    ws.close()
