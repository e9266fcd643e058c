"""Sticky assignment: uniform buckets, independent salts, no reassignment under ramp-up."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from harness.ab.assignment import Assigner, assign, bucket, moved_share, slots
from harness.errors import DataError

IDS = [f"user-{i}" for i in range(100_000)]


def _assignments(salt: str, weights: dict[str, float], ids: list[str] = IDS, **kw) -> list[str | None]:
    return [assign(u, salt, weights, **kw) for u in ids]


def test_bucket_is_the_documented_hash() -> None:
    # pinned: changing the hash would reshuffle every running experiment's units
    assert bucket("exp", "user-1") == pytest.approx(0.9783827264381699, abs=1e-15)
    digest = hashlib.sha256(b"exp:user-1").digest()
    assert bucket("exp", "user-1") == (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert bucket("exp", "user-1") != bucket("exp2", "user-1")


def test_buckets_are_uniform_over_a_million_ids() -> None:
    values = np.fromiter((bucket("uniformity", str(i)) for i in range(1_000_000)), dtype=float, count=1_000_000)
    assert values.min() >= 0.0 and values.max() < 1.0
    counts = np.bincount((values * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3
    # and the test has power: a 1% tilt towards the low half is caught
    tilted = counts.astype(float)
    tilted[:50] *= 1.01
    tilted[50:] *= 0.99
    assert stats.chisquare(tilted).pvalue < 1e-3


def test_split_matches_weights_and_is_sticky() -> None:
    weights = {"base": 0.5, "candidate": 0.3}
    first = _assignments("split", weights)
    counts = Counter(first)
    n = len(IDS)
    for name, share in [("base", 0.5), ("candidate", 0.3), (None, 0.2)]:
        half_width = 4 * np.sqrt(share * (1 - share) / n)
        assert abs(counts[name] / n - share) < half_width, (name, counts)
    assert _assignments("split", {"candidate": 0.3, "base": 0.5}) == first  # dict order does not matter
    assigner = Assigner("split", weights)
    assert [assigner(u) for u in IDS[:5000]] == first[:5000]


def test_assignments_are_independent_across_salts() -> None:
    weights = {"base": 0.4, "candidate": 0.4}
    a = _assignments("exp-a", weights)
    b = _assignments("exp-b", weights)
    labels = {"base": 0, "candidate": 1, None: 2}
    table = np.zeros((3, 3))
    for x, y in zip(a, b, strict=True):
        table[labels[x], labels[y]] += 1
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # the same salt is perfectly dependent, and the test sees it
    same = np.zeros((3, 3))
    for x in a[:20_000]:
        same[labels[x], labels[x]] += 1
    assert stats.chi2_contingency(same).pvalue < 1e-10


@pytest.mark.parametrize(("before", "after"), [
    ({"base": 0.1, "candidate": 0.1}, {"base": 0.5, "candidate": 0.5}),
    ({"base": 0.5, "candidate": 0.05}, {"base": 0.5, "candidate": 0.5}),
    ({"base": 0.9, "candidate": 0.1}, {"base": 0.9, "candidate": 0.1}),
    ({"a": 0.05, "b": 0.1, "c": 0.02}, {"a": 0.3, "b": 0.3, "c": 0.3}),
])
def test_ramp_up_never_reassigns(before: dict[str, float], after: dict[str, float]) -> None:
    old = _assignments("ramp", before)
    new = _assignments("ramp", after)
    moved = sum(1 for x, y in zip(old, new, strict=True) if x is not None and x != y)
    assert moved == 0
    assert moved_share(before, after) == 0.0
    assert sum(x is not None for x in new) >= sum(x is not None for x in old)
    # ramping down only un-enrolls: nobody lands in another variant
    back = _assignments("ramp", before)
    assert all(y is None or y == x for x, y in zip(new, back, strict=True))


def test_a_rebalance_that_moves_units_is_measured() -> None:
    before, after = {"base": 0.9, "candidate": 0.1}, {"base": 0.5, "candidate": 0.5}
    share = moved_share(before, after)
    assert share == pytest.approx(0.4)
    old, new = _assignments("move", before), _assignments("move", after)
    moved = sum(1 for x, y in zip(old, new, strict=True) if x is not None and x != y) / len(IDS)
    assert abs(moved - share) < 4 * np.sqrt(share * (1 - share) / len(IDS))


def test_slots_layout() -> None:
    assert slots({"base": 0.2, "candidate": 0.3}) == (("base", 0.0, 0.2), ("candidate", 0.7, 1.0))
    assert slots({"base": 0.2, "candidate": 0.3}, order=["candidate", "base"]) == (
        ("candidate", 0.0, 0.3), ("base", 0.8, 1.0))
    three = slots({"a": 0.1, "b": 0.2, "c": 0.3})
    assert [s[0] for s in three] == ["a", "b", "c"] and three[1][1] == pytest.approx(1 / 3)
    heavy = slots({"a": 0.8, "b": 0.1, "c": 0.1})  # over a lane: consecutive slots, still the right sizes
    assert [pytest.approx(hi - lo) for _, lo, hi in heavy] == [0.8, 0.1, 0.1]
    assert slots({"only": 0.25}) == (("only", 0.0, 0.25),)
    assert assign("u", "s", {"base": 0.0, "candidate": 0.0}) is None


@pytest.mark.parametrize(("weights", "kw", "needle"), [
    ({"base": -0.1, "candidate": 0.5}, {}, "must be >= 0"),
    ({"base": 0.7, "candidate": 0.5}, {}, "sum to 1.2 > 1"),
    ({"base": float("nan"), "candidate": 0.5}, {}, "must be >= 0"),
    ({}, {}, "at least one variant"),
    ({"base": 0.5, "candidate": 0.5}, {"order": ["base"]}, "does not name exactly"),
    ({"base": 0.5, "candidate": 0.5}, {"order": ["base", "base"]}, "does not name exactly"),
])
def test_invalid_weights_are_refused(weights: dict[str, float], kw: dict, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        assign("u", "s", weights, **kw)


def test_empty_unit_id_is_refused() -> None:
    with pytest.raises(DataError, match="empty unit id"):
        assign("", "s", {"base": 0.5, "candidate": 0.5})
    with pytest.raises(DataError, match="empty unit id"):
        Assigner("s", {"base": 0.5, "candidate": 0.5})("")
