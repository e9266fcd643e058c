"""Nothing silent in ``harness ab analyze``/``plan``: unusable rows counted, impossible sums refused,
no guardrail as the default primary metric, out-of-range plan arguments as errors (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.ab.config import AnalysisConfig, MetricSpec


def _ok(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _fails(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


def _events(rng: np.random.Generator, units: int = 400) -> pd.DataFrame:
    """Two events per unit; a unit's variant from a fair coin; converted 0/1 and revenue per event."""
    ids = np.repeat([f"u{i}" for i in range(units)], 2)
    variant = np.repeat(rng.choice(["base", "cand"], units), 2)
    return pd.DataFrame({"unit_id": ids, "variant": variant,
                         "timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.uniform(0, 8, 2 * units), "D"),
                         "converted": rng.integers(0, 2, 2 * units), "revenue": rng.gamma(2.0, 3.0, 2 * units)})


def _metric(report: dict, name: str) -> dict:
    return next(m for m in report["metrics"] if m["name"] == name)


# --------------------------------------------------------------------------- events files: rows and columns


def test_a_text_cell_in_an_inferred_metric_is_an_error_not_a_vanishing_metric(cli, tmp_path: Path) -> None:
    df = _events(np.random.default_rng(1)).astype({"revenue": object})
    df.loc[7, "revenue"] = "n/a?"
    path = tmp_path / "ev.csv"
    df.to_csv(path, index=False)
    _fails(cli("ab", "analyze", "--events", path, "--primary", "converted", "--json"), 1,
           "'revenue'", "not numeric", "line 9", "'n/a?'")


def test_a_text_column_is_listed_as_not_analysed(cli, tmp_path: Path) -> None:
    df = _events(np.random.default_rng(2))
    df["country"] = np.where(np.arange(len(df)) % 3, "fr", "de")
    path = tmp_path / "ev.csv"
    df.to_csv(path, index=False)
    report = _ok(cli("ab", "analyze", "--events", path, "--primary", "converted", "--json"))
    assert {m["name"] for m in report["metrics"]} == {"converted", "revenue"}
    assert report["data_quality"]["ignored_columns"] == {"country": f"not numeric ({len(df)} text cells)"}
    table = cli("ab", "analyze", "--events", path, "--primary", "converted")
    assert table.exit_code == 0 and "column country not analysed: not numeric" in table.stdout


def test_rows_without_unit_or_variant_and_units_in_two_variants_are_counted_and_excluded(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    clean = _events(rng)
    no_unit = clean.iloc[:6].assign(unit_id=[None, "", "  ", None, None, None])
    no_variant = clean.iloc[6:9].assign(unit_id=["x1", "x2", "x3"], variant=[None, "", None])
    # 5 units also seen in the other variant (one event each): they must leave both arms
    switched = clean.drop_duplicates("unit_id").iloc[:5]
    switched = switched.assign(variant=np.where(switched["variant"] == "base", "cand", "base"))
    clean.loc[len(clean) - 1, "revenue"] = np.nan  # a blank metric cell of a kept unit: counted, not an error
    df = pd.concat([clean, no_unit, no_variant, switched], ignore_index=True)
    path = tmp_path / "ev.csv"
    df.to_csv(path, index=False)

    report = _ok(cli("ab", "analyze", "--events", path, "--primary", "converted", "--json", "--fixed-horizon"))
    q = report["data_quality"]
    assert (q["rows_read"], q["rows_without_unit_id"], q["rows_without_variant"]) == (len(df), 6, 3)
    assert (q["multi_variant_units"], q["multi_variant_rows"]) == (5, 5 * 3)
    assert q["rows_used"] == len(df) - 6 - 3 - 15 and q["rows_excluded"] == 24
    assert set(q["multi_variant_examples"]) == set(switched["unit_id"])
    assert "excluded from every variant" in q["multi_variant_rule"]
    assert q["missing_values"] == {"revenue": 1}
    assert "nan" not in report["units"] and set(report["units"]) == {"base", "cand"}

    kept = clean[~clean["unit_id"].isin(switched["unit_id"])]
    assert report["units"] == kept.groupby("variant")["unit_id"].nunique().to_dict()
    per_unit = kept.groupby(["variant", "unit_id"])["converted"].max()  # a proportion: did the unit convert
    conv = _metric(report, "converted")
    for v in ("base", "cand"):
        assert conv["variants"][v]["mean"] == pytest.approx(per_unit[v].mean(), abs=1e-12)
    revenue = kept.groupby(["variant", "unit_id"])["revenue"].mean()  # a mean: per-unit mean, blank cells skipped
    ref = stats.ttest_ind(revenue["cand"], revenue["base"], equal_var=False)
    assert _metric(report, "revenue")["absolute"]["p_value"] == pytest.approx(ref.pvalue, abs=1e-9)
    table = cli("ab", "analyze", "--events", path, "--primary", "converted")
    assert table.exit_code == 0
    for text in ("24 excluded", "6 rows without a unit_id", "3 rows without a variant",
                 "5 units seen in more than one variant", "excluded from every variant", "revenue: 1 blank cell ",
                 "converted *"):
        assert text in " ".join(table.stdout.split()), table.stdout


@pytest.mark.parametrize("cell,why", [("2", "outside [0, 1] for a proportion"), ("inf", "is not finite")])
def test_impossible_metric_values_are_errors(cli, tmp_path: Path, cell: str, why: str) -> None:
    path = tmp_path / "ev.csv"
    path.write_text(f"unit_id,variant,done\nu1,A,1\nu2,B,0\nu3,B,{cell}\nu4,A,0\n")
    _fails(cli("ab", "analyze", "--events", path, "--metric", "done:proportion"), 1, "'done'", why, "line 4")


def test_no_usable_rows_is_an_error(cli, tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("unit_id,variant,done\n,A,1\nu1,A,1\nu1,B,0\n")
    _fails(cli("ab", "analyze", "--events", path), 1, "no usable rows", "1 without a unit_id",
           "2 of units seen in more than one variant")


# --------------------------------------------------------------------------- summaries that cannot exist


def _summary(tmp_path: Path, a: dict, b: dict | None = None, **top) -> Path:
    b = b or {"n": 100, "metrics": {"m": {"sum": 50.0, "sum_squares": 40.0}}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"variants": {"A": a, "B": b}, **top}))
    return path


MEAN_B = {"n": 100, "metrics": {"m": {"sum": 50.0, "sum_squares": 40.0}}}


@pytest.mark.parametrize("a,top,needles", [
    ({"n": 100, "metrics": {"m": {"sum": 50.0, "sum_squares": 20.0}}}, {},
     ["variants.A.metrics.m.sum_squares = 20 is below sum^2 / n = 25"]),
    ({"n": 0, "metrics": {"m": {"sum": 5.0, "sum_squares": 30.0}}}, {}, ["variants.A.metrics.m.sum is 5 with n = 0"]),
    ({"n": 100, "metrics": {"m": {"n": -3, "sum": 5.0, "sum_squares": 30.0}}}, {},
     ["variants.A.metrics.m.n must be a non-negative integer"]),
    ({"n": 100, "metrics": {"m": {"n": 101, "sum": 5.0, "sum_squares": 30.0}}}, {},
     ["variants.A.metrics.m.n = 101 is above the variant's n = 100"]),
    ({"n": 2.5, "metrics": {"m": {"sum": 5.0, "sum_squares": 30.0}}}, {}, ["variants.A.n must be a non-negative integer"]),
    ({"n": 100, "metrics": {"m": {"sum": 50.0, "sum_squares": 40.0}}}, {"days": -2}, ["field days must be >= 0"]),
    ({"n": 100, "metrics": {"m": {"sum": 50.0, "sum_squares": 40.0}}}, {"weights": {"A": 1.5, "B": -0.5}},
     ["field weights.B must be > 0"]),
])
def test_impossible_mean_sums_are_errors(cli, tmp_path: Path, a: dict, top: dict, needles: list[str]) -> None:
    _fails(cli("ab", "analyze", "--summary", _summary(tmp_path, a, MEAN_B, **top)), 1, str(tmp_path), *needles)


@pytest.mark.parametrize("a,b,needles", [
    ({"n": 10, "metrics": {"c": {"successes": 11}}}, {"n": 10, "metrics": {"c": {"successes": 4}}},
     ["variants.A.metrics.c.successes must be between 0 and n=10"]),
    ({"n": 10, "metrics": {"c": {"successes": -1}}}, {"n": 10, "metrics": {"c": {"successes": 4}}},
     ["variants.A.metrics.c.successes must be between 0 and n=10"]),
    ({"n": 50, "metrics": {"q": {"estimate": 2.0, "se": -0.1}}}, {"n": 50, "metrics": {"q": {"estimate": 2.1, "se": 0.1}}},
     ["variants.A.metrics.q.se must be >= 0"]),
    # n = 10, sum x = 10, sum y = 20: centred x'x = 9, y'y = 36, so cross_sum <= 10 * 20 / 10 + sqrt(9 * 36) = 38
    ({"n": 10, "metrics": {"r": {"numerator_sum": 10.0, "numerator_sum_squares": 19.0, "denominator_sum": 20.0,
                                 "denominator_sum_squares": 76.0, "cross_sum": 60.0}}},
     {"n": 10, "metrics": {"r": {"numerator_sum": 10.0, "numerator_sum_squares": 19.0, "denominator_sum": 20.0,
                                 "denominator_sum_squares": 76.0, "cross_sum": 25.0}}},
     ["variants.A.metrics.r.cross_sum = 60 is impossible"]),
])
def test_impossible_sums_of_other_types_are_errors(cli, tmp_path: Path, a: dict, b: dict, needles: list[str]) -> None:
    _fails(cli("ab", "analyze", "--summary", _summary(tmp_path, a, b)), 1, *needles)


def test_sums_from_real_data_pass_with_float_rounding(tmp_path: Path) -> None:
    from harness.ab.api import analyze_summary

    rng = np.random.default_rng(5)
    body = {}
    for name, x in (("A", np.full(1000, 0.1)), ("B", rng.normal(1e6, 1e-3, 1000))):  # zero / tiny variance
        body[name] = {"n": len(x), "metrics": {"m": {"sum": float(x.sum()), "sum_squares": float(x @ x)}}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"variants": body}))
    result, _ = analyze_summary(path, AnalysisConfig(sequential=False))
    assert result.metrics[0].arms["B"].mean == pytest.approx(1e6)


# --------------------------------------------------------------------------- the primary metric


def test_a_guardrail_is_never_the_default_primary_metric() -> None:
    latency = MetricSpec("latency_s", "mean")
    cfg = AnalysisConfig(metrics=(latency, MetricSpec("conv", "proportion")))
    assert latency.guardrail_like and cfg.primary_metric() == "conv"
    assert AnalysisConfig(metrics=(MetricSpec("cost_per_request", "ratio", numerator="cost"),)).primary_metric() is None
    assert AnalysisConfig(metrics=(latency,), primary="latency_s").primary_metric() == "latency_s"  # when named
    assert not MetricSpec("task_completed", "proportion").guardrail_like


def test_events_with_only_guardrail_columns_ask_for_a_primary_metric(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    df = _events(rng)[["unit_id", "variant", "timestamp"]].assign(latency_s=rng.gamma(2, 0.5, 800),
                                                                  cost=rng.gamma(2, 0.01, 800))
    path = tmp_path / "ev.csv"
    df.to_csv(path, index=False)
    _fails(cli("ab", "analyze", "--events", path, "--json"), 2, "no primary metric", "--primary")
    report = _ok(cli("ab", "analyze", "--events", path, "--json", "--primary", "latency_mean"))
    assert report["primary_metric"] == "latency_mean"


def test_events_with_two_candidates_ask_and_one_candidate_decides(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "ev.csv"
    _events(rng).to_csv(path, index=False)
    _fails(cli("ab", "analyze", "--events", path), 2, "converted, revenue", "--primary")
    one = tmp_path / "one.csv"
    _events(rng).drop(columns="revenue").assign(latency_s=1.0).to_csv(one, index=False)
    assert _ok(cli("ab", "analyze", "--events", one, "--json"))["primary_metric"] == "converted"


def test_metric_flags_skip_guardrails_for_the_default_primary(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    path = tmp_path / "ev.csv"
    _events(rng).assign(latency_s=rng.gamma(2, 0.5, 800)).to_csv(path, index=False)
    report = _ok(cli("ab", "analyze", "--events", path, "--metric", "latency_s:mean", "--metric",
                     "converted:proportion", "--json"))
    assert report["primary_metric"] == "converted"
    _fails(cli("ab", "analyze", "--events", path, "--metric", "latency_s:mean"), 2, "no primary metric",
           "--primary")


def test_a_summary_names_its_primary_or_the_analysis_asks(cli, tmp_path: Path) -> None:
    body = {"n": 500, "metrics": {"latency_p95": {"estimate": 2.3, "se": 0.05}, "conv": {"successes": 120},
                                  "revenue": {"sum": 1500.0, "sum_squares": 9000.0}}}
    path = _summary(tmp_path, body, body)
    _fails(cli("ab", "analyze", "--summary", path), 2, "conv, revenue", "--primary")
    guard_and_one = _summary(tmp_path, {"n": 500, "metrics": {k: body["metrics"][k] for k in ("latency_p95", "conv")}},
                             {"n": 500, "metrics": {k: body["metrics"][k] for k in ("latency_p95", "conv")}})
    assert _ok(cli("ab", "analyze", "--summary", guard_and_one, "--json"))["primary_metric"] == "conv"
    named = _summary(tmp_path, body, body, primary="revenue")
    assert _ok(cli("ab", "analyze", "--summary", named, "--json"))["primary_metric"] == "revenue"
    wrong = _summary(tmp_path, body, body, primary="nope")
    _fails(cli("ab", "analyze", "--summary", wrong), 1, "field primary must name one of the metrics")


# --------------------------------------------------------------------------- plan arguments


@pytest.mark.parametrize("args,needle", [
    (["--power", "1.5"], "power must be in (0, 1)"),
    (["--power", "0"], "power must be in (0, 1)"),
    (["--power", "nan"], "power must be in (0, 1)"),
    (["--alpha", "0.7"], "alpha must be in (0, 0.5)"),
    (["--alpha", "0"], "alpha must be in (0, 0.5)"),
    (["--mde", "0"], "--mde 0"),
    (["--mde", "-1.5"], "--mde -1.5"),
    (["--mde", "nan"], "--mde nan"),
    (["--baseline", "1.2"], "--baseline 1.2: a proportion baseline must be in (0, 1)"),
    (["--baseline", "0"], "--baseline 0"),
    (["--units-per-day", "-5"], "--units-per-day -5"),
    (["--units-per-day", "0"], "--units-per-day 0"),
    (["--type", "mean", "--sd", "-1"], "--sd -1"),
])
def test_out_of_range_plan_arguments_exit_2(cli, args: list[str], needle: str) -> None:
    base = {"--mde": "0.05", "--baseline": "0.3"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [x for kv in base.items() for x in kv]
    _fails(cli("ab", "plan", *argv), 2, needle)


def test_a_negative_mde_plans_for_a_decrease(cli) -> None:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    plan = _ok(cli("ab", "plan", "--mde", "-0.1", "--baseline", "0.3", "--json"))
    n = NormalIndPower().solve_power(effect_size=abs(proportion_effectsize(0.27, 0.30)), alpha=0.05, power=0.8)
    assert plan["units_per_variant"]["control"] == int(np.ceil(n))
