"""ROUGE-1/2/L with stemming: harness's fast implementation vs ``RougeScorer.score`` in a loop.

Run: ``python bench/bench_rouge.py [--pairs 20000] [--words 50]``. Prints both throughputs, the ratio
(target >= 5x) and whether every precision/recall/F-measure is identical.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEMS = ("account bill charge refund order ship deliver track cancel upgrade plan pay card bank transfer "
         "password reset login email phone number address update change request process approve review "
         "customer support agent ticket issue problem error fail crash load open close start stop help "
         "answer question explain confirm verify check receive send return replace repair schedule "
         "organize generous happy run walk talk work play connect install configure restore secure "
         "report analyze improve reduce increase expect wait arrive depart travel book reserve").split()
SUFFIXES = ("", "", "", "s", "ed", "ing", "er", "ers", "ation", "ly", "ness", "able", "ment", "ful")
GLUE = "the a an to of in on for with and or but your our we you it is was will be has have this that".split()


def make_texts(pairs: int, words: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Reference/prediction pairs of about ``words`` words; predictions share much of the reference."""
    rng = random.Random(seed)

    def word() -> str:
        return rng.choice(GLUE) if rng.random() < 0.35 else rng.choice(STEMS) + rng.choice(SUFFIXES)

    refs, preds = [], []
    for _ in range(pairs):
        ref = [word() for _ in range(rng.randint(words - 10, words + 10))]
        pred = [w if rng.random() < 0.6 else word() for w in ref]
        rng.shuffle(pred[: len(pred) // 3])
        refs.append(" ".join(ref).capitalize() + ".")
        preds.append(", ".join(" ".join(pred[i:i + 12]) for i in range(0, len(pred), 12)) + "!")
    return refs, preds


def main() -> None:
    """Run the benchmark and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=20000)
    parser.add_argument("--words", type=int, default=50)
    args = parser.parse_args()
    from rouge_score.rouge_scorer import RougeScorer

    from harness.metrics import _rouge

    types = ("rouge1", "rouge2", "rougeL")
    refs, preds = make_texts(args.pairs, args.words)
    scorer = RougeScorer(list(types), use_stemmer=True)
    start = time.perf_counter()
    reference = [scorer.score(r, p) for r, p in zip(refs, preds, strict=True)]
    ref_s = time.perf_counter() - start

    _rouge._STEMS.clear()  # cold stem cache: measure the first scoring, not a rerun
    start = time.perf_counter()
    mine = _rouge.score_pairs(refs, preds, types)
    fast_s = time.perf_counter() - start

    mismatches = sum(
        (m[t].precision, m[t].recall, m[t].fmeasure) != (r[t].precision, r[t].recall, r[t].fmeasure)
        for r, m in zip(reference, mine, strict=True) for t in types)
    print(f"pairs: {args.pairs} (~{args.words} words each), types: {', '.join(types)}, stemming on")
    print(f"rouge_score RougeScorer.score loop: {ref_s:7.2f} s  {args.pairs / ref_s:9.0f} pairs/s")
    print(f"harness fast ROUGE:                 {fast_s:7.2f} s  {args.pairs / fast_s:9.0f} pairs/s")
    print(f"speed-up: {ref_s / fast_s:.1f}x (target >= 5x)")
    print(f"identical scores: {'yes' if mismatches == 0 else f'NO ({mismatches} differ)'} "
          f"({len(types) * args.pairs} P/R/F triples compared exactly)")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
