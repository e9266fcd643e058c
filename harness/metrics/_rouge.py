"""A fast, exact re-implementation of ``rouge_score``'s ROUGE-N and ROUGE-L (F, P, R).

Scores are identical to ``rouge_score.rouge_scorer.RougeScorer(types, use_stemmer=True).score`` (the
benchmarks ``bench/bench_rouge.py``, ``bench/bench_score.py`` and the tests check it pair by pair). Why
hand-written: the library imports all of NLTK (seconds) for its stemmer, re-stems every token of every
text and fills a Python LCS table. Here:

- tokenisation is the library's rule (lower-case, non ``[a-z0-9]`` -> space, split, Porter-stem
  tokens longer than 3 characters, drop empty tokens) with :mod:`harness.metrics._porter`, a port of
  NLTK's stemmer that needs no NLTK import; stems are memoised per token;
- ROUGE-N counts only what the F-measure needs: the clipped overlap (a set intersection when no
  n-gram repeats) and the n-gram totals ``len - n + 1``;
- ROUGE-L length uses the bit-parallel LCS of Allison-Dix / Hyyrö on Python integers: exact, and
  O(n * ceil(m / word)) instead of O(n * m) interpreted steps;
- only large inputs go to a process pool, forked after tokenising so that workers start at once
  with the tokens already in memory (:data:`PARALLEL_MIN_TOKENS`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from harness.metrics import _porter
from harness.metrics._shared import paused_gc

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# for ASCII text: A-Z -> a-z, a-z and 0-9 kept, every other byte -> space (lower() and the substitution at once)
_ASCII_RULE = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256))
_STEMS: dict[str, str] = {}
# a pool pays for itself (fork, result transfer) from about this many tokens per ROUGE type, when
# cores are idle: on 2 busy cores 20,000 pairs of 50 words (2 million tokens) were faster serially
PARALLEL_MIN_TOKENS = 4_000_000
Columns = tuple[list[float], list[float], list[float]]  # precision, recall, F-measure per pair


@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F-measure of one ROUGE type for one pair."""

    precision: float
    recall: float
    fmeasure: float


def _words(text: str) -> list[str]:
    if text.isascii():  # the same words as below, twice as fast
        return text.encode("ascii").translate(_ASCII_RULE).decode("ascii").split()
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _new_stem(word: str) -> str:
    # a Porter stem of an [a-z0-9]+ word is a non-empty [a-z0-9]+ word (suffixes are removed only
    # when the stem keeps a vowel or a positive measure), so rouge_score's final filter drops nothing
    stemmed = _porter.stem(word) if len(word) > 3 else word
    _STEMS[word] = stemmed
    return stemmed


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Return rouge_score's tokens for ``text`` (same rule, memoised stemming)."""
    words = _words(text)
    if not stem:
        return words
    stems = _STEMS
    try:
        return list(map(stems.__getitem__, words))
    except KeyError:
        return [stems[w] if w in stems else _new_stem(w) for w in words]


def _clipped_matches(target_grams: Sequence, prediction_grams: Sequence) -> int:
    """Sum over n-grams of min(count in target, count in prediction), as rouge_score's _score_ngrams."""
    t_set = set(target_grams)
    if len(t_set) == len(target_grams) and len(p_set := set(prediction_grams)) == len(prediction_grams):
        return len(p_set.intersection(t_set))  # no n-gram repeats: a set intersection
    left = Counter(target_grams)
    matched = 0
    for gram in prediction_grams:
        count = left.get(gram)
        if count:
            left[gram] = count - 1
            matched += 1
    return matched


def _grams(tokens: list[str], n: int) -> Sequence:
    if n == 1:
        return tokens
    if n == 2:
        return list(zip(tokens, tokens[1:], strict=False))
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, exact)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    bit = 1
    for token in a:
        masks[token] = masks.get(token, 0) | bit
        bit <<= 1
    full = bit - 1
    v = full
    for match in filter(None, map(masks.get, b)):
        u = v & match
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _check_types(rouge_types: Sequence[str]) -> None:
    for kind in rouge_types:
        if kind != "rougeL" and not re.fullmatch(r"rouge[1-9]", kind):
            raise ValueError(f"unsupported ROUGE type {kind!r}; use rouge1..rouge9 or rougeL")


def _score_serial(targets: Sequence[list[str]], predictions: Sequence[list[str]], kind: str) -> Columns:
    precisions: list[float] = []
    recalls: list[float] = []
    n = 0 if kind == "rougeL" else int(kind[5:])
    # the same arithmetic, in the same order, as rouge_score's _score_ngrams / _score_lcs; n-gram totals
    # are len - n + 1 (and max(total, 1) == total or 1 for counts)
    for target, prediction in zip(targets, predictions, strict=True):
        if not target or not prediction:
            precision = recall = 0.0
        elif n:
            t_total, p_total = max(len(target) - n + 1, 0), max(len(prediction) - n + 1, 0)
            matched = _clipped_matches(_grams(target, n), _grams(prediction, n)) if t_total and p_total else 0
            precision = matched / (p_total or 1)
            recall = matched / (t_total or 1)
        else:
            lcs = lcs_length(target, prediction)
            precision = lcs / len(prediction)
            recall = lcs / len(target)
        precisions.append(precision)
        recalls.append(recall)
    fmeasures = [2 * p * r / (p + r) if p + r > 0 else 0.0 for p, r in zip(precisions, recalls, strict=True)]
    return precisions, recalls, fmeasures


_FORKED: tuple[Sequence[list[str]], Sequence[list[str]], str] | None = None  # what forked workers read


def _score_slice(bounds: tuple[int, int]) -> Columns:
    assert _FORKED is not None
    targets, predictions, kind = _FORKED
    with paused_gc():
        return _score_serial(targets[bounds[0]:bounds[1]], predictions[bounds[0]:bounds[1]], kind)


def _pool_size(processes: int | None, tokens: int) -> int:
    if processes is not None and processes <= 1 or processes is None and tokens < PARALLEL_MIN_TOKENS:
        return 1
    import multiprocessing
    import threading

    # forking copies the tokens for free; a forked child of a threaded process could deadlock
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    if processes is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if hasattr(os, "getloadavg") and os.getloadavg()[0] > cores - 1:  # workers would wait for a core
            return 1
        processes = cores
    return processes


def score_tokens(targets: Sequence[list[str]], predictions: Sequence[list[str]], kind: str, *,
                 processes: int | None = None) -> Columns:
    """Score aligned token lists (from :func:`tokenize`) for one ROUGE type.

    Returns ``(precisions, recalls, fmeasures)``, one value per pair. ``processes=None`` forks a pool
    over the available cores only for inputs of at least :data:`PARALLEL_MIN_TOKENS` tokens;
    ``processes=1`` never forks.
    """
    global _FORKED
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} references but {len(predictions)} predictions")
    _check_types((kind,))
    workers = 1
    if processes != 1 and len(targets) > 1:
        workers = min(len(targets), _pool_size(processes, sum(map(len, targets)) + sum(map(len, predictions))))
    if workers <= 1:
        with paused_gc():
            return _score_serial(targets, predictions, kind)
    import multiprocessing

    size = -(-len(targets) // workers)
    _FORKED = (targets, predictions, kind)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_score_slice, [(i, i + size) for i in range(0, len(targets), size)])
    finally:
        _FORKED = None
    return ([v for part in parts for v in part[0]], [v for part in parts for v in part[1]],
            [v for part in parts for v in part[2]])


def score_pair(target: str, prediction: str, rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
               stem: bool = True) -> dict[str, RougeScore]:
    """Return ``{type: RougeScore}`` for one (reference, prediction) pair, like ``RougeScorer.score``."""
    return score_pairs([target], [prediction], rouge_types, stem=stem, processes=1)[0]


def score_pairs(targets: Sequence[str], predictions: Sequence[str],
                rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL"), *, stem: bool = True,
                processes: int | None = None) -> list[dict[str, RougeScore]]:
    """Score aligned lists of references and predictions; returns one ``{type: RougeScore}`` per pair.

    Each text is tokenised once for all types; ``processes`` is as in :func:`score_tokens`.
    """
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} references but {len(predictions)} predictions")
    _check_types(rouge_types)
    with paused_gc():
        t_tokens = [tokenize(t, stem) for t in targets]
        p_tokens = [tokenize(p, stem) for p in predictions]
    columns = {kind: score_tokens(t_tokens, p_tokens, kind, processes=processes) for kind in rouge_types}
    return [{kind: RougeScore(c[0][i], c[1][i], c[2][i]) for kind, c in columns.items()}
            for i in range(len(targets))]
