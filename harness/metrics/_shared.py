"""Small building blocks shared by the metric modules: a metric from a per-example function, a GC pause."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.metrics.base import Example, MetricKind, MetricOutput


@dataclass(frozen=True)
class PerExampleMetric:
    """A :class:`harness.metrics.base.Metric` built from ``score_one(example) -> float | None``.

    ``corpus`` (optional) receives the examples and the per-example scores and returns corpus-level
    values (e.g. corpus BLEU, a confusion matrix).
    """

    name: str
    kind: MetricKind
    score_one: Callable[[Example], float | None]
    corpus: Callable[[Sequence[Example], tuple[float | None, ...]], Mapping[str, Any]] | None = None

    def compute(self, examples: Sequence[Example]) -> MetricOutput:
        """Score every example; returns per-example values aligned with ``examples`` plus corpus values."""
        scores = tuple(self.score_one(example) for example in examples)
        corpus = dict(self.corpus(examples, scores)) if self.corpus else {}
        return MetricOutput(self.name, self.kind, scores, corpus)


def mean_of(scores: Sequence[float | None]) -> float | None:
    """Mean of the non-null scores, or ``None`` when there are none."""
    values = [s for s in scores if s is not None]
    return sum(values) / len(values) if values else None


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block; yields nothing.

    For loops that allocate many small lists and tuples and create no reference cycles: with tens of
    thousands of examples alive, the collector's passes otherwise cost a third of the scoring time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
