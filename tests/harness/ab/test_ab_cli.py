"""``harness ab analyze | plan | simulate | list`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CONTRACT_METRIC_KEYS = {"name", "type", "variants", "absolute", "relative", "adjusted_p_value", "significant"}


def _check_contract(report: dict) -> None:
    assert {"p_value", "flag"} <= set(report["srm"])
    assert {"action", "reasons"} <= set(report["decision"]) and report["decision"]["reasons"]
    for m in report["metrics"]:
        assert CONTRACT_METRIC_KEYS <= set(m)
        for key in ("absolute", "relative"):
            assert {"estimate", "ci", "p_value"} <= set(m[key])
        for v in m["variants"].values():
            assert {"n", "mean"} <= set(v)


def _error(result, *needles: str, code: int = 2) -> None:
    """A user error: exit code 2 for bad arguments, 1 for bad data (``code``), the needles in the message."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ")
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_analyze_events_file(cli, events_csv: Path) -> None:
    r = cli("ab", "analyze", "--events", events_csv, "--control", "base", "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    _check_contract(report)
    assert report["control"] == "base" and report["method"] == "sequential"
    names = [m["name"] for m in report["metrics"]]
    assert names[0] == "task_completed" and "latency_p95" in names and "satisfaction" in names
    # +10% completion over one week of 150 units a day: not yet significant for the sequential test
    assert report["metrics"][0]["significant"] is False and report["decision"]["action"] == "keep_running"
    assert report["srm"]["flag"] is False


def test_analyze_file_with_flags_and_human_output(cli, events_csv: Path) -> None:
    r = cli("ab", "analyze", "--events", events_csv, "--metric", "task_completed:proportion",
            "--metric", "lat:ratio:latency_s/requests", "--metric", "p95:p95:latency_s", "--guardrail", "lat:0.05",
            "--guardrail", "p95:0.1", "--fixed-horizon", "--correction", "bh", "--cuped", "covariate",
            "--weights", "base=1,candidate=1")
    assert r.exit_code == 0, r.stderr
    assert "decision:" in r.stdout and "task_completed" in r.stdout and "sample ratio" in r.stdout
    r = cli("ab", "analyze", "--events", events_csv, "--metric", "task_completed:proportion", "--json",
            "--fixed-horizon", "--alpha", "0.1")
    report = json.loads(r.stdout)
    assert report["alpha"] == 0.1 and report["method"] == "fixed" and len(report["metrics"]) == 1


def test_analyze_summary(cli, summary_file: Path) -> None:
    r = cli("ab", "analyze", "--summary", summary_file, "--json", "--primary", "conv")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    _check_contract(report)
    assert report["units"] == {"A": 3407, "B": 3391} and report["primary_metric"] == "conv"
    conv = report["metrics"][0]
    assert conv["type"] == "proportion" and conv["variants"]["A"]["mean"] == pytest.approx(1022 / 3407)
    assert conv["significant"] is False and report["decision"]["action"] == "keep_running"


def test_analyze_store_with_config(cli, tmp_path: Path) -> None:
    r = cli("ab", "simulate", "-e", "exp1", "--days", "7", "--units-per-day", "100", "--effect", "latency_s=0.5")
    assert r.exit_code == 0, r.stderr
    config = tmp_path / "exp.yaml"
    config.write_text("correction: bh\nsequential: false\n")
    r = cli("ab", "analyze", "-e", "exp1", "--config", config, "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    _check_contract(report)
    assert report["correction"] == "bh" and report["method"] == "fixed"
    assert report["decision"]["action"] == "rollback"
    assert any("latency" in reason for reason in report["decision"]["reasons"])
    r = cli("ab", "list", "--json")
    assert json.loads(r.stdout)["experiments"][0]["name"] == "exp1"
    _error(cli("ab", "analyze", "-e", "nope"), "unknown experiment 'nope'", "exp1")


def test_srm_blocks_ship(cli) -> None:
    cli("ab", "simulate", "-e", "srm", "--days", "7", "--units-per-day", "400", "--effect", "task_completed=0.2",
        "--loss", "candidate=0.1")
    report = json.loads(cli("ab", "analyze", "-e", "srm", "--json").stdout)
    assert report["srm"]["flag"] is True
    assert report["decision"]["action"] == "keep_running"  # never ship (nor roll back) on a broken split
    assert "sample ratio mismatch" in " ".join(report["decision"]["reasons"])


def test_unknown_control(cli, events_csv: Path, summary_file: Path) -> None:
    _error(cli("ab", "analyze", "--events", events_csv, "--control", "nope"), "unknown control variant 'nope'",
           "'base'", "'candidate'")
    _error(cli("ab", "analyze", "--summary", summary_file, "--control", "C"), "unknown control variant 'C'")


def test_missing_and_non_numeric_metric_column(cli, tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("unit_id,variant,timestamp,done,note\nu1,A,2026-01-01,1,x\nu2,B,2026-01-01,oops,y\n")
    _error(cli("ab", "analyze", "--events", path, "--metric", "missing:mean"), "'missing'", str(path), "not found")
    _error(cli("ab", "analyze", "--events", path, "--metric", "done:proportion"), "'done'", str(path),
           "not numeric", "line 3", "'oops'", code=1)


def test_single_variant_and_empty_files(cli, tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("unit_id,variant,timestamp,done\nu1,A,2026-01-01,1\nu2,A,2026-01-01,0\n")
    _error(cli("ab", "analyze", "--events", one), "only variant 'A'", "at least two", code=1)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _error(cli("ab", "analyze", "--events", empty), "is empty", str(empty), code=1)
    header = tmp_path / "header.csv"
    header.write_text("unit_id,variant,timestamp,done\n")
    _error(cli("ab", "analyze", "--events", header), "no rows", code=1)
    _error(cli("ab", "analyze", "--events", tmp_path / "absent.csv"), "does not exist")
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("user,variant\nu1,A\n")
    _error(cli("ab", "analyze", "--events", nocol), "missing column 'unit_id'", code=1)
    empty_json = tmp_path / "empty.json"
    empty_json.write_text("")
    _error(cli("ab", "analyze", "--summary", empty_json), "is empty", code=1)


@pytest.mark.parametrize("content,field", [
    ("{not json", "invalid JSON at line 1"),
    ('{"variants": []}', "field 'variants'"),
    ('{"variants": {"A": {"metrics": {}}}}', "variants.A.n"),
    ('{"variants": {"A": {"n": 10, "metrics": {"m": {"successes": 3}}}, "B": {"n": 10, "metrics": {}}}}',
     "variants.B.metrics.m is missing"),
    ('{"variants": {"A": {"n": 10, "metrics": {"m": {"sum": 3}}}, "B": {"n": 10, "metrics": {"m": {"sum": 4}}}}}',
     "variants.A.metrics.m.sum_squares is missing"),
    ('{"variants": {"A": {"n": 10, "metrics": {"m": {"successes": "3"}}}, "B": {"n": 10, "metrics": {"m": {"successes": 4}}}}}',
     "variants.A.metrics.m.successes must be a finite number"),
    ('{"variants": {"A": {"n": 10, "metrics": {"m": {"successes": 30}}}, "B": {"n": 10, "metrics": {"m": {"successes": 4}}}}}',
     "variants.A.metrics.m.successes must be between 0 and n=10"),
    ('{"variants": {"A": {"n": 10, "metrics": {"m": {"count": 3}}}}}', "variants.A.metrics.m has none of"),
])
def test_malformed_summary_names_the_field(cli, tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    _error(cli("ab", "analyze", "--summary", path), field, str(path), code=1)


def test_input_and_flag_errors(cli, events_csv: Path, summary_file: Path) -> None:
    _error(cli("ab", "analyze"), "exactly one input")
    _error(cli("ab", "analyze", "--events", events_csv, "--summary", summary_file), "exactly one input")
    _error(cli("ab", "analyze", "--events", events_csv, "--metric", "x:ratio"), "NUMERATOR/DENOMINATOR")
    _error(cli("ab", "analyze", "--events", events_csv, "--weights", "base"), "NAME=WEIGHT")
    _error(cli("ab", "analyze", "--events", events_csv, "--correction", "sidak"), "unknown correction")
    _error(cli("ab", "analyze", "--summary", summary_file, "--guardrail", "latency:0.05"), "guardrail 'latency'")
    _error(cli("ab", "analyze", "--summary", summary_file, "--weights", "A=1,B=1,C=1"), "unknown variant 'C'")


def test_plan(cli, events_csv: Path) -> None:
    r = cli("ab", "plan", "--mde", "0.05", "--baseline", "0.3", "--units-per-day", "20000", "--json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    n = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.315, 0.30), alpha=0.05, power=0.8)
    assert plan["units_per_variant"] == {"control": int(np.ceil(n)), "treatment": int(np.ceil(n))}
    assert plan["days"] == 7  # 2 days of traffic suffice, but a full week is the floor
    assert plan["warnings"] and "7 full days" in plan["warnings"][0]
    assert plan["total_units_sequential"] > plan["total_units"]
    r = cli("ab", "plan", "--mde", "0.1", "--events", events_csv, "--control", "base", "--json")
    assert r.exit_code == 0, r.stderr
    observed = json.loads(r.stdout)
    events = pd.read_csv(events_csv, parse_dates=["timestamp"])
    span_days = (events["timestamp"].max() - events["timestamp"].min()).total_seconds() / 86400
    assert observed["units_per_day"] == pytest.approx(events["unit_id"].nunique() / span_days, rel=1e-6)
    assert set(observed["units_per_variant"]) == {"base", "candidate"}
    r = cli("ab", "plan", "--mde", "0.1", "--baseline", "2.0", "--type", "mean", "--sd", "1.5")
    assert r.exit_code == 0 and "total (fixed horizon)" in r.stdout
    _error(cli("ab", "plan", "--mde", "0.05"), "--baseline is required")
    _error(cli("ab", "plan", "--mde", "0.05", "--baseline", "3", "--type", "mean"), "--sd")
    _error(cli("ab", "plan", "--mde", "0.05", "--baseline", "1.5"), "proportion baseline")


def test_simulate_to_file(cli, tmp_path: Path) -> None:
    out = tmp_path / "sim.parquet"
    r = cli("ab", "simulate", "--out", out, "--days", "2", "--units-per-day", "50")
    assert r.exit_code == 0 and pd.read_parquet(out)["unit_id"].nunique() == 100
    r = cli("ab", "analyze", "--events", out, "--json")
    report = json.loads(r.stdout)
    assert report["control"] == "base" and sum(report["units"].values()) == 100
    _error(cli("ab", "simulate", "--days", "2"), "exactly one of")
    _error(cli("ab", "simulate", "--out", tmp_path / "x.txt"), ".csv or .parquet")
    _error(cli("ab", "simulate", "--out", out, "--effect", "bogus=0.1"), "unknown effect metric")
