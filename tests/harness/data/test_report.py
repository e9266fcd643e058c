"""Dataset profile (counts, lengths, duplicates) and the --against coverage comparison."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from harness.data.report import flatten_metadata, length_stats, profile_file
from harness.data.shift import compare_field, compare_profiles, proportion_p_value
from harness.data.tokens import ApproxCounter


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def support_rows(n: int, weights: dict[str, float], seed: int, *, answers: bool = True, words: int = 20) -> list[dict]:
    rng = random.Random(seed)
    areas = list(weights)
    rows = []
    for i in range(n):
        area = rng.choices(areas, weights=[weights[a] for a in areas])[0]
        messages = [{"role": "user", "content": f"q{i} {area} " + "w " * rng.randint(1, words)}]
        if answers:
            messages.append({"role": "assistant", "content": f"answer {i}"})
        rows.append({"id": str(i), "messages": messages, "metadata": {"product_area": area, "ticket": f"T{i}"}})
    return rows


def test_profile_counts_lengths_and_duplicates(tmp_path):
    rows = [
        {"messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hello there, friend"},
                      {"role": "assistant", "content": "Hi!"}], "metadata": {"area": "billing", "c": {"tier": "pro"}}},
        {"messages": [{"role": "user", "content": "hello there friend"}, {"role": "assistant", "content": "Hey"}],
         "metadata": {"area": "billing", "score": 0.5}},
        {"messages": [{"role": "user", "content": "Refund"}, {"role": "assistant", "content": "Done."}],
         "metadata": {"area": "account"}},
        {"messages": [{"role": "USER", "content": "refund"}, {"role": "assistant", "content": "done."}]},
    ]
    path = write(tmp_path / "d.jsonl", rows)
    with open(path, "a") as handle:
        handle.write("{broken\n")
        handle.write(json.dumps(rows[2]) + "\n")
    data = profile_file(path).to_dict()
    assert data["examples"] == 5 and data["unreadable_lines"] == 1 and data["with_system_prompt"] == 1
    assert data["fields"]["area"]["counts"] == {"billing": 2, "account": 2}
    assert data["fields"]["area"]["shares"] == {"billing": 0.5, "account": 0.5}
    assert data["fields"]["c.tier"]["counts"] == {"pro": 1}
    assert "score" not in data["fields"]  # floats are not categories
    assert data["duplicates"]["exact"] == 1 and data["duplicates"]["near"] == 1
    assert {(d["line"], d["first_line"], d["kind"]) for d in data["duplicates"]["examples"]} == {(2, 1, "near"), (6, 3, "exact")}
    assert data["token_counter"].startswith("approx")
    assert data["lengths"]["messages"]["max"] == 3
    assert data["lengths"]["user_tokens"]["min"] == 1


def test_high_cardinality_fields_are_summarised(tmp_path):
    path = write(tmp_path / "d.jsonl", support_rows(100, {"billing": 1, "technical": 1}, 0))
    data = profile_file(path).to_dict()
    assert "ticket" not in data["fields"] and data["high_cardinality_fields"]["ticket"] == 100
    assert set(data["fields"]["product_area"]["counts"]) == {"billing", "technical"}


def test_length_stats_match_numpy():
    values = [5, 1, 9, 3, 3, 120, 7]
    stats = length_stats(values)
    assert (stats.min, stats.max, stats.n) == (1, 120, 7)
    assert stats.median == np.median(values) and stats.p95 == pytest.approx(np.percentile(values, 95))
    assert length_stats([]) is None


def test_flatten_metadata():
    assert flatten_metadata({"a": "x", "b": {"c": 1, "d": {"e": "too deep"}}, "f": [1], "g": True}) == {
        "a": "x", "b.c": "1", "g": "true"}


def test_against_flags_the_planted_under_covered_category(tmp_path):
    # the article's case: billing is 20% of production but 5% of training
    train = write(tmp_path / "train.jsonl", support_rows(2000, {"billing": 5, "technical": 60, "account": 35}, 1))
    prod = write(tmp_path / "prod.jsonl", support_rows(500, {"billing": 20, "technical": 45, "account": 35}, 2,
                                                        answers=False, words=5))
    comparison = compare_profiles(profile_file(train), profile_file(prod))
    flagged = {(c.field, c.value, c.flag) for c in comparison.flags}
    assert ("product_area", "billing", "under") in flagged
    assert not any(c.value in ("technical", "account") and c.flag in ("under", "missing") for c in comparison.flags)
    field = next(f for f in comparison.fields if f.field == "product_area")
    assert field.p_value < 1e-6
    assert comparison.lengths[0].name == "user_tokens" and comparison.lengths[0].p_value < 1e-6


def test_same_distribution_flags_nothing(tmp_path):
    weights = {"billing": 20, "technical": 45, "account": 35}
    a = write(tmp_path / "a.jsonl", support_rows(1500, weights, 3))
    b = write(tmp_path / "b.jsonl", support_rows(500, weights, 4))
    assert compare_profiles(profile_file(a), profile_file(b)).flags == []


def test_missing_category_is_flagged():
    field = compare_field("area", {"a": 500, "b": 500}, {"a": 40, "b": 40, "c": 20}, min_share=0.02,
                          ratio_threshold=0.5, alpha=0.05)
    flags = {c.value: c.flag for c in field.categories}
    assert flags == {"a": None, "b": None, "c": "missing"}


def test_small_share_in_production_is_not_flagged():
    field = compare_field("area", {"a": 990, "b": 10}, {"a": 990, "b": 10, "c": 5}, min_share=0.02,
                          ratio_threshold=0.5, alpha=0.05)
    assert all(c.flag is None for c in field.categories)


def test_p_values_agree_with_statsmodels():
    from statsmodels.stats.contingency_tables import Table
    from statsmodels.stats.proportion import proportions_ztest

    _, p_z = proportions_ztest([100, 90], [2000, 500])
    assert proportion_p_value(100, 2000, 90, 500) == pytest.approx(p_z, rel=1e-9)
    train, other = {"a": 100, "b": 1200, "c": 700}, {"a": 90, "b": 260, "c": 150}
    field = compare_field("x", train, other, min_share=0.02, ratio_threshold=0.5, alpha=0.05)
    nominal = Table(np.array([[100, 1200, 700], [90, 260, 150]])).test_nominal_association()
    assert field.chi2 == pytest.approx(nominal.statistic, rel=1e-9)
    assert field.p_value == pytest.approx(nominal.pvalue, rel=1e-6)


def test_holm_agrees_with_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from harness.data.shift import holm

    rng = np.random.default_rng(1)
    for size in (1, 2, 5, 12):
        p = rng.uniform(0, 0.2, size).tolist()
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist(), abs=1e-12)


def test_flag_rate_under_the_null_is_controlled():
    """Same distribution, many simulated samples: 'under' flags stay rare (Holm + ratio rule)."""
    rng = np.random.default_rng(0)
    probs = [0.1, 0.3, 0.6]
    flagged = 0
    trials = 300
    for _ in range(trials):
        a, b = rng.multinomial(400, probs), rng.multinomial(100, probs)
        field = compare_field("x", dict(zip("abc", map(int, a), strict=True)), dict(zip("abc", map(int, b), strict=True)),
                              min_share=0.02, ratio_threshold=0.5, alpha=0.05)
        flagged += any(c.flag == "under" for c in field.categories)
    assert flagged / trials < 0.05


def test_approx_counter():
    counter = ApproxCounter()
    assert counter.count_text("Hello, world! It's 3pm.") == 9
    assert counter.count_messages([{"role": "user", "content": "a b"}, {"role": "assistant", "content": "c"}]) == 3


def test_profile_with_a_tokenizer_names_it_and_counts_the_template(tmp_path, chat_tokenizer_dir):
    row = {"messages": [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "answer 1"}]}
    profile = profile_file(write(tmp_path / "d.jsonl", [row]), tokenizer=str(chat_tokenizer_dir))
    data = profile.to_dict()
    assert str(chat_tokenizer_dir) in data["token_counter"]
    assert data["lengths"]["user_tokens"]["max"] == 2 and data["lengths"]["assistant_tokens"]["max"] == 2
    assert data["lengths"]["total_tokens"]["max"] == 2 * 3 + 4  # two messages, 3 template tokens each
