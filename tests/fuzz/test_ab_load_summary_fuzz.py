"""Fuzz the A/B summary reader (harness.ab.load_summary) and its analysis.

Properties: arbitrary bytes, and summaries with the right shape but wrong values (text for counts,
negative or NaN sums, huge numbers, impossible sums of squares, missing or extra keys, odd variant
names) never raise anything but HarnessError; the summary file is never changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.ab.api import analyze_summary, to_report
from harness.ab.config import AnalysisConfig, parse_metric_flag
from harness.ab.load_summary import load_summary
from tests.fuzz.strategies import (
    dump_json,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    only_harness_errors,
    run_cli,
    scratch,
    wrong_documents,
)


def _arm(n: int, successes: int, total: float, squares: float) -> dict[str, Any]:
    return {"n": n, "metrics": {
        "conv": {"successes": successes},
        "revenue": {"sum": total, "sum_squares": squares, "covariate_sum": total / 2,
                    "covariate_sum_squares": squares / 4, "covariate_cross_sum": squares / 2},
        "cost_per_request": {"numerator_sum": 30.0, "numerator_sum_squares": 1.0, "denominator_sum": n,
                             "denominator_sum_squares": n, "cross_sum": 30.0},
        "latency_p95": {"estimate": 2.31, "se": 0.04}}}


VALID = {"variants": {"A": _arm(3407, 1022, 10221.0, 61000.0), "B": _arm(3391, 1102, 10512.0, 63500.0)},
         "days": 14, "control": "A", "weights": {"A": 0.5, "B": 0.5}, "primary": "conv"}
CONFIGS = {
    "inferred": lambda: AnalysisConfig(),
    "named": lambda: AnalysisConfig(metrics=tuple(parse_metric_flag(m) for m in (
        "conv:proportion", "revenue:mean", "cost_per_request:ratio:cost/requests")), primary="conv"),
    "cuped": lambda: AnalysisConfig(metrics=(parse_metric_flag("revenue:mean"),), cuped_covariate="covariate"),
}
summaries = st.one_of(wrong_documents(VALID, max_mutations=4).map(dump_json),
                      hostile_bytes(wrong_documents(VALID).map(dump_json)))


def _check(path: Path, config_name: str) -> None:
    config = CONFIGS[config_name]()
    with files_unchanged(path.parent):
        only_harness_errors(lambda: load_summary(path, config))
        only_harness_errors(lambda: to_report(*analyze_summary(path, config)))


@fuzz_settings(100)
@given(content=summaries, config_name=st.sampled_from(sorted(CONFIGS)))
def test_summary_with_wrong_values(content: str | bytes, config_name: str) -> None:
    with scratch() as folder:
        path = folder / "summary.json"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        _check(path, config_name)


@fuzz_settings(10)
@given(content=summaries)
def test_ab_analyze_command_with_a_summary(content: str | bytes) -> None:
    with scratch() as folder:
        path = folder / "summary.json"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        with files_unchanged(folder):
            run_cli("--workspace", folder / "ws", "ab", "analyze", "--summary", path, "--json")


@pytest.mark.parametrize("content", [
    pytest.param(b'{"variants": {"A": {"n": 10, "metrics": {"m": {"successes": 1}}}}, "days": \x9c}', id="not-utf8"),
    pytest.param(b'{"variants": {"A": {"n": ' + b"9" * 4400 + b"}}}", id="int-over-4300-digits"),
    pytest.param(b'{"variants": ' + b"[" * 1100 + b"]" * 1100 + b"}", id="nested-1100-deep"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "summary.json"
    path.write_bytes(content)
    _check(path, "inferred")
    assert only_harness_errors(lambda: load_summary(path, AnalysisConfig())) is not None
