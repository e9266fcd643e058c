"""The leaderboard's data: planted runs (tests/app_pages/big_workspace.py) and the demo workspace's run.

Numbers are checked against what was planted and against scipy/statsmodels (Wilson intervals,
McNemar, Wilcoxon, Holm), so the page shows what ``harness eval`` and ``harness compare`` compute.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.report import leaderboard as lb
from tests.app_pages import big_workspace as big

N = 100  # test examples per planted run (20 per category); general has N // 5


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three planted runs of the five candidates (read-only for the tests)."""
    return big.build_big_workspace(tmp_path_factory.mktemp("planted") / "ws", runs=3, candidates=5, examples=N)


@pytest.fixture(scope="module")
def newest(planted: Path) -> Path:
    return lb.run_folder(planted, big.run_id(2))


@pytest.fixture(scope="module")
def loaded(newest: Path):
    return lb.load_candidates(newest)


def _engine(root: Path):
    from harness.workspace import Workspace

    return Workspace.open_read_only(root).engine


def _planted_exact(cand: str, run: int, n: int = N) -> float:
    per_category = n // len(big.CATEGORIES)
    return sum(big.exact_count(cand, c, run, per_category) for c in big.CATEGORIES) / n


def test_runs_are_listed_newest_first_with_candidates_and_datasets(planted: Path) -> None:
    runs = lb.leaderboard_runs(_engine(planted), planted)
    assert [r.id for r in runs] == [big.run_id(2), big.run_id(1), big.run_id(0)]
    assert runs[0].candidates == big.CANDIDATES
    assert runs[0].datasets == ("test", "general")  # the forgetting set last
    assert runs[0].status == "completed" and big.run_id(2) in runs[0].label()


def test_a_run_without_summary_is_not_offered(planted: Path, tmp_path: Path) -> None:
    from tests.conftest import copy_workspace

    ws = copy_workspace(planted, tmp_path / "ws")
    (ws / "runs" / big.run_id(1) / "summary.json").unlink()  # a run still in progress
    assert [r.id for r in lb.leaderboard_runs(_engine(ws), ws)] == [big.run_id(2), big.run_id(0)]


def test_metric_frame_has_the_planted_means_and_wilson_intervals(newest: Path) -> None:
    from statsmodels.stats.proportion import proportion_confint

    frame = lb.metric_frame(newest, "test")
    assert set(frame["metric"]) == {"exact_match", "rougeL"}  # latency and cost are in the usage section
    assert list(dict.fromkeys(frame["candidate"])) == list(big.CANDIDATES)  # suite order
    exact = frame[frame["metric"] == "exact_match"].set_index("candidate")
    for cand in big.CANDIDATES:
        expected = _planted_exact(cand, run=2)
        low, high = proportion_confint(round(expected * N), N, alpha=0.05, method="wilson")
        assert exact.loc[cand, "mean"] == pytest.approx(expected)
        assert (exact.loc[cand, "ci_low"], exact.loc[cand, "ci_high"]) == pytest.approx((low, high), abs=1e-9)
        assert exact.loc[cand, "n"] == N
        assert bool(exact.loc[cand, "prompted"]) is (cand in big.PROMPTED)
        assert exact.loc[cand, "role"] == (lb.PROMPTED if cand in big.PROMPTED else lb.TRAINED)
    general = lb.metric_frame(newest, "general").query("metric == 'exact_match'").set_index("candidate")
    assert general.loc["full-ft", "mean"] == pytest.approx(big.GENERAL_RATE["full-ft"])


def test_significance_is_harness_compare_with_scipy_p_values_and_holm(loaded) -> None:
    from scipy.stats import wilcoxon
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests

    candidates, metrics = loaded
    report = lb.comparison(candidates, metrics, baseline="base-zero-shot", correction="holm")
    frame = lb.significance_frame(report, "test").set_index(["candidate", "metric"])
    assert set(frame["baseline"]) == {"base-zero-shot"}
    assert "base-zero-shot" not in frame.index.get_level_values("candidate")
    scores = {c.name: c.datasets["test"][1] for c in candidates}

    a, b = np.array(scores["lora-r16"]["exact_match"]), np.array(scores["base-zero-shot"]["exact_match"])
    table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
             [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
    discordant = table[0][1] + table[1][0]
    expected_p = mcnemar(table, exact=discordant < 25, correction=False).pvalue
    row = frame.loc[("lora-r16", "exact_match")]
    assert row["p_value"] == pytest.approx(expected_p, rel=1e-9)
    assert row["diff"] == pytest.approx(_planted_exact("lora-r16", 2) - _planted_exact("base-zero-shot", 2))
    assert row["direction"] == "better" and "lora-r16 beats base-zero-shot" in row["verdict"]

    rouge = frame.loc[("lora-r8", "rougeL")]
    expected = wilcoxon(scores["lora-r8"]["rougeL"], scores["base-zero-shot"]["rougeL"]).pvalue
    assert rouge["p_value"] == pytest.approx(expected, rel=1e-6)

    # every comparison of the run (both datasets, all metrics) is one Holm family
    raw = [r.result.p_value for r in report.ranking.comparisons]
    assert len(raw) == 4 * len(metrics) * 2
    adjusted = multipletests(raw, method="holm")[1]
    assert [r.adjusted_p for r in report.ranking.comparisons] == pytest.approx(list(adjusted))
    assert frame.loc[("lora-r16", "exact_match"), "adjusted_p"] >= row["p_value"]


def test_default_baseline_is_the_best_prompted_one_and_headline_is_about_quality(loaded) -> None:
    candidates, metrics = loaded
    report = lb.comparison(candidates, metrics)
    assert report.baseline == "base-few-shot"  # the better of the two prompted baselines on exact_match
    headline = lb.headline(report, "test")
    assert headline.startswith("lora-r16 beats base-few-shot on exact_match")  # not a win on cost or latency
    bh = lb.comparison(candidates, metrics, correction="bh")
    assert bh.correction == "bh"
    assert lb.significance_frame(bh, "test")["adjusted_p"].max() <= 1.0


def test_forgetting_check_flags_the_planted_forgetter(loaded) -> None:
    candidates, metrics = loaded
    report = lb.comparison(candidates, metrics, baseline="base-few-shot")
    frame = lb.forgetting_frame(report).set_index(["candidate", "metric"])
    assert set(frame.index.get_level_values("candidate")) == {"lora-r8", "lora-r16", "full-ft"}  # trained only
    forgot = frame.loc[("full-ft", "exact_match")]
    assert forgot["status"] == "FAIL" and not forgot["passed"]
    assert forgot["diff"] == pytest.approx(big.GENERAL_RATE["full-ft"] - big.GENERAL_RATE["base-few-shot"])
    kept = frame.loc[("lora-r16", "exact_match")]
    assert kept["status"] == "PASS" and kept["diff"] == 0.0 and kept["margin"] == pytest.approx(0.02)


def test_slices_of_any_metadata_field_have_the_planted_means(loaded) -> None:
    from statsmodels.stats.proportion import proportion_confint

    candidates, _metrics = loaded
    assert lb.slice_fields(candidates, "test") == ["category", "difficulty"]
    frame = lb.slice_frame(candidates, "test", "category", "exact_match")
    assert set(frame["value"]) == set(big.CATEGORIES)
    billing = frame[(frame["candidate"] == "lora-r16") & (frame["value"] == "billing")].iloc[0]
    hits = big.exact_count("lora-r16", "billing", 2, N // 5)
    assert billing["mean"] == pytest.approx(hits / (N // 5)) and billing["n"] == N // 5
    assert (billing["ci_low"], billing["ci_high"]) == pytest.approx(
        proportion_confint(hits, N // 5, method="wilson"), abs=1e-9)
    by_difficulty = lb.slice_frame(candidates, "test", "difficulty", "rougeL")
    assert set(by_difficulty["value"]) == {"easy", "hard"} and set(by_difficulty["n"]) == {N // 2}


def test_usage_frame_has_the_planted_cost_and_measured_latency(newest: Path) -> None:
    frame = lb.usage_frame(newest, "test").set_index("candidate")
    for cand in big.CANDIDATES:
        assert frame.loc[cand, "cost_per_query"] == pytest.approx(big.COST[cand])
        assert frame.loc[cand, "total_cost"] == pytest.approx(big.COST[cand] * N)
        lines = (newest / "predictions" / cand / "test.jsonl").read_text().splitlines()
        latency = np.array([json.loads(line)["latency_s"] for line in lines])
        assert frame.loc[cand, "latency_mean"] == pytest.approx(latency.mean())
        assert frame.loc[cand, "latency_p95"] == pytest.approx(np.percentile(latency, 95))
        assert frame.loc[cand, "latency_ci_low"] < latency.mean() < frame.loc[cand, "latency_ci_high"]
        assert frame.loc[cand, "latency_mean"] > big.LATENCY[cand]  # planted floor plus positive noise


def test_demo_run(demo_workspace) -> None:
    root = demo_workspace.path
    runs = lb.leaderboard_runs(_engine(root), root)
    assert len(runs) == 1 and runs[0].datasets == ("test",)
    run_dir = lb.run_folder(root, runs[0].id)
    summary = json.loads((run_dir / "summary.json").read_text())["candidates"]
    frame = lb.metric_frame(run_dir, "test")
    assert set(frame["candidate"]) == {"base-zero-shot", "base-few-shot", "lora-extract"}
    for row in frame.itertuples():
        entry = summary[row.candidate]["test"][row.metric]
        assert row.mean == pytest.approx(entry["mean"]) and row.n == entry["n"]
        assert [row.ci_low, row.ci_high] == pytest.approx(entry["ci"])
        assert row.prompted is (row.candidate != "lora-extract")  # the adapter is a workspace model
    candidates, metrics = lb.load_candidates(run_dir)
    report = lb.comparison(candidates, metrics)
    assert report.baseline.startswith("base-")
    assert len(lb.significance_frame(report, "test")) == 2 * len(metrics)
    assert lb.forgetting_frame(report).empty  # no general set in the demo suite
    assert "category" in lb.slice_fields(candidates, "test") and "schema" not in lb.slice_fields(candidates, "test")
    usage = lb.usage_frame(run_dir, "test")
    assert usage["cost_per_query"].isna().all()  # the demo suite has no pricing
    assert (usage["latency_mean"] > 0).all() and not math.isnan(usage["latency_p95"].iloc[0])
