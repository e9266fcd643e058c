"""Text-overlap metrics: ``exact_match``, ``rouge1``/``rouge2``/``rougeL``, ``bleu``, ``chrf``.

``exact_match`` normalisation (:func:`normalize_text`, :func:`exact_match_score`):

- when the reference contains JSON (an object or array, also inside ```` ``` ```` fences, by
  :func:`harness.metrics.json_metrics.extract_json`'s rule) the prediction must contain JSON too and
  the two are compared as parsed values: key order and formatting do not matter, values must be
  equal (an invalid-JSON prediction scores 0);
- otherwise the texts are compared after Unicode NFKC, lower-casing, replacing every punctuation
  character (Unicode category P*) by a space and collapsing runs of whitespace.

ROUGE scores are F-measures identical to ``rouge_score`` with ``use_stemmer=True`` (see
:mod:`harness.metrics._rouge`). BLEU and chrF come from sacrebleu and are reported on a 0-1 scale
(sacrebleu's number divided by 100); corpus-level values are in the output's ``corpus``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from harness.metrics._shared import PerExampleMetric, paused_gc
from harness.metrics.base import Example, Metric, MetricOutput, metric
from harness.metrics.json_metrics import extract_json


def normalize_text(text: str | None) -> str:
    """Return ``text`` NFKC-normalised, lower-cased, punctuation -> spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def exact_match_score(prediction: str | None, reference: str | None) -> float:
    """1.0 when prediction and reference match after normalisation (JSON compared parsed), else 0.0."""
    ref_found, ref_value = extract_json(reference)
    if ref_found:
        pred_found, pred_value = extract_json(prediction)
        return 1.0 if pred_found and pred_value == ref_value else 0.0
    return 1.0 if normalize_text(prediction) == normalize_text(reference) else 0.0


@metric("exact_match", higher_is_better=True, bounds=(0.0, 1.0))
def exact_match() -> Metric:
    """Normalised exact match (binary); see the module docstring for the rule."""
    return PerExampleMetric("exact_match", "binary", lambda ex: exact_match_score(ex.prediction, ex.reference))


_LAST_TOKENS: list[tuple[tuple[Example, ...], list[list[str]], list[list[str]]]] = []


def _rouge_tokens(examples: Sequence[Example]) -> tuple[list[list[str]], list[list[str]]]:
    """Reference and prediction tokens of ``examples``; the last batch's are kept, so that rouge1,
    rouge2 and rougeL scoring the same examples (one ``score_examples`` call) tokenise them once."""
    from harness.metrics._rouge import tokenize

    if _LAST_TOKENS:
        seen, references, predictions = _LAST_TOKENS[0]
        # Example is frozen: the same objects hold the same texts
        if len(seen) == len(examples) and all(a is b for a, b in zip(seen, examples, strict=True)):
            return references, predictions
    with paused_gc():
        references = [tokenize(e.reference or "") for e in examples]
        predictions = [tokenize(e.prediction or "") for e in examples]
    _LAST_TOKENS[:] = [(tuple(examples), references, predictions)]
    return references, predictions


class _Rouge:
    """ROUGE-N / ROUGE-L F-measure per example (fast exact implementation, optionally parallel)."""

    kind = "continuous"

    def __init__(self, name: str, processes: int | None = None) -> None:
        self.name = name
        self.processes = processes

    def compute(self, examples: Sequence[Example]) -> MetricOutput:
        """Per-example F-measure; corpus holds mean precision, recall and F-measure."""
        from harness.metrics._rouge import score_tokens

        references, predictions = _rouge_tokens(examples)
        precisions, recalls, fmeasures = score_tokens(references, predictions, self.name, processes=self.processes)
        corpus: dict[str, Any] = {}
        if fmeasures:
            corpus = {"precision": sum(precisions) / len(precisions), "recall": sum(recalls) / len(recalls),
                      "fmeasure": sum(fmeasures) / len(fmeasures)}
        return MetricOutput(self.name, "continuous", tuple(fmeasures), corpus)


@metric("rouge1", higher_is_better=True, bounds=(0.0, 1.0))
def rouge1(processes: int | None = None) -> Metric:
    """ROUGE-1 F-measure with Porter stemming (identical to rouge_score)."""
    return _Rouge("rouge1", processes)


@metric("rouge2", higher_is_better=True, bounds=(0.0, 1.0))
def rouge2(processes: int | None = None) -> Metric:
    """ROUGE-2 F-measure with Porter stemming (identical to rouge_score)."""
    return _Rouge("rouge2", processes)


@metric("rougeL", higher_is_better=True, bounds=(0.0, 1.0))
def rouge_l(processes: int | None = None) -> Metric:
    """ROUGE-L (LCS) F-measure with Porter stemming (identical to rouge_score)."""
    return _Rouge("rougeL", processes)


@metric("bleu", higher_is_better=True, bounds=(0.0, 1.0))
def bleu(tokenize: str = "13a") -> Metric:
    """Sentence BLEU per example (sacrebleu defaults: exp smoothing), corpus BLEU in ``corpus``; 0-1."""

    scorers: dict[str, Any] = {}

    def score(example: Example) -> float:
        if "s" not in scorers:
            from sacrebleu.metrics import BLEU

            scorers["s"] = BLEU(tokenize=tokenize, effective_order=True)
        return scorers["s"].sentence_score(example.prediction or "", [example.reference or ""]).score / 100.0

    def corpus(examples: Sequence[Example], _scores: tuple[float | None, ...]) -> dict[str, Any]:
        if not examples:
            return {}
        from sacrebleu.metrics import BLEU

        scorer = BLEU(tokenize=tokenize)
        result = scorer.corpus_score([e.prediction or "" for e in examples], [[e.reference or "" for e in examples]])
        return {"corpus_bleu": result.score / 100.0, "bp": result.bp, "signature": str(scorer.get_signature())}

    return PerExampleMetric("bleu", "continuous", score, corpus=corpus)


@metric("chrf", higher_is_better=True, bounds=(0.0, 1.0))
def chrf() -> Metric:
    """Sentence chrF per example (sacrebleu defaults), corpus chrF in ``corpus``; 0-1 scale."""

    scorers: dict[str, Any] = {}

    def score(example: Example) -> float:
        if "s" not in scorers:
            from sacrebleu.metrics import CHRF

            scorers["s"] = CHRF()
        return scorers["s"].sentence_score(example.prediction or "", [example.reference or ""]).score / 100.0

    def corpus(examples: Sequence[Example], _scores: tuple[float | None, ...]) -> dict[str, Any]:
        if not examples:
            return {}
        from sacrebleu.metrics import CHRF

        result = CHRF().corpus_score([e.prediction or "" for e in examples], [[e.reference or "" for e in examples]])
        return {"corpus_chrf": result.score / 100.0}

    return PerExampleMetric("chrf", "continuous", score, corpus=corpus)
