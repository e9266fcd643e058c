"""Overlap metrics against their reference libraries (rouge_score, sacrebleu) on real text."""

from __future__ import annotations

import random

import pytest
from rouge_score.rouge_scorer import RougeScorer

from harness.metrics import Example, _rouge, get_metric
from harness.metrics.overlap import exact_match_score, normalize_text

REFERENCES = [
    "Your refund was issued on Monday and should reach your card within five business days.",
    "To reset your password, open Settings, choose Security and follow the emailed link.",
    "The shipment is delayed because of weather; we expect delivery by Thursday.",
    "Organizations organizing generous giveaways generally run happily running runners' races.",
    "Café crème brûlée — naïve façade, déjà vu! 東京 is 100% lovely (really).",
    "",
    "!!! ??? ...",
    "It's 3:45pm; the user's account #12345 was locked after 5 failed log-ins.",
]
PREDICTIONS = [
    "We issued your refund Monday; it should arrive on your card in five business days.",
    "Open Settings > Security, then click the link we email you to reset the password.",
    "Delivery is expected Thursday: weather delayed the shipment.",
    "Generous organizations organize giveaways and run races happily.",
    "Crème brûlée at the café, déjà vu in 東京",
    "something",
    "",
    "the users account 12345 got locked after five failed logins at 3 45 pm",
]


def _corpus(n: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = " ".join(REFERENCES + PREDICTIONS).split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 60))) for _ in range(n)]
    preds = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 60))) for _ in range(n)]
    return refs + REFERENCES, preds + PREDICTIONS


@pytest.mark.parametrize("rouge_type", ["rouge1", "rouge2", "rougeL"])
def test_rouge_identical_to_rouge_score(rouge_type: str) -> None:
    refs, preds = _corpus()
    scorer = RougeScorer([rouge_type], use_stemmer=True)
    expected = [scorer.score(r, p)[rouge_type] for r, p in zip(refs, preds, strict=True)]
    out = get_metric(rouge_type).compute([Example(str(i), p, r) for i, (r, p) in enumerate(zip(refs, preds, strict=True))])
    assert list(out.per_example) == [e.fmeasure for e in expected]
    mine = _rouge.score_pairs(refs, preds, (rouge_type,), processes=1)
    for got, want in zip(mine, expected, strict=True):
        assert (got[rouge_type].precision, got[rouge_type].recall) == (want.precision, want.recall)


def test_rouge_parallel_path_matches_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    refs, preds = _corpus(200, seed=3)
    monkeypatch.setattr(_rouge, "PARALLEL_THRESHOLD", 10)
    parallel = _rouge.score_pairs(refs, preds, processes=2)
    serial = _rouge.score_pairs(refs, preds, processes=1)
    assert parallel == serial
    assert len(parallel) == len(refs)


def test_lcs_length_matches_dynamic_programming() -> None:
    from rouge_score.rouge_scorer import _lcs_table

    rng = random.Random(1)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(1, 70))]
        b = [rng.choice("abcd") for _ in range(rng.randint(1, 70))]
        assert _rouge.lcs_length(a, b) == _lcs_table(a, b)[-1][-1]


def test_rouge_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="unsupported ROUGE type"):
        _rouge.score_pair("a", "b", ("rougeX",))


def test_bleu_and_chrf_match_sacrebleu() -> None:
    import sacrebleu

    examples = [Example(str(i), p, r) for i, (r, p) in enumerate(zip(REFERENCES, PREDICTIONS, strict=True))]
    bleu = get_metric("bleu").compute(examples)
    chrf = get_metric("chrf").compute(examples)
    for ex, b, c in zip(examples, bleu.per_example, chrf.per_example, strict=True):
        assert b == pytest.approx(sacrebleu.sentence_bleu(ex.prediction, [ex.reference]).score / 100, abs=1e-12)
        assert c == pytest.approx(sacrebleu.sentence_chrf(ex.prediction, [ex.reference]).score / 100, abs=1e-12)
    assert bleu.corpus["corpus_bleu"] == pytest.approx(sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES]).score / 100)
    assert chrf.corpus["corpus_chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score / 100)
    assert bleu.per_example[0] > 0.1 and bleu.per_example[6] == 0.0


@pytest.mark.parametrize(("prediction", "reference", "expected"), [
    ("Paris", "paris", 1.0),
    ("  The answer is: Paris!  ", "the answer is paris", 1.0),
    ("Paris, France", "Paris France", 1.0),
    ("Paris", "London", 0.0),
    ("", "", 1.0),
    ("", "Paris", 0.0),
    ("Ｐａｒｉｓ", "paris", 1.0),  # full-width letters (NFKC)
    ("Zürich", "zurich", 0.0),  # accents are not stripped
    ('{"b": 2, "a": 1}', '{"a": 1, "b": 2}', 1.0),
    ('```json\n{"a": 1, "b": [1, 2]}\n```', '{"b": [1, 2], "a": 1}', 1.0),
    ('{"a": 1, "b": 3}', '{"a": 1, "b": 2}', 0.0),
    ('{"a": 1', '{"a": 1}', 0.0),  # invalid JSON prediction
    ('{"name": "Ann"}', '{"name": "ann"}', 0.0),  # JSON values compared exactly
])
def test_exact_match_normalisation(prediction: str, reference: str, expected: float) -> None:
    assert exact_match_score(prediction, reference) == expected


def test_normalize_text() -> None:
    assert normalize_text("  Hello,\tWORLD!! ") == "hello world"
    assert normalize_text(None) == ""
    out = get_metric("exact_match").compute([Example("1", "Yes.", "yes"), Example("2", "no", "yes")])
    assert out.per_example == (1.0, 0.0) and out.kind == "binary"
