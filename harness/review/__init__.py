"""Human review queues: blind rubric and pairwise reviews by several reviewers, stored in the workspace.

Build a batch from a run (:func:`build_batch`), hand items out with leases (:func:`next_item`),
collect answers (:func:`submit`, :func:`skip`), follow progress (:func:`batch_status`) and move
labels in and out (:mod:`harness.review.io`). Rubrics live in :mod:`harness.review.rubric`.
"""

from __future__ import annotations

from harness.review.queue import (
    BatchInfo,
    ItemRecord,
    LabelRecord,
    LeaseExpiredError,
    NotClaimedError,
    ReviewError,
    ReviewTask,
    UnknownBatchError,
    UnknownItemError,
    batch_status,
    create_batch,
    get_batch,
    import_labels,
    items,
    labels,
    list_batches,
    next_item,
    skip,
    submit,
)
from harness.review.results import (
    ReviewResults,
    render_results,
    results_for_run,
    review_results,
    summary_lines,
)
from harness.review.rubric import DEFAULT_RUBRIC, Rubric, RubricField, load_rubric
from harness.review.sampling import STRATEGIES, build_batch
from harness.review.simulate import simulate_reviews

__all__ = [
    "DEFAULT_RUBRIC", "STRATEGIES", "BatchInfo", "ItemRecord", "LabelRecord", "LeaseExpiredError",
    "NotClaimedError", "ReviewError", "ReviewTask", "Rubric", "RubricField", "UnknownBatchError",
    "UnknownItemError", "batch_status", "build_batch", "create_batch", "get_batch", "import_labels", "items",
    "labels", "list_batches", "load_rubric", "next_item", "skip", "submit",
    "ReviewResults", "render_results", "results_for_run", "review_results", "summary_lines",
    "simulate_reviews",
]
