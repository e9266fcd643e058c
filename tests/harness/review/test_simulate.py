"""Simulated reviewers: the deterministic judge, the noise model, and reviews through the real queue."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.review.rubric import DEFAULT_RUBRIC
from harness.review.simulate import (
    json_field_f1,
    judge_pairwise,
    judge_rubric,
    similarity,
    simulate_reviews,
    token_f1,
)
from tests.harness.runfolder import make_run

RUN_ID = "20261128-163000-support-v1-ab12"


def test_token_f1() -> None:
    assert token_f1("Reset your password", "reset your password.") == 1.0
    assert token_f1("reset the card", "reset your password") == pytest.approx(1 / 3)  # P = R = 1/3
    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)  # bag of words: counts matter
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0 and token_f1("x", "y") == 0.0


def test_json_field_f1() -> None:
    ref = '{"name": null, "order_id": "YD-19110", "issue": "late"}'
    assert json_field_f1('{"issue": "late", "order_id": "YD-19110", "name": null}', ref) == 1.0
    # 1 of 3 output pairs right, 1 of 3 reference pairs found
    assert json_field_f1('{"name": "x", "order_id": "L-1", "issue": "late"}', ref) == pytest.approx(1 / 3)
    # one pair right out of 1 output pair, 3 reference pairs: P=1, R=1/3
    assert json_field_f1('{"issue": "late"}', ref) == pytest.approx(0.5)
    assert json_field_f1("not json", ref) is None and json_field_f1("[1, 2]", "[1, 2]") is None
    assert json_field_f1("{}", "{}") == 1.0


def test_similarity_picks_the_judge_by_reference() -> None:
    ref = '{"issue": "late", "order_id": "YD-19110"}'
    assert similarity(f"  {ref}\n", ref) == 1.0
    assert similarity('{"issue": "late"}', ref) == pytest.approx(2 / 3)
    assert similarity("issue late order_id YD-19110", ref) == 0.0  # not JSON while the reference is
    assert similarity("refund the order", "refund your order") == pytest.approx(2 / 3)
    assert similarity("anything", None) == 0.0


def test_rubric_judge_without_noise_follows_similarity() -> None:
    rng = random.Random(0)
    perfect = judge_rubric(DEFAULT_RUBRIC, "refund your order", "refund your order", noise=0.0, rng=rng)
    assert perfect == {"helpfulness": 5, "policy_compliance": True, "factual_accuracy": True,
                       "tone_appropriate": True}
    bad = judge_rubric(DEFAULT_RUBRIC, "xyz", "refund your order", noise=0.0, rng=rng)
    assert bad == {"helpfulness": 1, "policy_compliance": False, "factual_accuracy": False,
                   "tone_appropriate": False}
    assert DEFAULT_RUBRIC.validate(perfect) == perfect and DEFAULT_RUBRIC.validate(bad) == bad


def test_rubric_judge_errs_at_the_noise_rate() -> None:
    rng = random.Random(1)
    truth = judge_rubric(DEFAULT_RUBRIC, "refund your order", "refund your order", noise=0.0, rng=rng)
    draws = [judge_rubric(DEFAULT_RUBRIC, "refund your order", "refund your order", noise=0.3, rng=rng)
             for _ in range(4000)]
    flipped = sum(d["factual_accuracy"] != truth["factual_accuracy"] for d in draws) / len(draws)
    moved = Counter(d["helpfulness"] for d in draws)
    assert flipped == pytest.approx(0.3, abs=0.03)
    assert set(moved) == {4, 5} and moved[4] / len(draws) == pytest.approx(0.3, abs=0.03)  # 5 can only go down


def test_pairwise_judge() -> None:
    rng = random.Random(0)
    ref = "refund your order today"
    assert judge_pairwise(ref, "no idea", ref, noise=0.0, rng=rng) == "left"
    assert judge_pairwise("no idea", "refund your order", ref, noise=0.0, rng=rng) == "right"
    assert judge_pairwise("abc", "xyz", ref, noise=0.0, rng=rng) == "tie"
    choices = Counter(judge_pairwise(ref, "no idea", ref, noise=0.25, rng=rng) for _ in range(4000))
    assert set(choices) == {"left", "right"} and choices["right"] / 4000 == pytest.approx(0.25, abs=0.03)
    ties = Counter(judge_pairwise("abc", "xyz", ref, noise=1.0, rng=rng) for _ in range(2000))
    assert set(ties) == {"left", "right"}  # a noisy reviewer does not see the tie


# --- through the real queue -----------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path):
    from harness.workspace import Workspace

    root = tmp_path / "ws"
    make_run(root, RUN_ID, n_test=40, n_general=10, write_scores=True)
    ws = Workspace.open(root)
    yield ws
    ws.close()


def _batch(ws, kind: str, candidates: list[str], overlap: int = 3, n: int = 30):
    from harness.review.sampling import build_batch

    return build_batch(ws.engine, ws.root, RUN_ID, candidates=candidates, dataset="test", n=n, kind=kind,
                       overlap=overlap, seed=3)


def _agreement(labels) -> float:
    """Share of items on which every reviewer gave the same values."""
    by_item: dict[str, set] = {}
    for label in labels:
        by_item.setdefault(label.item_id, set()).add(tuple(sorted(label.values.items())))
    return sum(len(v) == 1 for v in by_item.values()) / len(by_item)


def test_without_noise_reviewers_agree_and_with_noise_they_do_not(workspace) -> None:
    from harness.review.queue import batch_status, labels

    exact = _batch(workspace, "rubric", ["lora-r16"])
    assert simulate_reviews(workspace.engine, exact.id, noise=0.0) == 90  # 30 items x 3 reviewers
    assert _agreement(labels(workspace.engine, exact.id)) == 1.0
    status = batch_status(workspace.engine, exact.id)[0]
    assert status["done"] == 30 and status["remaining"] == 0
    assert {name: counts["submitted"] for name, counts in status["reviewers"].items()} == \
        {"ana": 30, "ben": 30, "chen": 30}
    noisy = _batch(workspace, "rubric", ["lora-r16"])
    assert simulate_reviews(workspace.engine, noisy.id, noise=0.3, seed=1) == 90
    assert _agreement(labels(workspace.engine, noisy.id)) < 0.6  # 4 rated fields, each flipped 30% of the time
    assert simulate_reviews(workspace.engine, noisy.id, noise=0.3) == 0  # nothing left: nothing counted twice


def test_simulated_humans_prefer_the_better_candidate(workspace) -> None:
    from harness.review.queue import labels

    batch = _batch(workspace, "pairwise", ["lora-r16", "base-zero-shot"])
    simulate_reviews(workspace.engine, batch.id, noise=0.2)
    winners = Counter(label.winner for label in labels(workspace.engine, batch.id))
    assert winners["lora-r16"] > 2 * winners["base-zero-shot"], winners


def test_overlap_one_spreads_items_over_the_reviewers(workspace) -> None:
    from harness.review.queue import labels

    batch = _batch(workspace, "rubric", ["lora-r16"], overlap=1, n=9)
    assert simulate_reviews(workspace.engine, batch.id, noise=0.0) == 9
    assert Counter(label.reviewer for label in labels(workspace.engine, batch.id)) == {"ana": 3, "ben": 3, "chen": 3}


def test_bad_arguments(workspace) -> None:
    batch = _batch(workspace, "rubric", ["lora-r16"], n=2)
    with pytest.raises(HarnessError, match="noise 1.5"):
        simulate_reviews(workspace.engine, batch.id, noise=1.5)
    with pytest.raises(HarnessError, match="distinct"):
        simulate_reviews(workspace.engine, batch.id, reviewers=("ana", "ana"))
    with pytest.raises(HarnessError):
        simulate_reviews(workspace.engine, "rb-00000000")
