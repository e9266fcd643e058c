"""What the Review page shows, as data: the queue per batch, a reviewer's progress, a batch's results.

The queue side is blind: :func:`queue_table` and :func:`batch_label` never name a batch's candidates
(a reviewer picks a batch without learning which models it compares). The results side turns a
:class:`harness.review.results.ReviewResults` into tables for charts: agreement per rated field with a
bootstrap interval over items (:func:`agreement_table`; the point values are the ones
:func:`harness.review.results.review_results` reports), win rates, rubric means and the metric-human
correlation, each with its interval. pandas is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.review.results import field_level, label_number, preference
from harness.stats.agreement import agreement_intervals, field_agreement, ratings_matrix

if TYPE_CHECKING:
    import pandas as pd

    from harness.review.queue import BatchInfo, ItemRecord, LabelRecord
    from harness.review.results import ReviewResults

#: The name :mod:`harness.review.results` gives the pairwise preference (A won +1, tie 0, B won -1).
PREFERENCE = "preference"
QUEUE_COLUMNS = ("batch", "kind", "run", "dataset", "items", "reviewers per item", "done", "in progress",
                 "remaining", "progress", "yours", "you skipped")


@dataclass(frozen=True)
class Progress:
    """One reviewer's progress in one batch: labels submitted and items skipped, of ``n_items``."""

    submitted: int
    skipped: int
    n_items: int
    done: int  # items of the batch with all their reviewers' labels

    @property
    def fraction(self) -> float:
        """The reviewer's labels over the batch's items (0 for an empty batch), at most 1."""
        return min(1.0, self.submitted / self.n_items) if self.n_items else 0.0


def reviewer_progress(status: Mapping[str, Any], reviewer: str) -> Progress:
    """The :class:`Progress` of ``reviewer`` in one :func:`harness.review.queue.batch_status` row."""
    mine = (status.get("reviewers") or {}).get(reviewer, {})
    return Progress(submitted=int(mine.get("submitted", 0)), skipped=int(mine.get("skipped", 0)),
                    n_items=int(status.get("n_items", 0)), done=int(status.get("done", 0)))


def batch_label(batch: BatchInfo, status: Mapping[str, Any] | None = None) -> str:
    """A one-line, blind description of ``batch`` for a picker: id, kind, items, progress (no candidates)."""
    text = f"{batch.id} · {batch.kind} · {batch.n_items} items x {batch.overlap} · dataset {batch.dataset}"
    if status is not None:
        text += f" · {status.get('done', 0)}/{batch.n_items} done"
    return text


def queue_table(batches: Sequence[BatchInfo], statuses: Sequence[Mapping[str, Any]],
                reviewer: str | None = None) -> pd.DataFrame:
    """One row per batch (oldest first) with its progress and ``reviewer``'s; no candidate names.

    Columns are :data:`QUEUE_COLUMNS`; ``progress`` is done items over items (0..1); ``yours`` and
    ``you skipped`` are 0 without a reviewer.
    """
    import pandas as pd

    by_id = {s["batch_id"]: s for s in statuses}
    rows = []
    for batch in batches:
        status = by_id.get(batch.id, {})
        mine = reviewer_progress(status, reviewer) if reviewer else Progress(0, 0, batch.n_items, 0)
        done = int(status.get("done", 0))
        rows.append((batch.id, batch.kind, batch.run_id, batch.dataset, batch.n_items, batch.overlap, done,
                     int(status.get("in_progress", 0)), int(status.get("remaining", batch.n_items)),
                     done / batch.n_items if batch.n_items else 0.0, mine.submitted, mine.skipped))
    return pd.DataFrame(rows, columns=list(QUEUE_COLUMNS))


# agreement -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RatedField:
    """A field agreement is computed on: its measurement level, categories and ratings."""

    name: str
    level: str  # ordinal | nominal
    categories: tuple[float, ...]
    ratings: tuple[tuple[str, str, float | None], ...]  # (reviewer, item id, value)


def rated_fields(batch: BatchInfo, labels: Sequence[LabelRecord],
                 items: Sequence[ItemRecord] = ()) -> list[RatedField]:
    """The fields of ``batch`` with their ``(reviewer, item, value)`` ratings from ``labels``.

    Pairwise: one field, :data:`PREFERENCE` (nominal: -1 B won, 0 tie, +1 A won, A the batch's first
    candidate). Rubric: every scale (ordinal, its integer range) and yes/no field (nominal, 0/1) of the
    batch's rubric (none without one).
    """
    mine = [lab for lab in labels if lab.batch_id == batch.id]
    if batch.kind == "pairwise" and len(batch.candidates) == 2:
        a, b = batch.candidates
        by_id = {item.id: item for item in items}
        return [RatedField(PREFERENCE, "nominal", (-1.0, 0.0, 1.0),
                           tuple((lab.reviewer, lab.item_id, preference(lab, a, b, by_id.get(lab.item_id)))
                                 for lab in mine))]
    fields = []
    for spec in batch.rubric.rated_fields() if batch.rubric is not None else ():
        level, categories = field_level(spec)
        fields.append(RatedField(spec.name, level, tuple(categories),
                                 tuple((lab.reviewer, lab.item_id, label_number(lab.values.get(spec.name)))
                                       for lab in mine)))
    return fields


def agreement_table(batch: BatchInfo, labels: Sequence[LabelRecord], items: Sequence[ItemRecord] = (), *,
                    confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Agreement per rated field and method (a kappa, then Krippendorff's alpha), with bootstrap intervals.

    Columns: ``field, level, method, description, value, low, high, n_items, n_reviewers, reading, error,
    n_boot_valid``. ``value`` is the figure of :func:`harness.stats.agreement.field_agreement` on all
    labels (what ``harness review results`` prints); ``low``/``high`` come from
    :func:`harness.stats.agreement.agreement_intervals`. Empty (with those columns) when there are no labels.
    """
    import pandas as pd

    columns = ["field", "level", "method", "description", "value", "low", "high", "n_items", "n_reviewers",
               "reading", "error", "n_boot_valid"]
    rows = []
    for field in rated_fields(batch, labels, items):
        matrix, _reviewers, _items = ratings_matrix(field.ratings)
        if not matrix:
            continue
        figures = field_agreement(matrix, level=field.level, categories=field.categories)  # type: ignore[arg-type]
        intervals = agreement_intervals(matrix, level=field.level, categories=field.categories,
                                        confidence=confidence, n_boot=n_boot, seed=seed)
        for figure, (low, high, valid) in zip(figures, intervals, strict=True):
            rows.append((field.name, field.level, figure.method, figure.description, figure.value, low, high,
                         figure.n_items, figure.n_reviewers, figure.reading, figure.error, valid))
    return pd.DataFrame(rows, columns=columns)


# results -------------------------------------------------------------------------------------------

def win_rate_table(results: ReviewResults) -> pd.DataFrame:
    """One row per pair: ``pair, candidate_a, candidate_b, wins_a, wins_b, ties, n, win_rate, low, high,
    p_value, p_adjusted, error`` (A's win rate over B, ties as half)."""
    import pandas as pd

    rows = [(f"{r.candidate_a} vs {r.candidate_b}", r.candidate_a, r.candidate_b, r.wins_a, r.wins_b, r.ties, r.n,
             r.win_rate, r.ci_low, r.ci_high, r.p_value, r.p_adjusted, r.error) for r in results.win_rates]
    return pd.DataFrame(rows, columns=["pair", "candidate_a", "candidate_b", "wins_a", "wins_b", "ties", "n",
                                       "win_rate", "low", "high", "p_value", "p_adjusted", "error"])


def means_table(results: ReviewResults) -> pd.DataFrame:
    """Rubric field means per candidate: ``candidate, field, type, mean, low, high, n, error``."""
    import pandas as pd

    rows = [(m.candidate, m.field, m.type, m.interval.estimate, m.interval.low, m.interval.high, m.interval.n,
             m.interval.error) for m in results.means]
    return pd.DataFrame(rows, columns=["candidate", "field", "type", "mean", "low", "high", "n", "error"])


def metric_table(results: ReviewResults) -> pd.DataFrame:
    """Each automatic metric against the human score: ``metric, human, rho, low, high, n, p_value, reading,
    error`` (Spearman, Fisher-z interval)."""
    import pandas as pd

    rows = [(m.metric, m.human, m.correlation.rho, m.correlation.ci_low, m.correlation.ci_high, m.correlation.n,
             m.correlation.p_value, m.correlation.reading, m.correlation.error) for m in results.metric_agreement]
    return pd.DataFrame(rows, columns=["metric", "human", "rho", "low", "high", "n", "p_value", "reading",
                                       "error"])


def position_table(results: ReviewResults) -> pd.DataFrame:
    """Pairwise: how often reviewers chose the left (A) output, the right (B) one, or a tie: ``choice, count``."""
    import pandas as pd

    shown = {"left": "A (left)", "right": "B (right)", "tie": "tie"}
    return pd.DataFrame([(shown.get(k, k), v) for k, v in results.positions], columns=["choice", "count"])
