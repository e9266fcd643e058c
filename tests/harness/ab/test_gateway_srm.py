"""The sample-ratio check of a gateway experiment whose weights changed: each period against its own weights."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from scipy import stats

from harness.ab import control
from harness.ab.api import analyze_experiment
from harness.ab.assignment import assign
from harness.ab.gateway_source import SRM_GUARD_S, GatewaySource
from harness.store.ab import create_experiment
from harness.store.gateway import log_requests
from harness.workspace import Workspace

W1 = {"base": 0.5, "candidate": 0.05}  # a canary next to a 50% control ...
W2 = {"base": 0.5, "candidate": 0.5}  # ... ramped up to 50/50 (sticky: nobody moves)


@pytest.fixture
def workspace(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    yield ws
    ws.close()


def _traffic(units: range, weights: dict[str, float], t0: float, *, drop_candidate: float = 0.0,
             seed: int = 0) -> list[dict]:
    """One request per enrolled unit, routed as the gateway does; ``drop_candidate`` loses that share of them."""
    rng = random.Random(seed)
    rows = []
    for i, u in enumerate(units):
        variant = assign(f"u{u}", "gw", weights)
        if variant is None or (variant == "candidate" and rng.random() < drop_candidate):
            continue
        rows.append({"request_id": f"r{t0}-{u}", "unit_id": f"u{u}", "variant": variant, "served_by": variant,
                     "ts": t0 + i * 0.01, "latency_s": rng.uniform(0.1, 0.5)})
    return rows


def _run(engine, *, drop_candidate: float = 0.0) -> tuple[list[dict], list[dict], float]:
    create_experiment(engine, "gw", W1, control="base")
    now = time.time()
    first = _traffic(range(0, 6000), W1, now - 5000)
    log_requests(engine, "gw", first)
    control.set_weights(engine, "gw", W2)
    changed = time.time()
    # returning units (most of the first period's) and new ones; the units that were not enrolled before
    # now land mostly in the candidate: a shift of the observed split that is not a mismatch
    second = _traffic(range(1000, 9000), W2, changed + SRM_GUARD_S + 1, drop_candidate=drop_candidate)
    log_requests(engine, "gw", second)
    return first, second, changed


def _counts(rows: list[dict]) -> list[int]:
    units = {v: {r["unit_id"] for r in rows if r["variant"] == v} for v in ("base", "candidate")}
    return [len(units["base"]), len(units["candidate"])]


def _reference_p(first: list[dict], second: list[dict]) -> tuple[float, list]:
    tests = []
    for rows, w in ((first, W1), (second, W2)):
        obs = _counts(rows)
        total = sum(obs)
        tests.append(stats.chisquare(obs, [total * w["base"] / sum(w.values()),
                                           total * w["candidate"] / sum(w.values())]))
    return min(1.0, 2 * min(t.pvalue for t in tests)), tests


def test_a_ramp_up_is_not_a_sample_ratio_mismatch(workspace) -> None:
    first, second, _ = _run(workspace.engine)
    result, decision = analyze_experiment(workspace.engine, "gw")
    # against today's 50/50 alone, all units look badly split (the old check flagged this experiment)
    units = [result.variants["base"], result.variants["candidate"]]
    assert stats.chisquare(units, [sum(units) / 2] * 2).pvalue < 1e-6
    # per period, against the weights in force then: no mismatch, and the numbers are scipy's
    p, tests = _reference_p(first, second)
    assert not result.srm.flag
    assert result.srm.p_value == pytest.approx(p, rel=1e-9)
    worst = min(tests, key=lambda t: t.pvalue)
    assert result.srm.chi2 == pytest.approx(worst.statistic, rel=1e-9)
    assert list(result.srm.observed) in (_counts(first), _counts(second))
    assert any("2 weight periods" in n for n in result.notes)
    assert "sample ratio" not in " ".join(decision.reasons)


def test_a_real_mismatch_after_the_change_is_still_flagged(workspace) -> None:
    first, second, _ = _run(workspace.engine, drop_candidate=0.15)  # 15% of the candidate's units lost
    result, decision = analyze_experiment(workspace.engine, "gw")
    p, tests = _reference_p(first, second)
    assert result.srm.flag and p < 0.001
    assert result.srm.p_value == pytest.approx(p, rel=1e-6)
    assert list(result.srm.observed) == _counts(second)
    assert result.srm.chi2 == pytest.approx(tests[1].statistic, rel=1e-9)
    assert decision.action == "keep_running" or decision.action == "rollback"
    assert any("sample ratio mismatch" in r for r in decision.reasons)


def test_requests_just_after_a_change_are_left_out(workspace) -> None:
    _, second, changed = _run(workspace.engine)
    # a request routed with the old weights in the gateway's cache window: not counted in either period
    log_requests(workspace.engine, "gw", [{"request_id": "late", "unit_id": "late-unit", "variant": "candidate",
                                           "served_by": "candidate", "ts": changed + 0.5}])
    periods = GatewaySource(workspace.engine, "gw").srm_periods(["base", "candidate"])
    assert periods is not None and [p.weights for p in periods] == [W1, W2]
    assert [periods[1].units["base"], periods[1].units["candidate"]] == _counts(second)


def test_without_a_weight_change_there_is_one_check_on_all_units(workspace) -> None:
    create_experiment(workspace.engine, "gw", W2, control="base")
    log_requests(workspace.engine, "gw", _traffic(range(2000), W2, 1.7e9))
    control.stop(workspace.engine, "gw")  # control changes other than weights do not make periods
    control.start(workspace.engine, "gw")
    assert GatewaySource(workspace.engine, "gw").srm_periods(["base", "candidate"]) is None
    result, _ = analyze_experiment(workspace.engine, "gw")
    obs = [result.variants["base"], result.variants["candidate"]]
    assert result.srm.p_value == pytest.approx(stats.chisquare(obs).pvalue, rel=1e-9)
