"""harness.review.view: the blind queue table, reviewer progress, agreement with bootstrap intervals
(points equal to harness.review.results, intervals checked against scipy.stats.bootstrap), result tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.review.queue import BatchInfo, ItemRecord, LabelRecord
from harness.review.results import review_results
from harness.review.rubric import DEFAULT_RUBRIC
from harness.review.view import (
    QUEUE_COLUMNS,
    agreement_table,
    batch_label,
    means_table,
    metric_table,
    position_table,
    queue_table,
    rated_fields,
    reviewer_progress,
    win_rate_table,
)
from harness.stats.agreement import agreement_intervals, krippendorff_alpha

A, B = "secret-model-a", "secret-model-b"


def _batch(kind: str, n_items: int = 12, overlap: int = 3) -> BatchInfo:
    return BatchInfo(id=f"rb-{kind}", run_id="run-1", dataset="test", kind=kind, strategy="random",  # type: ignore[arg-type]
                     overlap=overlap, candidates=(A, B) if kind == "pairwise" else (A,),
                     rubric=DEFAULT_RUBRIC if kind == "rubric" else None, n_items=n_items, lease_s=900,
                     created_at="2026-01-01T00:00:00+00:00")


def _items(batch: BatchInfo, rng: np.random.Generator) -> list[ItemRecord]:
    out = []
    for i in range(batch.n_items):
        cands = (A, B) if batch.kind == "pairwise" else (A,)
        if batch.kind == "pairwise" and i % 2:
            cands = (B, A)  # the shown order varies per item
        scores = {c: {"rouge_l": float(rng.uniform())} for c in (A, B)}
        out.append(ItemRecord(id=f"{batch.id}-{i}", batch_id=batch.id, position=i, example_id=f"ex{i}",
                              messages=({"role": "user", "content": f"q{i}"},), reference="r",
                              candidates=cands, outputs=tuple(f"o{i}{c}" for c in cands), scores=scores))
    return out


def _labels(batch: BatchInfo, items: list[ItemRecord], rng: np.random.Generator) -> list[LabelRecord]:
    labels = []
    for item in items:
        truth = int(rng.integers(1, 6))
        for reviewer in ("ana", "ben", "chen"):
            if batch.kind == "pairwise":
                choice = str(rng.choice(["left", "right", "tie"], p=[0.45, 0.4, 0.15]))
                winner = {"left": item.candidates[0], "right": item.candidates[1], "tie": None}[choice]
                labels.append(LabelRecord(item.id, batch.id, reviewer, "pairwise", None, {"choice": choice}, winner,
                                          "2026-01-01T00:00:00+00:00"))
            else:
                score = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
                values = {"helpfulness": score, "policy_compliance": bool(rng.uniform() < 0.7),
                          "factual_accuracy": score >= 3, "tone_appropriate": bool(rng.uniform() < 0.8)}
                labels.append(LabelRecord(item.id, batch.id, reviewer, "rubric", A, values, None,
                                          "2026-01-01T00:00:00+00:00"))
    return labels


def _data(kind: str, n_items: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    batch = _batch(kind, n_items)
    items = _items(batch, rng)
    return batch, items, _labels(batch, items, rng)


def test_queue_table_is_blind_and_counts_progress() -> None:
    pairwise, rubric = _batch("pairwise", n_items=4), _batch("rubric", n_items=5)
    statuses = [{"batch_id": pairwise.id, "n_items": 4, "done": 1, "in_progress": 2, "remaining": 1,
                 "reviewers": {"ana": {"submitted": 3, "skipped": 1, "claimed": 0}}},
                {"batch_id": rubric.id, "n_items": 5, "done": 0, "in_progress": 0, "remaining": 5, "reviewers": {}}]
    table = queue_table([pairwise, rubric], statuses, "ana")
    assert list(table.columns) == list(QUEUE_COLUMNS)
    assert table["batch"].tolist() == [pairwise.id, rubric.id]
    assert table["progress"].tolist() == [0.25, 0.0]
    assert table["yours"].tolist() == [3, 0] and table["you skipped"].tolist() == [1, 0]
    assert table["in progress"].tolist() == [2, 0] and table["remaining"].tolist() == [1, 5]
    shown = table.to_string() + batch_label(pairwise, statuses[0]) + batch_label(rubric)
    assert A not in shown and B not in shown
    assert "1/4 done" in batch_label(pairwise, statuses[0])
    assert queue_table([pairwise], statuses)["yours"].tolist() == [0]  # no reviewer yet


def test_reviewer_progress() -> None:
    status = {"n_items": 4, "done": 2, "reviewers": {"ana": {"submitted": 3, "skipped": 1, "claimed": 0}}}
    mine = reviewer_progress(status, "ana")
    assert (mine.submitted, mine.skipped, mine.n_items, mine.done) == (3, 1, 4, 2)
    assert mine.fraction == 0.75
    assert reviewer_progress(status, "zoe").fraction == 0.0
    assert reviewer_progress({"n_items": 0}, "ana").fraction == 0.0


@pytest.mark.parametrize("kind", ["pairwise", "rubric"])
def test_agreement_points_are_the_ones_review_results_reports(kind: str) -> None:
    batch, items, labels = _data(kind)
    table = agreement_table(batch, labels, items, n_boot=200)
    results = review_results(batch, items, labels)
    expected = [(a.field, r.method, r.value, r.n_items) for a in results.agreement for r in a.results]
    got = list(table[["field", "method", "value", "n_items"]].itertuples(index=False, name=None))
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for (_, _, value, n), (_, _, want, want_n) in zip(got, expected, strict=True):
        assert value == pytest.approx(want) and n == want_n
    finite = table.dropna(subset=["low", "high"])
    assert len(finite) == len(table)
    assert (finite["low"] <= finite["high"]).all()
    assert (finite["low"] <= finite["value"] + 1e-9).all() and (finite["value"] <= finite["high"] + 1e-9).all()


def test_pairwise_preference_is_relative_to_the_first_candidate_whatever_the_side() -> None:
    batch = _batch("pairwise", n_items=2)
    items = _items(batch, np.random.default_rng(0))  # item 1 shows B on the left
    labels = [LabelRecord(items[0].id, batch.id, "ana", "pairwise", None, {"choice": "left"}, A, ""),
              LabelRecord(items[1].id, batch.id, "ana", "pairwise", None, {"choice": "left"}, B, ""),
              LabelRecord(items[1].id, batch.id, "ben", "pairwise", None, {"choice": "tie"}, None, ""),
              # an imported label that kept only the side: B is on the left of item 1
              LabelRecord(items[1].id, batch.id, "chen", "pairwise", None, {"choice": "left"}, None, "")]
    (field,) = rated_fields(batch, labels, items)
    assert [r[2] for r in field.ratings] == [1.0, -1.0, 0.0, -1.0]


def test_bootstrap_matches_scipy_percentile_bootstrap() -> None:
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 80)
    matrix = np.clip(truth + rng.integers(-1, 2, (3, 80)), 1, 5).astype(float)
    categories = [1.0, 2.0, 3.0, 4.0, 5.0]
    (_, _, kappa_valid), (low, high, valid) = agreement_intervals(matrix.tolist(), level="ordinal",
                                                                  categories=categories, n_boot=1000, seed=1)
    assert valid == kappa_valid == 1000

    def alpha(columns: np.ndarray) -> float:
        return krippendorff_alpha(matrix[:, columns.astype(int)].tolist(), level="ordinal",
                                  categories=categories).value

    reference = bootstrap((np.arange(80),), alpha, vectorized=False, method="percentile", n_resamples=1000,
                          rng=np.random.default_rng(7)).confidence_interval
    # two Monte Carlo runs of the same bootstrap: equal up to resampling noise
    assert low == pytest.approx(reference.low, abs=0.03)
    assert high == pytest.approx(reference.high, abs=0.03)
    point = krippendorff_alpha(matrix.tolist(), level="ordinal", categories=categories).value
    assert low < point < high
    again = agreement_intervals(matrix.tolist(), level="ordinal", categories=categories, n_boot=1000, seed=1)
    assert again[1] == (low, high, valid)  # seeded: the page shows the same interval on every load


def test_bootstrap_edge_cases() -> None:
    perfect = [[1.0, 2.0, 1.0, 2.0, 1.0, 2.0] * 3] * 3
    (k_low, k_high, _), (low, high, valid) = agreement_intervals(perfect, level="nominal", categories=[1.0, 2.0],
                                                                 n_boot=300)
    assert (low, high) == (1.0, 1.0) and (k_low, k_high) == (1.0, 1.0)
    assert 250 < valid <= 300  # resamples with one value only have no alpha and are left out
    too_few = agreement_intervals([[1.0, 1.0], [1.0, 1.0]], level="nominal", categories=[1.0, 2.0], n_boot=100)
    assert all(math.isnan(low) and math.isnan(high) and n == 0 for low, high, n in too_few)  # no variance
    empty = agreement_intervals([], level="nominal", categories=[1.0], n_boot=10)
    assert len(empty) == 2 and all(math.isnan(low) and math.isnan(high) and n == 0 for low, high, n in empty)


def test_agreement_table_without_labels_is_empty() -> None:
    batch, items, _ = _data("rubric")
    table = agreement_table(batch, [], items, n_boot=10)
    assert table.empty and "value" in table.columns


def test_result_tables_carry_the_results_numbers() -> None:
    batch, items, labels = _data("pairwise", n_items=30)
    results = review_results(batch, items, labels)
    wins = win_rate_table(results)
    (r,) = results.win_rates
    assert wins.iloc[0]["pair"] == f"{A} vs {B}"
    assert (wins.iloc[0]["win_rate"], wins.iloc[0]["low"], wins.iloc[0]["high"]) == (r.win_rate, r.ci_low, r.ci_high)
    assert wins.iloc[0][["wins_a", "wins_b", "ties"]].tolist() == [r.wins_a, r.wins_b, r.ties]
    positions = position_table(results)
    assert positions["choice"].tolist() == ["A (left)", "B (right)", "tie"]
    assert positions["count"].sum() == len(labels)
    assert positions["count"].tolist() == [sum(lab.values["choice"] == c for lab in labels)
                                           for c in ("left", "right", "tie")]
    metrics = metric_table(results)
    assert metrics["metric"].tolist() == ["rouge_l"]
    assert metrics.iloc[0]["rho"] == results.metric_agreement[0].correlation.rho

    batch, items, labels = _data("rubric", n_items=20)
    results = review_results(batch, items, labels)
    means = means_table(results)
    assert set(means["field"]) == {f.name for f in DEFAULT_RUBRIC.rated_fields()}
    helpful = means[means["field"] == "helpfulness"].iloc[0]
    per_item = {}
    for lab in labels:
        per_item.setdefault(lab.item_id, []).append(lab.values["helpfulness"])
    assert helpful["mean"] == pytest.approx(np.mean([np.mean(v) for v in per_item.values()]))
    assert helpful["low"] < helpful["mean"] < helpful["high"] and helpful["type"] == "scale"
    assert win_rate_table(results).empty
