"""Fuzz the A/B events-file reader (harness.ab.load_file) and its analysis, from CSV and Parquet files.

Properties: arbitrary bytes, and tables with the right columns but wrong cells (text in metric
columns, blanks, NaN, huge numbers, odd unicode, extra or missing columns), never raise anything
but HarnessError, whether metrics are inferred or named; the events file is never changed.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.ab.api import analyze_events_file, to_report
from harness.ab.config import AnalysisConfig, parse_metric_flag
from harness.ab.load_file import load_events_file
from tests.fuzz.strategies import (
    Raw,
    dump_json,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    only_harness_errors,
    run_cli,
    scratch,
    wrong_documents,
)


def _row(unit: int, variant: str, done: float) -> dict[str, Any]:
    return {"unit_id": f"u{unit}", "variant": variant, "timestamp": f"2026-01-0{1 + unit % 7} 10:00:00+00:00",
            "task_completed": done, "satisfaction": 3 + unit % 3, "latency_s": 0.5 + unit / 10,
            "cost": 0.001 * unit, "covariate": unit % 2}


VALID = [_row(i, "base" if i % 2 else "candidate", float(i % 3 == 0)) for i in range(8)]
tables = wrong_documents(VALID, max_mutations=6)
CONFIGS = {
    "inferred": lambda: AnalysisConfig(),
    "named": lambda: AnalysisConfig(metrics=tuple(parse_metric_flag(m) for m in (
        "task_completed:proportion", "satisfaction:mean", "cost_per_latency:ratio:cost/latency_s",
        "latency_p95:p95:latency_s")), primary="task_completed", control="base"),
    "cuped": lambda: AnalysisConfig(metrics=(parse_metric_flag("satisfaction:mean"),), cuped_covariate="covariate"),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return dump_json(value)


def _rows(table: Any) -> list[dict[str, Any]]:
    return [r if isinstance(r, dict) else {"unit_id": r} for r in (table if isinstance(table, list) else [table])]


def write_csv(table: Any, path: Path) -> None:
    """``table`` (a list of row dicts, maybe broken) as CSV; the header is every key in order of appearance."""
    rows = _rows(table)
    header = list(dict.fromkeys(str(k) for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        cells = {str(k): _cell(v) for k, v in r.items()}
        writer.writerow([cells.get(c, "") for c in header])
    path.write_bytes(buffer.getvalue().encode("utf-8", "surrogatepass"))


def write_parquet(table: Any, path: Path) -> None:
    """``table`` as Parquet: a column of numbers (and blanks) stays numeric, any other column becomes text."""
    import pandas as pd

    rows = [{_utf8(str(k)): v for k, v in r.items()} for r in _rows(table)]
    header = list(dict.fromkeys(k for r in rows for k in r))
    columns: dict[str, list[Any]] = {}
    for c in header:
        values = [r.get(c) for r in rows]
        numeric = all(v is None or (isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 2**62)
                      for v in values)
        columns[c] = [(float(v) if v is not None else None) if numeric else
                      _utf8(_cell(v)) for v in values]
    pd.DataFrame(columns).to_parquet(path)


def _utf8(text: str) -> str:  # Parquet holds UTF-8 only: lone surrogates become "?"
    return text.encode("utf-8", "replace").decode("utf-8")


def _check(path: Path, config_name: str) -> None:
    config = CONFIGS[config_name]()
    with files_unchanged(path.parent):
        only_harness_errors(lambda: load_events_file(path, config))
        only_harness_errors(lambda: to_report(*analyze_events_file(path, config)))


@fuzz_settings(50)
@given(table=tables, config_name=st.sampled_from(sorted(CONFIGS)))
def test_events_csv_with_wrong_cells(table: Any, config_name: str) -> None:
    with scratch() as folder:
        write_csv(table, folder / "events.csv")
        _check(folder / "events.csv", config_name)


@fuzz_settings(20)
@given(table=tables, config_name=st.sampled_from(sorted(CONFIGS)))
def test_events_parquet_with_wrong_cells(table: Any, config_name: str) -> None:
    with scratch() as folder:
        write_parquet(table, folder / "events.parquet")
        _check(folder / "events.parquet", config_name)


@fuzz_settings(40)
@given(content=hostile_bytes(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_events_file_of_arbitrary_bytes(content: bytes, suffix: str) -> None:
    with scratch() as folder:
        (folder / f"events{suffix}").write_bytes(content)
        _check(folder / f"events{suffix}", "inferred")


@fuzz_settings(10)
@given(table=tables)
def test_ab_analyze_command_with_an_events_file(table: Any) -> None:
    with scratch() as folder:
        write_csv(table, folder / "events.csv")
        with files_unchanged(folder):
            run_cli("--workspace", folder / "ws", "ab", "analyze", "--events", folder / "events.csv", "--json")


def _events(column: str, values: list[str]) -> str:
    rows = [f"u{i},{'AB'[i % 2]},{v}" for i, v in enumerate(values)]
    return "\n".join([f"unit_id,variant,{column}", *rows]) + "\n"


def _overflowing() -> str:
    """The valid table with one task_completed of 4.6e77 (the control's mean, to the 4th power, overflows)."""
    buffer = io.StringIO()
    rows = [dict(r) for r in VALID]
    rows[1]["task_completed"] = 4.631683569492648e77
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize(("suffix", "text"), [
    pytest.param(".csv", _overflowing(), id="value-whose-mean-to-the-4th-overflows"),
    pytest.param(".parquet", _events("timestamp", ["5492", "2026-01-01", "2026-01-02", "2026-01-03"]),
                 id="timestamp-out-of-pandas-range"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, suffix: str, text: str) -> None:
    import pandas as pd

    path = tmp_path / f"events{suffix}"
    if suffix == ".csv":
        path.write_text(text, encoding="utf-8")
    else:
        pd.read_csv(io.StringIO(text), dtype=str).assign(satisfaction=1.0).to_parquet(path)
    _check(path, "inferred")
