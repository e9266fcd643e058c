"""End-to-end analysis in Python: summaries against scipy/statsmodels, file == store, decision rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harness.ab.analysis import guardrail_status
from harness.ab.api import analyze_events_file, analyze_experiment, analyze_summary, to_report
from harness.ab.config import AnalysisConfig, MetricSpec
from harness.errors import DataError
from harness.stats.effects import EffectInterval, EffectResult


def test_summary_mean_matches_scipy_welch(summary_file: Path) -> None:
    cfg = AnalysisConfig(sequential=False, correction="holm")
    result, _ = analyze_summary(summary_file, cfg)
    revenue = next(m for m in result.metrics if m.spec.name == "revenue")
    raw = json.loads(summary_file.read_text())["variants"]

    def moments(v: dict) -> tuple[float, float, int]:
        n, s, ss = v["n"], v["metrics"]["revenue"]["sum"], v["metrics"]["revenue"]["sum_squares"]
        return s / n, np.sqrt((ss - s * s / n) / (n - 1)), n

    ref = stats.ttest_ind_from_stats(*moments(raw["B"]), *moments(raw["A"]), equal_var=False)
    assert revenue.effect.absolute.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    conv = next(m for m in result.metrics if m.spec.name == "conv")
    assert conv.spec.type == "proportion"
    from statsmodels.stats.multitest import multipletests

    adjusted = multipletests([m.effect.absolute.p_value for m in result.metrics], method="holm")[1]
    assert [m.adjusted_p_value for m in result.metrics] == pytest.approx(list(adjusted), abs=1e-12)
    bh, _ = analyze_summary(summary_file, AnalysisConfig(sequential=False, correction="bh"))
    adjusted = multipletests([m.effect.absolute.p_value for m in bh.metrics], method="fdr_bh")[1]
    assert [m.adjusted_p_value for m in bh.metrics] == pytest.approx(list(adjusted), abs=1e-12)


def test_report_has_the_json_contract(summary_file: Path) -> None:
    report = to_report(*analyze_summary(summary_file))
    assert set(report["srm"]) >= {"p_value", "flag"}
    assert set(report["decision"]) >= {"action", "reasons"}
    for m in report["metrics"]:
        assert set(m) >= {"name", "type", "variants", "absolute", "relative", "adjusted_p_value", "significant"}
        assert set(m["absolute"]) >= {"estimate", "ci", "p_value"} and set(m["relative"]) >= {"estimate", "ci", "p_value"}
        assert all(set(v) >= {"n", "mean"} for v in m["variants"].values())
    assert json.loads(json.dumps(report, allow_nan=False)) == report  # plain JSON, no NaN
    # the values behind the keys: a 1:1 split checked against scipy, conv's arms and difference
    assert report["srm"]["p_value"] == pytest.approx(stats.chisquare([3407, 3391]).pvalue, abs=1e-12)
    assert report["srm"]["flag"] is False
    conv = next(m for m in report["metrics"] if m["name"] == "conv")
    assert conv["variants"]["A"]["n"] == 3407 and conv["variants"]["A"]["mean"] == pytest.approx(1022 / 3407)
    assert conv["absolute"]["estimate"] == pytest.approx(1102 / 3391 - 1022 / 3407, abs=1e-12)


def test_file_and_store_agree(events_csv: Path, tmp_path: Path) -> None:
    import pandas as pd

    from harness.store.ab import create_experiment, log_events
    from harness.workspace import Workspace

    df = pd.read_csv(events_csv)
    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "e", {"base": 0.5, "candidate": 0.5}, control="base")
    ts = pd.to_datetime(df["timestamp"]).astype("int64") / 1e9
    rows = [{"unit_id": u, "variant": v, "ts": t, **{c: (None if pd.isna(x) else x) for c, x in r.items()}}
            for u, v, t, r in zip(df["unit_id"], df["variant"], ts,
                                  df.drop(columns=["unit_id", "variant", "timestamp"]).to_dict("records"), strict=True)]
    assert log_events(ws.engine, "e", rows) == len(df)
    cfg = AnalysisConfig(control="base", sequential=False)
    from harness.ab.config import default_store_metrics

    store, _ = analyze_experiment(ws.engine, "e", cfg)
    file, _ = analyze_events_file(events_csv, AnalysisConfig(control="base", sequential=False,
                                                             metrics=default_store_metrics()))
    assert store.variants == file.variants
    assert store.days == pytest.approx(file.days)
    for a, b in zip(store.metrics, file.metrics, strict=True):
        assert a.spec.name == b.spec.name
        assert a.effect.absolute.estimate == pytest.approx(b.effect.absolute.estimate, rel=1e-6, abs=1e-12)
        assert a.effect.absolute.se == pytest.approx(b.effect.absolute.se, rel=1e-6)


def test_cuped_reduces_the_interval(events_csv: Path) -> None:
    metrics = (MetricSpec("task_completed", "mean", aggregate="mean"),)
    plain, _ = analyze_events_file(events_csv, AnalysisConfig(control="base", metrics=metrics, sequential=False))
    cuped, _ = analyze_events_file(events_csv, AnalysisConfig(control="base", metrics=metrics, sequential=False,
                                                              cuped_covariate="covariate"))
    # theta is ANCOVA's slope (statsmodels OLS of the per-unit mean on arm + covariate), the effect its arm term
    import pandas as pd
    import statsmodels.api as sm

    units = pd.read_csv(events_csv).groupby(["unit_id", "variant"]).agg(
        y=("task_completed", "mean"), c=("covariate", "max")).reset_index()
    arm = (units["variant"] == "candidate").astype(float)
    fit = sm.OLS(units["y"], sm.add_constant(np.column_stack([arm, units["c"] - units["c"].mean()]))).fit()
    assert cuped.metrics[0].cuped_theta == pytest.approx(fit.params.iloc[2], rel=1e-9)
    assert cuped.metrics[0].effect.absolute.estimate == pytest.approx(fit.params.iloc[1], rel=1e-9)
    assert cuped.metrics[0].effect.absolute.se < 0.95 * plain.metrics[0].effect.absolute.se


def _guard(lo: float, hi: float, higher: bool = False, margin: float = 0.05) -> str:
    spec = MetricSpec("g", role="guardrail", higher_is_better=higher, margin=margin)
    eff = EffectResult(absolute=EffectInterval(0.0, (0.0, 0.0), 1.0),
                       relative=EffectInterval((lo + hi) / 2, (lo, hi), 0.5))
    return guardrail_status(spec, eff, 1.0)


def test_guardrail_rules() -> None:
    assert _guard(-0.02, 0.03) == "pass"            # within the 5% margin
    assert _guard(0.06, 0.10) == "harmed"           # surely worse than the margin
    assert _guard(0.01, 0.08) == "inconclusive"     # might exceed the margin
    assert _guard(-0.10, -0.06, higher=True) == "harmed"  # higher is better: a drop is harm
    assert _guard(0.01, 0.02, margin=0.0) == "harmed"     # margin 0: any significant deterioration


def _summary(tmp_path: Path, b_success: int, b_latency: float, n_b: int = 5000, days: float = 14) -> Path:
    path = tmp_path / f"s{b_success}-{b_latency}-{n_b}.json"
    lat = lambda n, m: {"sum": n * m, "sum_squares": n * (m * m + 0.25)}  # noqa: E731 - sd 0.5
    path.write_text(json.dumps({"days": days, "variants": {
        "base": {"n": 5000, "metrics": {"done": {"successes": 3000}, "latency": lat(5000, 1.0)}},
        "cand": {"n": n_b, "metrics": {"done": {"successes": b_success}, "latency": lat(n_b, b_latency)}}}}))
    return path


METRICS = (MetricSpec("done", "proportion", role="primary"),
           MetricSpec("latency", "mean", role="guardrail", higher_is_better=False, margin=0.05))


@pytest.mark.parametrize("success,latency,n_b,days,action,reason", [
    (3300, 1.0, 5000, 14, "ship", "primary metric done improved in cand: +10.00%"),  # latency unchanged
    (3300, 1.2, 5000, 14, "rollback", "guardrail latency harmed in cand: +20.00%"),  # > 5% margin
    (2700, 1.0, 5000, 14, "rollback", "primary metric done significantly worse in cand: -10.00%"),
    (3020, 1.0, 5000, 14, "keep_running", "primary metric done not significant yet in cand: +0.67%"),
    (3300, 1.0, 4500, 14, "keep_running", "sample ratio mismatch"),  # SRM: never ship
    (3300, 1.0, 5000, 3, "keep_running", "is up +10.00%"),  # a win, but only 3 days
])
def test_decisions(tmp_path: Path, success: int, latency: float, n_b: int, days: float, action: str,
                   reason: str) -> None:
    cfg = AnalysisConfig(metrics=METRICS, control="base", sequential=False)
    result, decision = analyze_summary(_summary(tmp_path, success, latency, n_b, days), cfg)
    assert decision.action == action, decision.reasons
    assert reason in decision.reasons[0], decision.reasons
    if days < 7:
        assert "only 3.0 day(s) observed" in decision.reasons[0]
    if n_b != 5000:
        assert result.srm.flag and "sample ratio mismatch" in decision.reasons[0]


def test_keep_running_says_days_still_needed(tmp_path: Path) -> None:
    cfg = AnalysisConfig(metrics=METRICS, control="base", sequential=False, mde=0.02)
    _, decision = analyze_summary(_summary(tmp_path, 3020, 1.0, 5000, 7), cfg)
    assert decision.action == "keep_running"
    # statsmodels' sample size for 0.6 -> 0.612 (2% relative), both arms, at 10,000 units in 7 days
    import math

    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    n = math.ceil(NormalIndPower().solve_power(effect_size=proportion_effectsize(0.612, 0.6), alpha=0.05, power=0.8))
    assert decision.days_still_needed == math.ceil(2 * n / (10_000 / 7)) - 7
    assert any("more day(s)" in r for r in decision.reasons)


def test_errors(summary_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown control variant 'Z'"):
        analyze_summary(summary_file, AnalysisConfig(control="Z"))
    with pytest.raises(DataError, match="variant 'B' has no weight"):
        analyze_summary(summary_file, AnalysisConfig(weights={"A": 1.0}))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"variants": {"A": {"n": 10, "metrics": {"m": {"successes": 3}}}}}))
    with pytest.raises(DataError, match="only variant 'A'"):
        analyze_summary(one)


def test_cuped_on_ratio_metrics_in_the_store(tmp_path: Path) -> None:
    from harness.ab.simulate import SimulationConfig, write_store
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    write_store(SimulationConfig(days=7, units_per_day=300, seed=4), ws.engine, "e")
    plain, _ = analyze_experiment(ws.engine, "e", AnalysisConfig(sequential=False))
    cuped, _ = analyze_experiment(ws.engine, "e", AnalysisConfig(sequential=False, cuped_covariate="covariate"))
    done_plain, done_cuped = plain.metrics[0], cuped.metrics[0]
    assert done_cuped.spec.name == "task_completed" and done_cuped.cuped_theta > 0
    assert done_cuped.effect.absolute.se < 0.95 * done_plain.effect.absolute.se
    assert any("not applied to latency_p95" in n for n in cuped.notes)


def test_summary_with_cuped_sums_matches_the_events_file(events_csv: Path, tmp_path: Path) -> None:
    """Sums written by hand from per-unit values give the same CUPED result as the events file."""
    import pandas as pd

    df = pd.read_csv(events_csv)
    units = df.groupby(["unit_id", "variant"]).agg(y=("latency_s", "sum"), x=("latency_s", "size"),
                                                   c=("covariate", "max")).reset_index()
    variants = {}
    for v, g in units.groupby("variant"):
        y, x, c = g["y"].to_numpy(), g["x"].to_numpy(float), g["c"].to_numpy()
        variants[v] = {"n": len(g), "metrics": {"lat": {
            "numerator_sum": y.sum(), "numerator_sum_squares": y @ y, "denominator_sum": x.sum(),
            "denominator_sum_squares": x @ x, "cross_sum": y @ x, "covariate_sum": c.sum(),
            "covariate_sum_squares": c @ c, "numerator_covariate_cross_sum": y @ c,
            "denominator_covariate_cross_sum": x @ c}}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"variants": variants}))
    spec = MetricSpec("lat", "ratio", numerator="latency_s", denominator="requests")
    cfg = AnalysisConfig(control="base", metrics=(spec,), sequential=False, cuped_covariate="covariate")
    from_summary, _ = analyze_summary(path, cfg)
    from_file, _ = analyze_events_file(events_csv, cfg)
    a, b = from_summary.metrics[0], from_file.metrics[0]
    assert a.cuped_theta == pytest.approx(b.cuped_theta, rel=1e-9)
    assert a.effect.absolute.estimate == pytest.approx(b.effect.absolute.estimate, rel=1e-9)
    assert a.effect.absolute.se == pytest.approx(b.effect.absolute.se, rel=1e-9)
