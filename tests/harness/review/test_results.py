"""Results of review batches from hand-made items and labels (known answers), and through the real queue."""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from rich.console import Console
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.multitest import multipletests

from harness.review.queue import BatchInfo, ItemRecord, LabelRecord
from harness.review.results import holm_across, render_results, results_for_run, review_results, summary_lines
from harness.review.rubric import DEFAULT_RUBRIC

# Rubric batch: 6 examples x 2 candidates, each item rated by ann and bob.
HELP = {
    "tuned": {"ann": [5, 4, 5, 4, 3, 5], "bob": [5, 4, 4, 4, 3, 5]},
    "base": {"ann": [2, 3, 1, 3, 2, 2], "bob": [2, 2, 1, 3, 3, 1]},
}
ROUGE = {"tuned": [0.9, 0.6, 0.7, 0.65, 0.3, 0.8], "base": [0.2, 0.5, 0.1, 0.35, 0.4, 0.15]}
# Pairwise batch: 8 items, three reviewers' winners ("tie" = None); item-level outcome in the comment.
WINNERS = [
    ("tuned", "tuned", "tuned"),  # win
    ("tuned", "tuned", "base"),   # win (mean preference 1/3)
    (None, None, None),           # tie
    ("base", "tuned", None),      # tie (even split)
    ("tuned", "tuned", None),     # win
    ("base", "base", "base"),     # loss
    ("tuned", "tuned", "tuned"),  # win
    ("tuned", None, "tuned"),     # win
]
REVIEWERS = ("ann", "bob", "cy")


def _batch(kind: str, n_items: int, overlap: int, batch_id: str = "rb-0000abcd") -> BatchInfo:
    return BatchInfo(id=batch_id, run_id="run-1", dataset="test", kind=kind, strategy="random", overlap=overlap,
                     candidates=("tuned", "base"), rubric=DEFAULT_RUBRIC if kind == "rubric" else None,
                     n_items=n_items, lease_s=900, created_at="2026-01-01T00:00:00+00:00")


def _item(batch_id: str, position: int, candidates: tuple[str, ...], scores: dict) -> ItemRecord:
    return ItemRecord(id=f"{batch_id}-{position}", batch_id=batch_id, position=position,
                      example_id=f"ex{position}", messages=({"role": "user", "content": "hi"},), reference="ref",
                      candidates=candidates, outputs=tuple("out" for _ in candidates), metadata={}, scores=scores)


def _rubric_data() -> tuple[BatchInfo, list[ItemRecord], list[LabelRecord]]:
    batch = _batch("rubric", 12, 2)
    items, labels = [], []
    for c_index, candidate in enumerate(("tuned", "base")):
        for e in range(6):
            position = c_index * 6 + e
            item = _item(batch.id, position, (candidate,),
                         {candidate: {"rouge_l": ROUGE[candidate][e], "exact_match": 0.0}})
            items.append(item)
            for reviewer in ("ann", "bob"):
                # bob says "no" on tuned's 5th output only; everything else agrees
                policy = not (candidate == "tuned" and e == 4 and reviewer == "bob")
                values = {"helpfulness": HELP[candidate][reviewer][e], "policy_compliance": policy,
                          "factual_accuracy": candidate == "tuned", "tone_appropriate": e != 2,
                          "comment": ""}
                labels.append(LabelRecord(item.id, batch.id, reviewer, "rubric", candidate, values, None,
                                          "2026-01-01T00:00:00+00:00"))
    return batch, items, labels


def _pairwise_data() -> tuple[BatchInfo, list[ItemRecord], list[LabelRecord]]:
    batch = _batch("pairwise", len(WINNERS), 3, "rb-0000ef01")
    items, labels = [], []
    for position, winners in enumerate(WINNERS):
        shown = ("tuned", "base") if position % 2 == 0 else ("base", "tuned")
        scores = {"tuned": {"rouge_l": 0.5 + 0.05 * position}, "base": {"rouge_l": 0.4 + 0.02 * position}}
        item = _item(batch.id, position, shown, scores)
        items.append(item)
        for reviewer, winner in zip(REVIEWERS, winners, strict=True):
            choice = "tie" if winner is None else "left" if winner == shown[0] else "right"
            labels.append(LabelRecord(item.id, batch.id, reviewer, "pairwise", None, {"choice": choice}, winner,
                                      "2026-01-01T00:00:00+00:00"))
    return batch, items, labels


def test_rubric_agreement_matches_the_reference_libraries() -> None:
    results = review_results(*_rubric_data())
    assert results.reviewers == ("ann", "bob") and results.n_labels == 24 and results.n_reviewed == 12
    helpfulness = next(a for a in results.agreement if a.field == "helpfulness")
    kappa, alpha = helpfulness.results
    ann = HELP["tuned"]["ann"] + HELP["base"]["ann"]
    bob = HELP["tuned"]["bob"] + HELP["base"]["bob"]
    assert kappa.method == "cohen_kappa_quadratic" and kappa.n_items == 12 and kappa.n_reviewers == 2
    assert kappa.value == pytest.approx(cohen_kappa_score(ann, bob, weights="quadratic", labels=[1, 2, 3, 4, 5]))
    assert alpha.value == pytest.approx(krippendorff.alpha(reliability_data=[ann, bob], level_of_measurement="ordinal",
                                                           value_domain=[1, 2, 3, 4, 5]))
    fields = {a.field: a for a in results.agreement}
    assert list(fields) == ["helpfulness", "policy_compliance", "factual_accuracy", "tone_appropriate"]
    assert fields["factual_accuracy"].results[0].value == pytest.approx(1.0)  # both always agree
    assert fields["policy_compliance"].level == "nominal"
    assert fields["policy_compliance"].results[0].method == "cohen_kappa"


def test_rubric_means_use_the_item_as_unit() -> None:
    results = review_results(*_rubric_data())
    tuned = results.mean("tuned", "helpfulness")
    item_means = [(a + b) / 2 for a, b in zip(HELP["tuned"]["ann"], HELP["tuned"]["bob"], strict=True)]
    low, high = stats.t.interval(0.95, 5, loc=np.mean(item_means), scale=stats.sem(item_means))
    assert tuned is not None and tuned.interval.n == 6 and tuned.interval.method == "t"
    assert (tuned.interval.estimate, tuned.interval.low) == pytest.approx((np.mean(item_means), low))
    assert tuned.interval.high == pytest.approx(min(5.0, high))  # clipped to the scale
    # reviewers split on one tuned item: item means are not all 0/1, so a t interval clipped to [0, 1]
    policy = results.mean("tuned", "policy_compliance")
    assert policy is not None and policy.interval.method == "t" and policy.interval.estimate == pytest.approx(11 / 12)
    assert policy.interval.high == 1.0
    # every base item is unanimous: Wilson on 6 items
    base_tone = results.mean("base", "tone_appropriate")
    assert base_tone is not None and base_tone.interval.method == "wilson" and base_tone.interval.n == 6
    assert base_tone.interval.estimate == pytest.approx(5 / 6)
    assert results.best_candidate() == "tuned" and results.human_score == "helpfulness"


def test_rubric_metric_agreement_is_spearman_with_the_mean_helpfulness() -> None:
    results = review_results(*_rubric_data())
    by_metric = {m.metric: m for m in results.metric_agreement}
    human = [(a + b) / 2 for c in ("tuned", "base") for a, b in zip(HELP[c]["ann"], HELP[c]["bob"], strict=True)]
    want = stats.spearmanr(ROUGE["tuned"] + ROUGE["base"], human).statistic
    rouge = by_metric["rouge_l"].correlation
    assert rouge.rho == pytest.approx(want) and rouge.n == 12 and by_metric["rouge_l"].human == "helpfulness"
    assert rouge.ci_low < rouge.rho < rouge.ci_high
    assert by_metric["exact_match"].correlation.error == "no_variance"
    assert results.best_metric() is by_metric["rouge_l"]


def test_pairwise_win_rate_counts_items_not_labels() -> None:
    results = review_results(*_pairwise_data())
    (rate,) = results.win_rates
    assert (rate.candidate_a, rate.candidate_b) == ("tuned", "base")
    assert (rate.wins_a, rate.wins_b, rate.ties) == (5, 1, 2)  # 8 items, not 24 labels
    assert rate.win_rate == pytest.approx(0.75)
    assert rate.p_value == pytest.approx(stats.binomtest(5, 6).pvalue) and rate.p_adjusted == rate.p_value
    assert results.best_candidate() == "tuned"
    positions = dict(results.positions)
    assert sum(positions.values()) == 24 and positions["tie"] == 6


def test_pairwise_labels_without_a_winner_name_count_by_side() -> None:
    batch, items, labels = _pairwise_data()
    sided = [replace(lab, winner=None) for lab in labels]  # e.g. imported labels that kept only left/right
    assert review_results(batch, items, sided).win_rates == review_results(batch, items, labels).win_rates


def test_pairwise_agreement_and_metric_difference() -> None:
    results = review_results(*_pairwise_data())
    (preference,) = results.agreement
    kappa, alpha = preference.results
    code = {"tuned": 1, "base": -1, None: 0}
    coded = np.array([[code[w] for w in winners] for winners in WINNERS])  # items x reviewers
    assert kappa.method == "fleiss_kappa" and kappa.n_reviewers == 3 and kappa.n_items == 8
    assert kappa.value == pytest.approx(fleiss_kappa(aggregate_raters(coded)[0]))
    assert alpha.method == "krippendorff_alpha_nominal"
    assert alpha.value == pytest.approx(krippendorff.alpha(reliability_data=coded.T, level_of_measurement="nominal",
                                                           value_domain=[-1, 0, 1]))
    (metric,) = results.metric_agreement
    diffs = [(0.5 + 0.05 * p) - (0.4 + 0.02 * p) for p in range(8)]
    want = stats.spearmanr(diffs, coded.mean(axis=1)).statistic
    assert metric.human == "preference" and metric.correlation.rho == pytest.approx(want)


def test_as_dict_is_json_safe_and_summary_says_the_gist() -> None:
    rubric = review_results(*_rubric_data())
    pairwise = review_results(*_pairwise_data())
    for results in (rubric, pairwise):
        data = json.loads(json.dumps(results.as_dict(), allow_nan=False))
        assert data["batch_id"] == results.batch_id and data["summary"] == summary_lines(results)
    data = rubric.as_dict()
    assert data["metric_agreement"]["exact_match"]["rho"] is None
    assert data["means"]["tuned"]["helpfulness"]["n"] == 6
    assert data["agreement"]["helpfulness"][0]["method"] == "cohen_kappa_quadratic"
    assert pairwise.as_dict()["win_rates"][0]["test"] == "sign_test_exact"
    rubric_text = " ".join(summary_lines(rubric))
    assert "Best by mean helpfulness: tuned" in rubric_text and "rouge_l agrees best" in rubric_text
    pairwise_text = " ".join(summary_lines(pairwise))
    assert "tuned beats base with win rate 0.75" in pairwise_text and "not a significant preference" in pairwise_text


def test_a_batch_without_labels_gives_neutral_results() -> None:
    batch, items, _labels = _pairwise_data()
    results = review_results(batch, items, [])
    assert results.n_labels == 0 and results.win_rates[0].error == "no_data"
    assert results.best_candidate() is None
    assert summary_lines(results) == [f"Batch {batch.id}: no labels yet (8 items waiting)."]
    json.dumps(results.as_dict(), allow_nan=False)
    rubric_batch, rubric_items, _ = _rubric_data()
    empty = review_results(rubric_batch, rubric_items, [])
    assert all(a.alpha.error == "too_few_raters_per_item" for a in empty.agreement)
    assert empty.best_candidate() is None


def test_render_results_prints_the_tables() -> None:
    for results, expected in ((review_results(*_rubric_data()), ["Cohen's kappa (quadratic weights)",
                                                                  "Rubric means", "rouge_l", "92% ["]),
                              (review_results(*_pairwise_data()), ["Fleiss' kappa", "tuned vs base", "0.75 [",
                                                                    "sign test", "choices by position"])):
        buffer = io.StringIO()
        render_results(results, Console(file=buffer, width=220, color_system=None))
        text = buffer.getvalue()
        for needle in expected + ["Krippendorff's alpha", summary_lines(results)[-1][:40]]:
            assert needle in text, needle


def test_holm_across_batches_of_a_run() -> None:
    first = review_results(*_pairwise_data())
    batch, items, labels = _pairwise_data()
    second = review_results(replace(batch, id="rb-second"), items,
                            [replace(lab, batch_id="rb-second", winner="tuned") for lab in labels])
    rubric = review_results(*_rubric_data())
    adjusted = holm_across([first, rubric, second])
    raw = [first.win_rates[0].p_value, second.win_rates[0].p_value]
    want = multipletests(raw, method="holm")[1]
    assert [adjusted[0].win_rates[0].p_adjusted, adjusted[2].win_rates[0].p_adjusted] == pytest.approx(want.tolist())
    assert adjusted[1] == rubric and adjusted[2].win_rates[0].p_value == raw[1]


def test_results_for_run_reads_every_batch_of_the_run(tmp_path: Path) -> None:
    from harness.review.queue import create_batch, next_item, submit
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    engine = ws.engine

    def pairwise_items(n: int) -> list[dict]:
        return [{"example_id": f"ex{i}", "messages": [{"role": "user", "content": "q"}], "reference": "r",
                 "candidates": ["tuned", "base"], "outputs": ["a", "b"], "metadata": {},
                 "scores": {"tuned": {"rouge_l": 0.5}, "base": {"rouge_l": 0.4}}} for i in range(n)]

    batch = create_batch(engine, run_id="run-1", dataset="test", kind="pairwise", strategy="random", overlap=2,
                         candidates=["tuned", "base"], rubric=None, items=pairwise_items(4))
    create_batch(engine, run_id="run-2", dataset="test", kind="pairwise", strategy="random", overlap=1,
                 candidates=["tuned", "base"], rubric=None, items=pairwise_items(2))
    for reviewer in ("ann", "bob"):
        while (task := next_item(engine, batch.id, reviewer)) is not None:
            submit(engine, task.item_id, reviewer, choice="left")  # "tuned" is always on the left here
    (results,) = results_for_run(engine, "run-1")
    assert results.batch_id == batch.id and results.n_labels == 8 and results.n_reviewed == 4
    assert (results.win_rates[0].wins_a, results.win_rates[0].ties) == (4, 0)
    assert results.agreement[0].alpha.error == "no_variance"
    assert results_for_run(engine, "no-such-run") == []
    assert not math.isnan(results.win_rates[0].ci_low)
