"""Metric flags, weights, guardrails and config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.ab.config import (
    AnalysisConfig,
    MetricSpec,
    load_config,
    parse_guardrail_flag,
    parse_metric_flag,
    parse_weights,
)
from harness.errors import ConfigError


def test_parse_metric_flags() -> None:
    assert parse_metric_flag("task_completed:proportion") == MetricSpec("task_completed", "proportion")
    assert parse_metric_flag("satisfaction") == MetricSpec("satisfaction", "mean")
    r = parse_metric_flag("cost_per_request:ratio:cost/requests")
    assert (r.type, r.numerator, r.denominator) == ("ratio", "cost", "requests")
    q = parse_metric_flag("latency_p95:p95:latency_s")
    assert (q.type, q.column, q.quantile) == ("quantile", "latency_s", 0.95)
    assert parse_metric_flag("lat:quantile:latency_s@0.5").quantile == 0.5
    for bad in ("x:ratio", "x:ratio:cost", "x:bogus", "9bad"):
        with pytest.raises(ConfigError):
            parse_metric_flag(bad)


def test_weights_and_guardrails() -> None:
    assert parse_weights("a=1,b=3") == {"a": 1.0, "b": 3.0}
    with pytest.raises(ConfigError, match="NAME=WEIGHT"):
        parse_weights("a=1,b")
    assert parse_guardrail_flag("latency_s:0.05") == ("latency_s", 0.05)
    assert parse_guardrail_flag("+satisfaction") == ("+satisfaction", 0.0)
    with pytest.raises(ConfigError, match="not a number"):
        parse_guardrail_flag("x:abc")


def test_resolved_applies_guardrails_and_checks_names() -> None:
    cfg = AnalysisConfig(metrics=(MetricSpec("a"), MetricSpec("lat")), guardrails={"lat": 0.1, "+a": 0.02})
    r = cfg.resolved()
    lat, a = r.metrics[1], r.metrics[0]
    assert (lat.role, lat.margin, lat.higher_is_better) == ("guardrail", 0.1, False)
    assert (a.role, a.higher_is_better) == ("guardrail", True)
    with pytest.raises(ConfigError, match="guardrail 'nope'"):
        AnalysisConfig(metrics=(MetricSpec("a"),), guardrails={"nope": 0.1}).resolved()
    with pytest.raises(ConfigError, match="primary metric 'zz'"):
        AnalysisConfig(metrics=(MetricSpec("a"),), primary="zz")


def test_validation_messages() -> None:
    with pytest.raises(ConfigError, match="correction"):
        AnalysisConfig(correction="sidak")
    with pytest.raises(ConfigError, match="alpha"):
        AnalysisConfig(alpha=0.9)
    with pytest.raises(ConfigError, match="defined twice"):
        AnalysisConfig(metrics=(MetricSpec("a"), MetricSpec("a")))


def test_load_yaml_config_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("control: base\nalpha: 0.01\ncorrection: bh\nmetrics:\n"
                    "  - {name: done, type: proportion, role: primary}\n"
                    "  - {name: lat, type: ratio, numerator: latency_s, role: guardrail, higher_is_better: false, margin: 0.05}\n"
                    "  - 'cost:ratio:cost/requests'\n")
    cfg = load_config(path)
    assert cfg.control == "base" and cfg.alpha == 0.01 and cfg.correction == "bh"
    assert [m.name for m in cfg.metrics] == ["done", "lat", "cost"] and cfg.primary_metric() == "done"
    assert cfg.with_overrides(alpha=0.05, control=None).alpha == 0.05
    bad = tmp_path / "bad.yaml"
    bad.write_text("metricz: []\n")
    with pytest.raises(ConfigError, match="unknown key 'metricz'"):
        load_config(bad)
    bad.write_text("metrics:\n  - {name: x, kind: mean}\n")
    with pytest.raises(ConfigError, match=r"metrics\[0\] \(x\): unknown key 'kind'"):
        load_config(bad)
