"""Text helpers of the generators: typos, casual style, normalisation, quotas."""

from __future__ import annotations

import random

from evalsets.generators.text import add_typos, casualize, length_bucket, normalise, weighted_quotas

SENTENCE = "Hello, I cannot download the invoice for order NV-123456 that Maria Lopez placed in March."


def test_typos_are_deterministic_and_edit_only_plain_words() -> None:
    protect = ["Maria Lopez", "NV-123456", "March"]
    first = add_typos(SENTENCE, random.Random(3), rate=0.5, protect=protect)
    assert first == add_typos(SENTENCE, random.Random(3), rate=0.5, protect=protect)
    assert first != SENTENCE
    for value in protect:
        assert value in first
    changed = [(a, b) for a, b in zip(SENTENCE.split(), first.split(), strict=True) if a != b]
    assert len(changed) >= 2
    for before, after in changed:
        assert before.strip(",.").isalpha() and len(before.strip(",.")) >= 4
        assert abs(len(before) - len(after)) <= 1  # one edit per word: swap, delete, double or neighbour


def test_typos_respect_the_minimum_even_at_rate_zero() -> None:
    out = add_typos(SENTENCE, random.Random(0), rate=0.0, minimum=2)
    assert sum(a != b for a, b in zip(SENTENCE.split(), out.split(), strict=True)) == 2
    assert add_typos("ok 12 NV-1", random.Random(0)) == "ok 12 NV-1"  # nothing editable


def test_casualize_keeps_protected_values_even_when_they_contain_each_other() -> None:
    text = "I am on the Plus plan, my card ending in 1234 was charged $1,234.00. Please help."
    protect = ["Plus", "1234", "$1,234.00", "1", "2"]
    for seed in range(20):
        out = casualize(text, random.Random(seed), protect=protect)
        assert "Plus" in out and "$1,234.00" in out and "1234" in out
        assert "\ue000" not in out and "\ue001" not in out
    casual = [casualize(text, random.Random(seed)) for seed in range(20)]
    assert any("im on" in c or "pls" in c for c in casual)


def test_normalise_length_bucket_and_quotas() -> None:
    assert normalise("  Hello,   WORLD!! ") == normalise("hello world") == "hello world"
    assert length_bucket("one two three") == "short"
    assert length_bucket(" ".join(["w"] * 20)) == "medium"
    assert length_bucket(" ".join(["w"] * 31)) == "long"
    quotas = weighted_quotas({"a": 0.26, "b": 0.2, "c": 0.54}, 101)
    assert sum(quotas.values()) == 101
    assert all(abs(quotas[k] - 101 * w) < 1 for k, w in {"a": 0.26, "b": 0.2, "c": 0.54}.items())
