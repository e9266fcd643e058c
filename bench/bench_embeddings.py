"""embedding_similarity for 5 candidates on one test set: references encoded once vs naive scoring.

Run: ``python bench/bench_embeddings.py [--examples 200] [--candidates 5]``. Naive = each candidate
encodes its predictions and all references; harness = :class:`EmbeddingCache` (text-hash cache shared
by the metric instances). Prints texts encoded, encode calls, time and the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    """Run the benchmark and print encode counts and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=5)
    args = parser.parse_args()
    import numpy as np

    from bench.bench_rouge import make_texts
    from harness.metrics import Example, get_metric
    from harness.metrics.embedding import EmbeddingCache

    refs, _ = make_texts(args.examples, 25, seed=1)
    candidates = [make_texts(args.examples, 25, seed=10 + c)[1] for c in range(args.candidates)]
    cache = EmbeddingCache()
    model = cache.model  # load once, outside both timings

    naive_texts = naive_calls = 0
    start = time.perf_counter()
    naive_scores = []
    for preds in candidates:
        p = model.encode(preds, batch_size=64, normalize_embeddings=True)
        r = model.encode(refs, batch_size=64, normalize_embeddings=True)
        naive_calls += 2
        naive_texts += len(preds) + len(refs)
        naive_scores.append(np.einsum("ij,ij->i", p.astype(np.float64), r.astype(np.float64)))
    naive_s = time.perf_counter() - start

    metric = get_metric("embedding_similarity")
    metric.cache = cache  # the fresh cache above, so the counters start at zero
    start = time.perf_counter()
    cached_scores = []
    for preds in candidates:
        out = metric.compute([Example(str(i), p, r) for i, (p, r) in enumerate(zip(preds, refs, strict=True))])
        cached_scores.append(np.array(out.per_example))
    cached_s = time.perf_counter() - start

    max_gap = max(float(np.max(np.abs(a - b))) for a, b in zip(naive_scores, cached_scores, strict=True))
    print(f"{args.candidates} candidates x {args.examples} examples, model {cache.model_name}")
    print(f"naive:   {naive_texts:6d} texts encoded in {naive_calls:3d} encode calls, {naive_s:6.2f} s")
    print(f"harness: {cache.encoded_texts:6d} texts encoded in {cache.encode_calls:3d} encode calls, {cached_s:6.2f} s")
    print(f"references encoded: naive {args.candidates * len(refs)}, harness {len(set(refs))} (once)")
    print(f"encoded-text ratio naive/harness: {naive_texts / max(cache.encoded_texts, 1):.2f}x; "
          f"time ratio: {naive_s / cached_s:.2f}x; largest score difference: {max_gap:.2e}")
    expected = len(set(refs)) + sum(len(set(p) - set(refs)) for p in candidates)
    if cache.encoded_texts > expected or max_gap > 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    main()
