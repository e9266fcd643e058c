"""Split invariants: deterministic, a partition, duplicate groups never span splits, ratios held."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.data.schema import example_key, user_key
from harness.data.split import (
    assign_splits,
    count_leakage,
    parse_ratios,
    split_examples,
)
from harness.errors import HarnessError

QUESTIONS = st.sampled_from(["reset password", "Reset password!", "refund please", "api down?", "export csv",
                             "change plan", "delete account", "invoice missing"])


@st.composite
def datasets(draw):
    """Examples with planted exact and near duplicates and a category field."""
    n = draw(st.integers(min_value=0, max_value=60))
    examples = []
    for i in range(n):
        unique = draw(st.booleans())
        question = f"question {i}" if unique else draw(QUESTIONS)
        answer = draw(st.sampled_from(["yes", "no", f"answer {i}"]))
        examples.append({"id": str(i), "messages": [{"role": "user", "content": question},
                                                    {"role": "assistant", "content": answer}],
                         "metadata": {"area": draw(st.sampled_from(["billing", "technical", "account"]))}})
    return examples


RATIOS = st.sampled_from([(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (0.9, 0.1, 0.0), (1.0, 0.0, 0.0)])


def _group_split(result):
    """Return {exact or near key: set of splits it appears in}."""
    where: dict[str, set[str]] = {}
    for name in ("train", "val", "test"):
        for ex in getattr(result, name):
            for key in (example_key(ex), user_key(ex)):
                where.setdefault(key, set()).add(name)
    return where


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(examples=datasets(), seed=st.integers(0, 2**31), ratios=RATIOS, stratify=st.sampled_from([None, "area"]))
def test_split_invariants(examples, seed, ratios, stratify):
    result = split_examples(examples, seed=seed, ratios=ratios, stratify=stratify)
    again = split_examples(examples, seed=seed, ratios=ratios, stratify=stratify)
    parts = [result.train, result.val, result.test]
    # deterministic
    assert [[e["id"] for e in p] for p in parts] == [[e["id"] for e in p] for p in (again.train, again.val, again.test)]
    # a partition of the input, each split in input order
    ids = [e["id"] for p in parts for e in p]
    assert sorted(ids, key=int) == [e["id"] for e in examples]
    for p in parts:
        assert [int(e["id"]) for e in p] == sorted(int(e["id"]) for e in p)
    # no exact or near duplicate spans two splits
    assert all(len(splits) == 1 for splits in _group_split(result).values())
    assert result.leakage == 0
    assert result.sizes == {"train": len(result.train), "val": len(result.val), "test": len(result.test)}
    # a zero ratio gets nothing
    for name, ratio in zip(("train", "val", "test"), ratios, strict=True):
        if ratio == 0:
            assert result.sizes[name] == 0
    if stratify:
        assert sum(sum(c.values()) for c in result.balance.values()) == len(examples)
    # ratios held up to one group per stratum (largest-deficit apportionment never overshoots more)
    largest = max(_group_sizes(examples), default=0)
    strata = len({e["metadata"]["area"] for e in examples}) if stratify else 1
    for name, ratio in zip(("train", "val", "test"), ratios, strict=True):
        assert result.sizes[name] <= ratio * len(examples) + strata * largest


def _group_sizes(examples):
    """Sizes of the connected components of 'shares an exact or near key' (independent of the code)."""
    keys = [{example_key(e), user_key(e)} - {None} for e in examples]
    seen, sizes = set(), []
    for start in range(len(examples)):
        if start in seen:
            continue
        stack, size = [start], 0
        seen.add(start)
        while stack:
            i = stack.pop()
            size += 1
            for j in range(len(examples)):
                if j not in seen and keys[i] & keys[j]:
                    seen.add(j)
                    stack.append(j)
        sizes.append(size)
    return sizes


def test_input_order_does_not_change_the_assignment():
    examples = [{"id": str(i), "messages": [{"role": "user", "content": f"q{i % 40}"},
                                            {"role": "assistant", "content": f"a{i}"}]} for i in range(200)]
    forward = split_examples(examples, seed=3)
    backward = split_examples(examples[::-1], seed=3)
    for name in ("train", "val", "test"):
        assert sorted(e["id"] for e in getattr(forward, name)) == sorted(e["id"] for e in getattr(backward, name))


def test_different_seeds_give_different_splits():
    examples = [{"id": str(i), "messages": [{"role": "user", "content": f"q{i}"},
                                            {"role": "assistant", "content": "a"}]} for i in range(200)]
    a, b = split_examples(examples, seed=0), split_examples(examples, seed=1)
    assert [e["id"] for e in a.test] != [e["id"] for e in b.test]


@pytest.mark.parametrize("n", [100, 1000, 5000])
def test_ratios_are_held_for_singletons(n):
    examples = [{"id": str(i), "messages": [{"role": "user", "content": f"q{i}"},
                                            {"role": "assistant", "content": "a"}]} for i in range(n)]
    sizes = split_examples(examples, seed=7).sizes
    assert abs(sizes["train"] - 0.8 * n) <= 1 and abs(sizes["val"] - 0.1 * n) <= 1


def test_ratios_are_approximately_held_with_groups():
    # 2000 examples in groups of 1-5 sharing a user message
    examples, i = [], 0
    for g in range(700):
        for _ in range(1 + g % 5):
            examples.append({"id": str(i), "messages": [{"role": "user", "content": f"group {g}"},
                                                        {"role": "assistant", "content": f"a{i}"}]})
            i += 1
    result = split_examples(examples, seed=0)
    n = len(examples)
    assert abs(result.sizes["train"] / n - 0.8) < 0.01
    assert abs(result.sizes["test"] / n - 0.1) < 0.01
    assert result.stats.groups == 700 and result.leakage == 0


def test_stratify_balances_each_class_by_dotted_path():
    examples = [{"id": str(i), "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
                 "metadata": {"customer": {"tier": "pro" if i % 10 < 2 else "free"}}} for i in range(1000)]
    result = split_examples(examples, seed=0, stratify="customer.tier")
    for name, size in result.sizes.items():
        share = result.balance[name]["pro"] / size
        assert abs(share - 0.2) < 0.011, (name, result.balance)
    same = split_examples(examples, seed=0, stratify="metadata.customer.tier")
    assert same.balance == result.balance


def test_leakage_count_detects_a_planted_leak():
    exact = ["a", "b", "c", "d"]
    near = ["q1", "q2", "q1", None]
    assert count_leakage(exact, near, [0, 0, 0, 1]) == 0
    assert count_leakage(exact, near, [0, 0, 2, 1]) == 2  # examples 0 and 2 share q1 across splits
    assert count_leakage(["a", "a"], [None, None], [0, 1]) == 2


def test_assign_keeps_chained_duplicates_together():
    # 0~1 by exact key, 1~2 by near key: all three in one split even though 0 and 2 share nothing
    exact = ["k1", "k1", "k2"] + [f"u{i}" for i in range(50)]
    near = ["n0", "n1", "n1"] + [None] * 50
    assignment, groups, grouped = assign_splits(exact, near, None, seed=0, ratios=(0.34, 0.33, 0.33))
    assert len(set(assignment[:3])) == 1 and groups == 51 and grouped == 3


def test_parse_ratios():
    assert parse_ratios("0.7,0.2,0.1") == (0.7, 0.2, 0.1)
    for bad in ("0.5,0.5", "a,b,c", "0.8,0.1,0.2", "-0.1,0.6,0.5", "0,0.5,0.5"):
        with pytest.raises(HarnessError):
            parse_ratios(bad)


def test_empty_input():
    result = split_examples([])
    assert result.sizes == {"train": 0, "val": 0, "test": 0} and result.leakage == 0


def test_split_examples_tolerates_odd_dicts():
    odd = [{"messages": "nope"}, {}, {"messages": [{"role": "user"}]}, {"messages": [{"role": "user", "content": "x"}]}]
    result = split_examples(odd + [json.loads(json.dumps(o)) for o in odd])
    assert sum(result.sizes.values()) == 8 and result.leakage == 0
    for name in ("train", "val", "test"):  # each odd dict and its copy share a key: they stay together
        assert set(Counter(json.dumps(e, sort_keys=True) for e in getattr(result, name)).values()) <= {2}, name


def test_stratify_on_an_unknown_field_names_the_known_ones():
    examples = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
                 "metadata": {"area": "x", "customer": {"tier": "pro"}}} for i in range(10)]
    with pytest.raises(HarnessError, match="no example has this metadata field") as info:
        split_examples(examples, stratify="aera")
    assert "area, customer.tier" in info.value.hint
    partly = examples + [{"messages": [{"role": "user", "content": "z"}, {"role": "assistant", "content": "a"}]}]
    balance = split_examples(partly, stratify="area").balance  # some examples lack it: a category of its own
    assert sum(counts.get("(missing)", 0) for counts in balance.values()) == 1


def test_stratify_on_an_id_field_warns_that_it_cannot_stratify():
    examples = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
                 "metadata": {"ticket": f"T-{i}", "area": ["billing", "api"][i % 2]}} for i in range(40)]
    by_id = split_examples(examples, stratify="ticket").stats
    assert len(by_id.warnings) == 1
    assert "'ticket' has 40 distinct values for 40 examples (40 seen once)" in by_id.warnings[0]
    assert by_id.to_dict()["warnings"] == by_id.warnings
    assert split_examples(examples, stratify="area").stats.warnings == []
    assert split_examples(examples).stats.to_dict()["warnings"] == []
    assert split_examples(examples[:9], stratify="ticket").stats.warnings == []  # too few to tell
