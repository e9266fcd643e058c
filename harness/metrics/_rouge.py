"""A fast, exact re-implementation of ``rouge_score``'s ROUGE-N and ROUGE-L (F, P, R).

Scores are identical to ``rouge_score.rouge_scorer.RougeScorer(types, use_stemmer=True).score`` (the
benchmark ``bench/bench_rouge.py`` and the tests check it pair by pair). Why hand-written: the library
re-stems every token of every text (stemming dominates its cost) and fills a Python LCS table. Here:

- tokenisation is the library's rule (lower-case, non ``[a-z0-9]`` -> space, split, Porter-stem
  tokens longer than 3 characters with NLTK's stemmer, drop empty tokens); stems are memoised per
  token and each text is tokenised once, however many ROUGE types are asked for;
- ROUGE-L length uses the bit-parallel LCS of Allison-Dix / Hyyrö on Python integers: exact, and
  O(n * ceil(m / word)) instead of O(n * m) interpreted steps;
- large inputs are split over processes (both cores).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID = re.compile(r"^[a-z0-9]+$")
_STEM_CACHE: dict[str, str] = {}
_STEMMER = None
PARALLEL_THRESHOLD = 4000  # pairs; below this, process start-up costs more than it saves


@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F-measure of one ROUGE type for one pair."""

    precision: float
    recall: float
    fmeasure: float


def _stem(token: str) -> str:
    global _STEMMER
    stemmed = _STEM_CACHE.get(token)
    if stemmed is None:
        if _STEMMER is None:
            from nltk.stem import porter

            _STEMMER = porter.PorterStemmer()
        stemmed = _STEMMER.stem(token) if len(token) > 3 else token
        _STEM_CACHE[token] = stemmed
    return stemmed


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Return rouge_score's tokens for ``text`` (same rule, memoised stemming)."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split(" ")
    if stem:
        tokens = [_stem(t) for t in tokens]
    return [t for t in tokens if t and _VALID.match(t)]


def _fmeasure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ngram_score(target: list[str], prediction: list[str], n: int) -> RougeScore:
    t_grams = Counter(zip(*(target[i:] for i in range(n)), strict=False)) if n > 1 else Counter(target)
    p_grams = Counter(zip(*(prediction[i:] for i in range(n)), strict=False)) if n > 1 else Counter(prediction)
    overlap = sum((t_grams & p_grams).values())
    precision = overlap / max(sum(p_grams.values()), 1)
    recall = overlap / max(sum(t_grams.values()), 1)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, exact)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        match = masks.get(token)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _lcs_score(target: list[str], prediction: list[str]) -> RougeScore:
    if not target or not prediction:
        return RougeScore(0, 0, 0)
    lcs = lcs_length(target, prediction)
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _check_types(rouge_types: Sequence[str]) -> None:
    for kind in rouge_types:
        if kind != "rougeL" and not re.fullmatch(r"rouge[1-9]", kind):
            raise ValueError(f"unsupported ROUGE type {kind!r}; use rouge1..rouge9 or rougeL")


def score_pair(target: str, prediction: str, rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
               stem: bool = True) -> dict[str, RougeScore]:
    """Return ``{type: RougeScore}`` for one (reference, prediction) pair, like ``RougeScorer.score``."""
    _check_types(rouge_types)
    t_tokens, p_tokens = tokenize(target, stem), tokenize(prediction, stem)
    return {kind: _lcs_score(t_tokens, p_tokens) if kind == "rougeL" else _ngram_score(t_tokens, p_tokens, int(kind[5:]))
            for kind in rouge_types}


def _score_chunk(args: tuple[list[str], list[str], tuple[str, ...], bool]) -> list[dict[str, RougeScore]]:
    targets, predictions, rouge_types, stem = args
    return [score_pair(t, p, rouge_types, stem) for t, p in zip(targets, predictions, strict=True)]


def score_pairs(targets: Sequence[str], predictions: Sequence[str],
                rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL"), *, stem: bool = True,
                processes: int | None = None) -> list[dict[str, RougeScore]]:
    """Score aligned lists of references and predictions; returns one ``{type: RougeScore}`` per pair.

    ``processes=None`` uses every core for inputs of at least ``PARALLEL_THRESHOLD`` pairs and one
    process otherwise; ``processes=1`` never forks.
    """
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} references but {len(predictions)} predictions")
    _check_types(rouge_types)
    types = tuple(rouge_types)
    workers = processes if processes is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(targets) < PARALLEL_THRESHOLD:
        return _score_chunk((list(targets), list(predictions), types, stem))
    import multiprocessing

    size = -(-len(targets) // workers)
    chunks = [(list(targets[i:i + size]), list(predictions[i:i + size]), types, stem)
              for i in range(0, len(targets), size)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        parts = pool.map(_score_chunk, chunks)
    return [item for part in parts for item in part]
