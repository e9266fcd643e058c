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
    assert out.corpus["precision"] == sum(e.precision for e in expected) / len(expected)
    mine = _rouge.score_pairs(refs, preds, (rouge_type,), processes=1)
    for got, want in zip(mine, expected, strict=True):
        assert (got[rouge_type].precision, got[rouge_type].recall) == (want.precision, want.recall)


def test_rouge_n_above_2_identical_to_rouge_score() -> None:
    refs, preds = _corpus(150, seed=11)
    scorer = RougeScorer(["rouge3", "rouge4"], use_stemmer=True)
    mine = _rouge.score_pairs(refs, preds, ("rouge3", "rouge4"), processes=1)
    for got, ref, pred in zip(mine, refs, preds, strict=True):
        want = scorer.score(ref, pred)
        assert {k: (v.precision, v.recall, v.fmeasure) for k, v in got.items()} == \
            {k: (v.precision, v.recall, v.fmeasure) for k, v in want.items()}


def test_rouge_without_stemming_identical_to_rouge_score() -> None:
    refs, preds = _corpus(100, seed=5)
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    mine = _rouge.score_pairs(refs, preds, stem=False, processes=1)
    for got, ref, pred in zip(mine, refs, preds, strict=True):
        want = scorer.score(ref, pred)
        assert {k: (v.precision, v.recall, v.fmeasure) for k, v in got.items()} == \
            {k: (v.precision, v.recall, v.fmeasure) for k, v in want.items()}


@pytest.mark.parametrize("text", [
    *REFERENCES, *PREDICTIONS, "KELVIN \u212a and \u0130stanbul STRASSE stra\u00dfe", "tab\tnew\nline\r\nend",
    "x" * 5000 + " yyyy 12ing 1234s", "\u00a0non-breaking\u2003spaces\u3000here", "Σίσυφος ΣΑΣ 42", "",
    "".join(map(chr, range(128))) * 2,
])
def test_tokenize_matches_rouge_score_tokenizer(text: str) -> None:
    from nltk.stem import porter
    from rouge_score import tokenize

    assert _rouge.tokenize(text) == tokenize.tokenize(text, porter.PorterStemmer())
    assert _rouge.tokenize(text, stem=False) == tokenize.tokenize(text, None)


def test_rouge_parallel_path_matches_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    refs, preds = _corpus(200, seed=3)
    monkeypatch.setattr(_rouge, "PARALLEL_MIN_TOKENS", 10)
    import threading

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert _rouge._pool_size(2, 10_000) == 2  # the pool is really used below
    parallel = _rouge.score_pairs(refs, preds, processes=2)
    serial = _rouge.score_pairs(refs, preds, processes=1)
    assert parallel == serial
    assert len(parallel) == len(refs)


def test_rouge_pool_only_for_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _rouge._pool_size(None, _rouge.PARALLEL_MIN_TOKENS - 1) == 1
    assert _rouge._pool_size(1, 10**9) == 1
    import threading

    monkeypatch.setattr(threading, "active_count", lambda: 3)  # never fork a threaded process
    assert _rouge._pool_size(4, 10**9) == 1


def test_rouge_metrics_tokenise_each_batch_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.metrics import score_examples

    calls: list[str] = []
    real = _rouge.tokenize
    monkeypatch.setattr(_rouge, "tokenize", lambda text, stem=True: calls.append(text) or real(text, stem))
    refs, preds = _corpus(30, seed=7)
    examples = [Example(str(i), p, r) for i, (r, p) in enumerate(zip(refs, preds, strict=True))]
    first = score_examples(examples, ["rouge1", "rouge2", "rougeL"])
    assert len(calls) == 2 * len(examples)
    # another batch of the same size (new objects, other texts) is tokenised afresh, not taken from the cache
    swapped = [Example(e.id, e.reference, e.prediction) for e in examples]
    second = score_examples(swapped, ["rouge1"])
    assert len(calls) == 4 * len(examples)
    scorer = RougeScorer(["rouge1"], use_stemmer=True)
    assert list(second["rouge1"].per_example) == [scorer.score(e.reference, e.prediction)["rouge1"].fmeasure
                                                  for e in swapped]
    assert first["rouge1"].per_example != () and len(first["rougeL"].per_example) == len(examples)


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
