"""Analysis of gateway events: requests are exposures, named outcomes are metrics, fallback is a guardrail."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from harness.ab.config import AnalysisConfig, parse_metric_flag
from harness.ab.gateway_source import GatewaySource, open_event_source
from harness.ab.store_source import StoreSource
from harness.ab.sums import Pair, UnitValue, order_statistic_index
from harness.errors import DataError
from harness.store.ab import create_experiment, log_events
from harness.store.gateway import log_outcomes, log_request
from harness.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    yield ws
    ws.close()


def _fill(engine, *, units: int = 300, seed: int = 1) -> list[dict]:
    """Log gateway traffic: the candidate gets more thumbs up and falls back on ~20% of its requests."""
    create_experiment(engine, "gw", {"base": 0.5, "candidate": 0.5}, control="base")
    rng = random.Random(seed)
    rows = []
    for u in range(units):
        variant = "base" if u % 2 == 0 else "candidate"
        for k in range(rng.randint(1, 3)):
            rid = f"r{u}-{k}"
            fallback = variant == "candidate" and rng.random() < 0.2
            row = {"request_id": rid, "unit_id": f"u{u}", "variant": variant, "ts": 1.7e9 + u * 600 + k,
                   "fallback": fallback, "latency_s": rng.uniform(0.1, 1.0) + (0.3 if variant == "candidate" else 0),
                   "completion_tokens": rng.randint(5, 40)}
            log_request(engine, "gw", request_id=rid, unit_id=row["unit_id"], variant=variant,
                        served_by="base" if fallback else variant, ts=row["ts"], fallback=fallback,
                        latency_s=row["latency_s"], completion_tokens=row["completion_tokens"], prompt_tokens=10)
            outcomes = {}
            if rng.random() < 0.7:  # not every request gets feedback
                outcomes["thumbs_up"] = float(rng.random() < (0.75 if variant == "candidate" else 0.45))
            if rng.random() < 0.3:
                outcomes["rating"] = float(rng.randint(1, 5))
            if outcomes:
                log_outcomes(engine, "gw", outcomes, request_id=rid)
            row["outcomes"] = outcomes
            rows.append(row)
    return rows


def _per_unit(rows: list[dict], variant: str, value) -> list[float | None]:
    by_unit: dict[str, list[dict]] = {}
    for r in rows:
        if r["variant"] == variant:
            by_unit.setdefault(r["unit_id"], []).append(r)
    return [value(rs) for rs in by_unit.values()]


def test_pair_sums_match_a_per_unit_computation(workspace) -> None:
    rows = _fill(workspace.engine)
    src = open_event_source(workspace.engine, "gw")
    assert isinstance(src, GatewaySource)

    def outcome_values(rs, name):
        return [r["outcomes"][name] for r in rs if name in r["outcomes"]]

    values = {
        "requests": (UnitValue("count"), lambda rs: float(len(rs))),
        "latency_sum": (UnitValue("sum", "latency_s"), lambda rs: sum(r["latency_s"] for r in rs)),
        "fallbacks": (UnitValue("sum", "fallback"), lambda rs: float(sum(r["fallback"] for r in rs))),
        "thumbs_max": (UnitValue("max", "thumbs_up"),
                       lambda rs: max(outcome_values(rs, "thumbs_up"), default=None)),
        "thumbs_mean": (UnitValue("mean", "thumbs_up"),
                        lambda rs: (np.mean(v) if (v := outcome_values(rs, "thumbs_up")) else None)),
        "thumbs_sum": (UnitValue("sum", "thumbs_up"), lambda rs: float(sum(outcome_values(rs, "thumbs_up")))),
        "rating_n": (UnitValue("count", "rating"), lambda rs: float(len(outcome_values(rs, "rating")))),
    }
    names = list(values)
    pairs = [Pair(values[a][0], values[b][0]) for a, b in zip(names, names[1:] + names[:1], strict=True)]
    got = src.pair_sums(pairs, {})
    for variant in ("base", "candidate"):
        for (a, b), sums in zip(zip(names, names[1:] + names[:1], strict=True), got[variant], strict=True):
            xa, xb = _per_unit(rows, variant, values[a][1]), _per_unit(rows, variant, values[b][1])
            both = [(x, y) for x, y in zip(xa, xb, strict=True) if x is not None and y is not None]
            assert sums.n == len(both), (a, b)
            assert sums.sum_a == pytest.approx(sum(x for x, _ in both)), (a, b)
            assert sums.sum_ab == pytest.approx(sum(x * y for x, y in both)), (a, b)
            assert sums.sum_bb == pytest.approx(sum(y * y for _, y in both)), (a, b)
    units, first, last = src.overview()
    assert units == {v: len({r["unit_id"] for r in rows if r["variant"] == v}) for v in ("base", "candidate")}
    assert first == min(r["ts"] for r in rows) and last == max(r["ts"] for r in rows)


@pytest.mark.parametrize("column", ["latency_s", "rating"])
def test_quantiles_and_le_counts(workspace, column: str) -> None:
    rows = _fill(workspace.engine)
    src = GatewaySource(workspace.engine, "gw")
    got = src.quantiles(column, {"base": [0.5, 0.95], "candidate": [0.5]})
    for variant, probs in (("base", [0.5, 0.95]), ("candidate", [0.5])):
        vals = sorted(r[column] if column in r else r["outcomes"][column] for r in rows
                      if r["variant"] == variant and (column in r or column in r["outcomes"]))
        assert got[variant] == [vals[order_statistic_index(p, len(vals))] for p in probs]
    # per-unit "values at or below q" counts, summed over units = values at or below q
    q = got["candidate"][0]
    le = UnitValue("le", column, 0.5)
    sums = src.pair_sums([Pair(le, UnitValue("count", column))], {le.key: {"base": q, "candidate": q}})
    for variant in ("base", "candidate"):
        vals = [r[column] if column in r else r["outcomes"][column] for r in rows
                if r["variant"] == variant and (column in r or column in r["outcomes"])]
        assert sums[variant][0].sum_a == sum(v <= q for v in vals)
        assert sums[variant][0].sum_b == len(vals)


def test_unknown_column_names_the_outcomes(workspace) -> None:
    _fill(workspace.engine, units=10)
    with pytest.raises(DataError, match="nor a recorded outcome") as err:
        GatewaySource(workspace.engine, "gw").pair_sums([Pair(UnitValue("sum", "thumbs"), UnitValue("count"))], {})
    assert "thumbs_up" in (err.value.hint or "")


def test_simulated_experiments_keep_the_event_store_source(workspace) -> None:
    create_experiment(workspace.engine, "sim", {"a": 0.5, "b": 0.5})
    log_events(workspace.engine, "sim", [{"unit_id": "u1", "variant": "a", "ts": 0.0, "task_completed": 1.0}])
    assert type(open_event_source(workspace.engine, "sim")) is StoreSource


def test_named_outcome_metric_and_fallback_guardrail(workspace) -> None:
    from harness.ab.api import analyze_experiment

    rows = _fill(workspace.engine, units=600)
    cfg = AnalysisConfig(metrics=(parse_metric_flag("thumbs_up:proportion"),), sequential=False)
    result, _ = analyze_experiment(workspace.engine, "gw", cfg)
    (m,) = result.metrics
    for variant in ("base", "candidate"):
        per_unit = [x for x in _per_unit(rows, variant, lambda rs: max(
            (r["outcomes"]["thumbs_up"] for r in rs if "thumbs_up" in r["outcomes"]), default=None)) if x is not None]
        assert m.arms[variant].n == len(per_unit)
        assert m.arms[variant].mean == pytest.approx(np.mean(per_unit))
    assert m.improved  # 0.75 vs 0.45 per feedback: a clear effect

    # default metrics: outcomes + guardrails, fallback rate among them, lower is better
    result, decision = analyze_experiment(workspace.engine, "gw", AnalysisConfig(sequential=False))
    by_name = {x.spec.name: x for x in result.metrics}
    assert {"thumbs_up", "rating", "latency_mean", "latency_p95", "fallback_rate"} <= set(by_name)
    assert "cost_per_request" not in by_name  # no request has a cost
    assert result.config.primary_metric() == "thumbs_up"
    fb = by_name["fallback_rate"]
    assert fb.spec.role == "guardrail" and not fb.spec.higher_is_better
    cand = [r for r in rows if r["variant"] == "candidate"]
    assert fb.arms["base"].mean == 0.0
    assert fb.arms["candidate"].mean == pytest.approx(sum(r["fallback"] for r in cand) / len(cand))
    assert fb.guardrail == "harmed" and by_name["latency_mean"].guardrail == "harmed"
    assert decision.to_dict()  # the decision is computed from those metrics
    assert not math.isnan(by_name["rating"].arms["base"].mean)


def test_cli_analyze_reads_gateway_outcomes(workspace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    _fill(workspace.engine, units=200)
    res = CliRunner().invoke(app, ["ab", "analyze", "--experiment", "gw", "--metric", "thumbs_up:proportion",
                                   "--metric", "fallback_rate:ratio:fallback/requests", "--guardrail",
                                   "fallback_rate", "--json", "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [m["name"] for m in out["metrics"]] == ["thumbs_up", "fallback_rate"]
    assert out["metrics"][1]["guardrail"]["status"] in ("harmed", "inconclusive")
    assert out["units"] == ["base", "candidate"] or set(out["units"]) == {"base", "candidate"}
