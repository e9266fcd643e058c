"""The A/B metric-type registry: a type defined here (no other module edited) works end to end."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.ab.config import AnalysisConfig, MetricSpec, config_from_dict, parse_metric_flag
from harness.ab.metric_types import MetricType, ab_metric_type, get_metric_type, metric_type_names
from harness.ab.sums import Pair, PairSums, UnitValue
from harness.errors import ConfigError
from harness.stats.effects import ArmEstimate, mean_estimate


@ab_metric_type("events_per_unit_test")
class EventsPerUnit(MetricType):
    """Per unit: how many of its events have a value in ``column``; averaged over units (Welch t)."""

    summary_keys = ("count_sum", "count_sum_squares")

    def pairs(self, spec: MetricSpec, covariate: str | None) -> list[Pair]:
        value = UnitValue("count", spec.source_column)
        return [Pair(value, value)]

    def arm_statistic(self, spec: MetricSpec, sums: Sequence[PairSums], cuped: bool) -> PairSums:
        return sums[0]

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> PairSums:
        return PairSums(n, values["count_sum"], values["count_sum"], values["count_sum_squares"],
                        values["count_sum_squares"], values["count_sum_squares"])

    def estimates(self, spec: MetricSpec, inputs: Mapping[str, object],
                  cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
        return {v: mean_estimate(s.n, s.sum_a, s.sum_aa) for v, s in inputs.items()}, None  # type: ignore[attr-defined]


SPEC = MetricSpec("rated", "events_per_unit_test", column="satisfaction")


def _per_unit_counts(events: pd.DataFrame) -> dict[str, np.ndarray]:
    per_unit = events.groupby(["unit_id", "variant"])["satisfaction"].count().reset_index()
    return {str(v): g["satisfaction"].to_numpy(float) for v, g in per_unit.groupby("variant")}


def _assert_matches_numpy(arms: dict[str, ArmEstimate], counts: dict[str, np.ndarray]) -> None:
    assert set(arms) == set(counts)
    for v, x in counts.items():
        assert arms[v].n == len(x)
        assert arms[v].mean == pytest.approx(x.mean(), rel=1e-12)
        assert arms[v].var_mean == pytest.approx(x.var(ddof=1) / len(x), rel=1e-9)


def test_builtin_types_are_registered() -> None:
    assert {"proportion", "mean", "ratio", "quantile"} <= set(metric_type_names())
    assert get_metric_type("proportion").plan_as == "proportion" and get_metric_type("ratio").supports_cuped
    with pytest.raises(ConfigError, match="unknown type 'bogus'") as err:
        MetricSpec("x", "bogus")
    assert "events_per_unit_test" in (err.value.hint or "")


def test_a_new_type_is_known_to_flags_and_config_files() -> None:
    assert parse_metric_flag("rated:events_per_unit_test:satisfaction") == SPEC
    cfg = config_from_dict({"metrics": [{"name": "rated", "type": "events_per_unit_test", "column": "satisfaction"}]})
    assert cfg.metrics == (SPEC,) and SPEC.columns() == ["satisfaction"]


def test_a_second_class_under_the_same_name_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        @ab_metric_type("events_per_unit_test")
        class Other(MetricType):  # noqa: F841 - registration is the side effect under test
            pass


def test_a_new_type_from_an_events_file_and_the_store_matches_numpy(events_csv: Path, tmp_path: Path) -> None:
    from harness.ab.api import analyze_events_file, analyze_experiment
    from harness.store.ab import create_experiment, log_events
    from harness.workspace import Workspace

    events = pd.read_csv(events_csv)
    counts = _per_unit_counts(events)
    cfg = AnalysisConfig(metrics=(SPEC,), control="base", sequential=False)
    from_file, _ = analyze_events_file(events_csv, cfg)
    _assert_matches_numpy(from_file.metrics[0].arms, counts)
    assert from_file.metrics[0].to_dict()["type"] == "events_per_unit_test"

    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "e", {"base": 0.5, "candidate": 0.5}, control="base")
    ts = pd.to_datetime(events["timestamp"]).astype("int64") / 1e9
    log_events(ws.engine, "e", [{"unit_id": u, "variant": v, "ts": t, "satisfaction": None if pd.isna(s) else s}
                                for u, v, t, s in zip(events["unit_id"], events["variant"], ts,
                                                      events["satisfaction"], strict=True)])
    from_store, _ = analyze_experiment(ws.engine, "e", cfg)
    _assert_matches_numpy(from_store.metrics[0].arms, counts)
    ws.close()


def test_a_new_type_from_a_summary_is_inferred_by_its_first_field(tmp_path: Path) -> None:
    from harness.ab.api import analyze_summary

    rng = np.random.default_rng(1)
    counts = {"A": rng.poisson(2.0, 400).astype(float), "B": rng.poisson(2.3, 420).astype(float)}
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"variants": {v: {"n": len(x), "metrics": {"rated": {
        "count_sum": x.sum(), "count_sum_squares": x @ x}}} for v, x in counts.items()}}))
    result, _ = analyze_summary(path, AnalysisConfig(control="A", sequential=False))
    assert result.metrics[0].spec.type == "events_per_unit_test"
    _assert_matches_numpy(result.metrics[0].arms, counts)


def test_a_new_type_through_the_cli_flag(cli, events_csv: Path) -> None:
    r = cli("ab", "analyze", "--events", events_csv, "--control", "base", "--fixed-horizon", "--json",
            "--metric", "rated:events_per_unit_test:satisfaction")
    assert r.exit_code == 0, r.stderr
    metric = json.loads(r.stdout)["metrics"][0]
    counts = _per_unit_counts(pd.read_csv(events_csv))
    assert metric["type"] == "events_per_unit_test"
    assert metric["variants"]["base"]["mean"] == pytest.approx(counts["base"].mean(), rel=1e-12)
