"""The Leaderboard page (AppTest) on the demo workspace, on empty workspaces, and on a big planted one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.app_pages import big_workspace as big
from tests.app_pages.support import open_page

REPO = Path(__file__).resolve().parents[2]


def _open(ws: Path, monkeypatch: pytest.MonkeyPatch):
    return open_page(monkeypatch, ws, "app_pages/leaderboard.py")


def _charts(at) -> list[tuple[dict, list]]:
    """Each Vega-Lite chart of the page: its spec and its datasets as DataFrames."""
    import pyarrow as pa

    return [(json.loads(chart.proto.spec), [pa.ipc.open_stream(d.data.data).read_pandas()
                                            for d in chart.proto.datasets])
            for chart in at.get("vega_lite_chart")]


def _selectbox(at, label: str):
    return next(box for box in at.selectbox if box.label == label)


def test_leaderboard_on_the_demo_workspace(demo_workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(demo_workspace.path, monkeypatch)
    run_id = next((demo_workspace.path / "runs").iterdir()).name
    assert _selectbox(at, "Run").value == run_id
    assert _selectbox(at, "Dataset").value == "test"
    headers = [h.value for h in at.subheader]
    assert headers[0] == "Candidates x metrics" and "Cost per query and latency" in headers
    charts = _charts(at)
    assert len(charts) >= 4  # metrics, significance, slices, latency
    spec, frames = charts[0]
    assert spec["facet"]["field"] == "metric"
    metrics = frames[0]
    summary = json.loads((demo_workspace.path / "runs" / run_id / "summary.json").read_text())["candidates"]
    row = metrics[(metrics["candidate"] == "lora-extract") & (metrics["metric"] == "json_valid")].iloc[0]
    entry = summary["lora-extract"]["test"]["json_valid"]
    assert row["mean"] == pytest.approx(entry["mean"]) and [row["ci_low"], row["ci_high"]] == pytest.approx(entry["ci"])
    roles = dict(zip(metrics["candidate"], metrics["role"], strict=False))
    assert roles == {"base-zero-shot": "prompted baseline", "base-few-shot": "prompted baseline",
                     "lora-extract": "trained"}
    assert any("no `general` dataset" in c.value for c in at.caption)  # the forgetting check explains itself

    baseline = _selectbox(at, "Baseline")
    assert baseline.value.startswith("base-")
    baseline.set_value("lora-extract").run()
    assert not at.exception, at.exception
    assert "Against the baseline: lora-extract" in [h.value for h in at.subheader]
    significance = next(frames[0] for spec, frames in _charts(at) if "direction" in frames[0].columns)
    assert set(significance["baseline"]) == {"lora-extract"}
    assert set(significance["candidate"]) == {"base-zero-shot", "base-few-shot"}

    at.radio(key="leaderboard_correction").set_value("bh").run()
    assert not at.exception, at.exception
    assert any("bh correction" in c.value for c in at.caption)


def test_empty_workspace_shows_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(tmp_path / "nothing-here", monkeypatch)
    assert at.info and "No harness data" in at.info[0].value
    assert [c.value for c in at.code] == ["harness eval SUITE.yaml"]
    assert not at.get("vega_lite_chart")


def test_workspace_without_runs_shows_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ws.engine  # noqa: B018 - creates the database, with no runs
    ws.close()
    at = _open(ws.root, monkeypatch)
    assert at.info and "No finished evaluation runs" in at.info[0].value
    assert [c.value for c in at.code] == ["harness eval SUITE.yaml"]


def test_big_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10 runs x 5 candidates x 1,000 examples: the leaderboard data is right; times are printed."""
    from harness.report import leaderboard as lb
    from harness.workspace import Workspace

    start = time.perf_counter()
    root = big.build_big_workspace(tmp_path / "big", runs=10, candidates=5, examples=1000)
    built = time.perf_counter() - start
    start = time.perf_counter()
    runs = lb.leaderboard_runs(Workspace.open_read_only(root).engine, root)
    run_dir = lb.run_folder(root, runs[0].id)
    metrics = lb.metric_frame(run_dir, "test")
    candidates, names = lb.load_candidates(run_dir)
    report = lb.comparison(candidates, names)
    slices = lb.slice_frame(candidates, "test", "category", "exact_match")
    usage = lb.usage_frame(run_dir, "test")
    loaded = time.perf_counter() - start

    assert len(runs) == 10 and runs[0].id == big.run_id(9)
    exact = metrics[metrics["metric"] == "exact_match"].set_index("candidate")["mean"]
    expected = sum(big.exact_count("lora-r16", c, 9, 200) for c in big.CATEGORIES) / 1000
    assert exact["lora-r16"] == pytest.approx(expected)
    billing = slices[(slices["candidate"] == "base-few-shot") & (slices["value"] == "billing")].iloc[0]
    assert billing["mean"] == pytest.approx(big.exact_count("base-few-shot", "billing", 9, 200) / 200)
    assert report.baseline == "base-few-shot"
    assert lb.forgetting_frame(report).set_index(["candidate", "metric"]).loc[("full-ft", "exact_match"),
                                                                                "status"] == "FAIL"
    assert usage.set_index("candidate")["cost_per_query"].to_dict() == pytest.approx(big.COST)

    start = time.perf_counter()
    at = _open(root, monkeypatch)
    first = time.perf_counter() - start
    start = time.perf_counter()
    at.run()
    again = time.perf_counter() - start
    assert not at.exception and len(at.get("vega_lite_chart")) >= 5
    print(f"\nbig workspace: built {built:.1f} s, leaderboard data {loaded:.2f} s, "
          f"page first run {first:.2f} s, rerun {again:.2f} s")
