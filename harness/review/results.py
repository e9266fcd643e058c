"""Results of a review batch: agreement, rubric means, pairwise win rates, metric-human agreement.

:func:`review_results` turns a batch's items and labels into a frozen :class:`ReviewResults`; the
statistics are :mod:`harness.stats.agreement` and :mod:`harness.stats.intervals`. The unit of
analysis is the item: an item's human score is the mean over its reviewers (rubric fields), and
its pairwise outcome is the reviewers' mean preference (an even split is a tie), so an item reviewed
three times counts once in intervals and tests. Agreement uses every label.

:func:`render_results` prints the tables (the CLI, ``harness compare`` and the demo use it),
:func:`summary_lines` says the gist in a few sentences, and :func:`results_for_run` gathers every
batch of a run from the workspace database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from harness.stats.agreement import (
    AgreementResult,
    CorrelationResult,
    WinRateResult,
    field_agreement,
    rank_correlation,
    ratings_matrix,
    win_rates,
)
from harness.stats.intervals import Interval, mean_interval

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine

    from harness.review.queue import BatchInfo, ItemRecord, LabelRecord
    from harness.review.rubric import Rubric, RubricField

#: The human score compared with automatic metrics in rubric batches, when the rubric has it.
PRIMARY_FIELD = "helpfulness"
PREFERENCE = "preference"
UNIT = "item (mean over its reviewers; pairwise: the reviewers' mean preference, an even split is a tie)"


@dataclass(frozen=True)
class FieldAgreement:
    """The agreement figures (a kappa, then Krippendorff's alpha) on one rated field."""

    field: str
    level: str  # ordinal (scales) | nominal (yes/no, pairwise preference)
    results: tuple[AgreementResult, ...]

    @property
    def alpha(self) -> AgreementResult:
        """The Krippendorff's alpha of the field (always computed, missing ratings allowed)."""
        return next(r for r in self.results if r.method.startswith("krippendorff"))


@dataclass(frozen=True)
class CandidateMean:
    """The mean of one rubric field for one candidate over its reviewed items, with an interval."""

    candidate: str
    field: str
    type: str  # scale | yes_no
    interval: Interval

    def as_dict(self) -> dict[str, Any]:
        """``{mean, ci, n, method, error}`` (JSON-ready)."""
        i = self.interval
        return {"type": self.type, "mean": i.estimate, "ci": [i.low, i.high], "n": i.n, "method": i.method,
                "error": i.error}


@dataclass(frozen=True)
class MetricAgreement:
    """How an automatic metric ranks the reviewed items compared with the human score."""

    metric: str
    human: str  # the human score: a rubric field (item mean) or "preference" (pairwise: metric difference)
    correlation: CorrelationResult


@dataclass(frozen=True)
class ReviewResults:
    """Everything a batch's labels say; ``as_dict()`` is the JSON form."""

    batch_id: str
    run_id: str
    dataset: str
    kind: str
    candidates: tuple[str, ...]
    n_items: int
    n_reviewed: int
    n_labels: int
    reviewers: tuple[str, ...]
    confidence: float
    human_score: str | None
    agreement: tuple[FieldAgreement, ...]
    means: tuple[CandidateMean, ...] = ()
    win_rates: tuple[WinRateResult, ...] = ()
    positions: tuple[tuple[str, int], ...] = ()  # pairwise: how often left / right / tie was chosen
    metric_agreement: tuple[MetricAgreement, ...] = ()

    def mean(self, candidate: str, field: str) -> CandidateMean | None:
        """The :class:`CandidateMean` of ``candidate`` on ``field``, or None."""
        return next((m for m in self.means if m.candidate == candidate and m.field == field), None)

    def best_candidate(self) -> str | None:
        """Pairwise: the candidate with the higher win rate; rubric: the highest mean human score."""
        if self.win_rates:
            r = self.win_rates[0]
            if r.error or math.isnan(r.win_rate) or r.win_rate == 0.5:
                return None
            return r.candidate_a if r.win_rate > 0.5 else r.candidate_b
        scored = [m for m in self.means if m.field == self.human_score and not math.isnan(m.interval.estimate)]
        return max(scored, key=lambda m: m.interval.estimate).candidate if scored else None

    def best_metric(self) -> MetricAgreement | None:
        """The automatic metric whose ranking agrees best with the humans (highest Spearman rho), or None."""
        usable = [m for m in self.metric_agreement if not m.correlation.error]
        return max(usable, key=lambda m: m.correlation.rho) if usable else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN -> None): agreement by field, means by candidate, win rates, metrics, summary."""
        from harness.io import json_safe

        means: dict[str, dict[str, Any]] = defaultdict(dict)
        for m in self.means:
            means[m.candidate][m.field] = m.as_dict()
        return json_safe({
            "batch_id": self.batch_id, "run_id": self.run_id, "dataset": self.dataset, "kind": self.kind,
            "candidates": list(self.candidates), "n_items": self.n_items, "n_reviewed": self.n_reviewed,
            "n_labels": self.n_labels, "reviewers": list(self.reviewers), "confidence": self.confidence,
            "unit": UNIT, "human_score": self.human_score,
            "agreement": {a.field: [r.as_dict() for r in a.results] for a in self.agreement},
            "means": dict(means),
            "win_rates": [r.as_dict() for r in self.win_rates],
            "positions": dict(self.positions),
            "metric_agreement": {m.metric: {"human": m.human, **m.correlation.as_dict()}
                                 for m in self.metric_agreement},
            "best_candidate": self.best_candidate(),
            "summary": summary_lines(self),
        })


def label_number(value: Any) -> float | None:
    """A label's value as a number (yes/no as 0/1), or None for text, missing or NaN."""
    if value is None or isinstance(value, str):
        return None
    number = float(value)  # bool -> 0/1
    return None if math.isnan(number) else number


def _primary(fields: Sequence[RubricField]) -> RubricField | None:
    scales = [f for f in fields if f.type == "scale"]
    named = [f for f in scales if f.name == PRIMARY_FIELD]
    return (named or scales or list(fields) or [None])[0]


def field_level(field: RubricField) -> tuple[str, list[float]]:
    """The agreement measurement level of a rated field and its categories: a scale is ordinal over its
    integer range, yes/no is nominal over 0/1."""
    if field.type == "scale":
        assert field.low is not None and field.high is not None
        return "ordinal", [float(v) for v in range(field.low, field.high + 1)]
    return "nominal", [0.0, 1.0]


def _metric_names(items: Sequence[ItemRecord]) -> list[str]:
    names: dict[str, None] = {}
    for item in items:
        for per_candidate in (item.scores or {}).values():
            if isinstance(per_candidate, dict):
                names.update(dict.fromkeys(per_candidate))
    return list(names)


def _score(item: ItemRecord, candidate: str, metric: str) -> float | None:
    per_candidate = (item.scores or {}).get(candidate)
    return label_number(per_candidate.get(metric)) if isinstance(per_candidate, dict) else None


def _item_means(labels: Sequence[LabelRecord], field: str) -> dict[str, float]:
    """Per item: the mean of ``field`` over the reviewers who gave it."""
    values: dict[str, list[float]] = defaultdict(list)
    for label in labels:
        number = label_number(label.values.get(field))
        if number is not None:
            values[label.item_id].append(number)
    return {item_id: sum(v) / len(v) for item_id, v in values.items()}


def _candidate_mean(candidate: str, field: RubricField, item_values: list[float], confidence: float) -> CandidateMean:
    if field.type == "yes_no":
        binary = all(v in (0.0, 1.0) for v in item_values)  # overlap > 1 can give an item 1/3, 1/2 ...
        interval = mean_interval(item_values, "binary" if binary else "continuous", confidence=confidence,
                                 bounds=(0.0, 1.0))
    else:
        interval = mean_interval(item_values, "continuous", confidence=confidence,
                                 bounds=(float(field.low or 0), float(field.high or 0)))
    return CandidateMean(candidate, field.name, field.type, interval)


def _rubric_results(rubric: Rubric, candidates: Sequence[str], items: dict[str, ItemRecord],
                    labels: Sequence[LabelRecord], confidence: float
                    ) -> tuple[str | None, tuple[FieldAgreement, ...], tuple[CandidateMean, ...],
                               tuple[MetricAgreement, ...]]:
    fields = rubric.rated_fields()
    agreement, means = [], []
    candidate_of = {i.id: i.candidates[0] for i in items.values() if i.candidates}
    for label in labels:
        if label.candidate:
            candidate_of.setdefault(label.item_id, label.candidate)
    for field in fields:
        level, categories = field_level(field)
        matrix, _reviewers, _items = ratings_matrix((lab.reviewer, lab.item_id, label_number(lab.values.get(field.name)))
                                                    for lab in labels)
        agreement.append(FieldAgreement(field.name, level, field_agreement(matrix, level=level,
                                                                           categories=categories)))
        per_item = _item_means(labels, field.name)
        for candidate in candidates:
            values = [v for item_id, v in per_item.items() if candidate_of.get(item_id) == candidate]
            means.append(_candidate_mean(candidate, field, values, confidence))
    primary = _primary(fields)
    metrics: list[MetricAgreement] = []
    if primary is not None:
        human = _item_means(labels, primary.name)
        reviewed = [items[i] for i in human if i in items and items[i].candidates]
        for metric in _metric_names(reviewed):
            auto = [_score(item, item.candidates[0], metric) for item in reviewed]
            metrics.append(MetricAgreement(metric, primary.name, rank_correlation(
                auto, [human[item.id] for item in reviewed], confidence=confidence)))
    return (primary.name if primary else None), tuple(agreement), tuple(means), tuple(metrics)


def preference(label: LabelRecord, a: str, b: str, item: ItemRecord | None) -> float | None:
    """+1 when ``a`` won, -1 when ``b`` won, 0 for a tie; None for anything else."""
    choice = label.values.get("choice")
    winner = label.winner
    if winner is None and item is not None and len(item.candidates) == 2 and choice in ("left", "right"):
        winner = item.candidates[0 if choice == "left" else 1]  # a label that kept only the side
    if winner == a:
        return 1.0
    if winner == b:
        return -1.0
    return 0.0 if winner is None and choice == "tie" else None


def _pairwise_results(candidates: Sequence[str], items: dict[str, ItemRecord], labels: Sequence[LabelRecord],
                      confidence: float) -> tuple[tuple[FieldAgreement, ...], tuple[WinRateResult, ...],
                                                  tuple[tuple[str, int], ...], tuple[MetricAgreement, ...]]:
    a, b = candidates[0], candidates[1]
    triples = [(lab.reviewer, lab.item_id, preference(lab, a, b, items.get(lab.item_id))) for lab in labels]
    matrix, _reviewers, _items = ratings_matrix(triples)
    # nominal, as is usual for preference labels (and as Fleiss' kappa treats them): A, tie and B are categories
    agreement = FieldAgreement(PREFERENCE, "nominal", field_agreement(matrix, level="nominal",
                                                                      categories=[-1.0, 0.0, 1.0]))
    per_item: dict[str, list[float]] = defaultdict(list)
    for _reviewer, item_id, value in triples:
        if value is not None:
            per_item[item_id].append(value)
    item_preference = {item_id: sum(v) / len(v) for item_id, v in per_item.items()}
    wins_a = sum(p > 0 for p in item_preference.values())
    wins_b = sum(p < 0 for p in item_preference.values())
    ties = len(item_preference) - wins_a - wins_b
    rates = tuple(win_rates([(a, b, wins_a, wins_b, ties)], confidence=confidence))
    positions = tuple((choice, sum(lab.values.get("choice") == choice for lab in labels))
                      for choice in ("left", "right", "tie"))
    reviewed = [items[i] for i in item_preference if i in items]
    metrics = []
    for metric in _metric_names(reviewed):
        diffs = [_difference(_score(item, a, metric), _score(item, b, metric)) for item in reviewed]
        metrics.append(MetricAgreement(metric, PREFERENCE, rank_correlation(
            diffs, [item_preference[item.id] for item in reviewed], confidence=confidence)))
    return (agreement,), rates, positions, tuple(metrics)


def _difference(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x - y


def review_results(batch: BatchInfo, items: Sequence[ItemRecord], labels: Sequence[LabelRecord], *,
                   alpha: float = 0.05) -> ReviewResults:
    """The :class:`ReviewResults` of ``batch`` from its items and labels, with ``1 - alpha`` intervals.

    Rubric batches: agreement per rated field, field means per candidate, and each automatic metric's
    Spearman correlation with the item's mean :data:`PRIMARY_FIELD` (or the first scale field).
    Pairwise batches: agreement on the preference (A / tie / B, nominal), A's win rate over B (ties as
    half) with the sign test, and each metric's difference (A - B) against the mean preference.
    Labels of items not in ``items`` still count towards agreement but not towards metric agreement.
    """
    from harness.review.rubric import DEFAULT_RUBRIC

    confidence = 1 - alpha
    by_id = {item.id: item for item in items}
    mine = [lab for lab in labels if lab.batch_id == batch.id]
    reviewers = tuple(sorted({lab.reviewer for lab in mine}))
    common = {"batch_id": batch.id, "run_id": batch.run_id, "dataset": batch.dataset, "kind": batch.kind,
              "candidates": tuple(batch.candidates), "n_items": batch.n_items or len(items),
              "n_reviewed": len({lab.item_id for lab in mine}), "n_labels": len(mine), "reviewers": reviewers,
              "confidence": confidence}
    if batch.kind == "pairwise" and len(batch.candidates) == 2:
        agreement, rates, positions, metrics = _pairwise_results(batch.candidates, by_id, mine, confidence)
        return ReviewResults(**common, human_score=PREFERENCE, agreement=agreement, win_rates=rates,
                             positions=positions, metric_agreement=metrics)
    human, agreement, means, metrics = _rubric_results(batch.rubric or DEFAULT_RUBRIC, batch.candidates, by_id,
                                                       mine, confidence)
    return ReviewResults(**common, human_score=human, agreement=agreement, means=means, metric_agreement=metrics)


def results_for_run(engine: Engine, run_id: str, *, alpha: float = 0.05) -> list[ReviewResults]:
    """The :class:`ReviewResults` of every review batch built from run ``run_id`` (oldest first; [] if none).

    The pairwise win rates of all the run's batches form one family: their ``p_adjusted`` is Holm
    across every candidate pair the run's reviewers judged.
    """
    from harness.review import queue

    results = [review_results(batch, queue.items(engine, batch.id), queue.labels(engine, batch.id), alpha=alpha)
               for batch in queue.list_batches(engine) if batch.run_id == run_id]
    return holm_across(results)


def holm_across(results: Sequence[ReviewResults]) -> list[ReviewResults]:
    """``results`` with every pairwise win rate's ``p_adjusted`` Holm-corrected across all of them together."""
    from harness.stats.multiple import adjust_p_values

    adjusted = iter(adjust_p_values([r.p_value for res in results for r in res.win_rates], "holm"))
    return [replace(res, win_rates=tuple(replace(r, p_adjusted=float(next(adjusted))) for r in res.win_rates))
            for res in results]


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _fmt_interval(interval: Interval, percent: bool = False) -> str:
    if math.isnan(interval.estimate):
        return f"n/a ({interval.error})" if interval.error else "n/a"
    if percent:
        low, high = ("?" if math.isnan(v) else f"{v:.0%}" for v in (interval.low, interval.high))
        return f"{interval.estimate:.0%} [{low}, {high}]"
    return f"{interval.estimate:.2f} [{_fmt(interval.low)}, {_fmt(interval.high)}]"


def _fmt_p(p: float) -> str:
    return "n/a" if math.isnan(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def summary_lines(results: ReviewResults) -> list[str]:
    """A few plain sentences: agreement per field, the best candidate, the metric closest to the humans."""
    if results.n_labels == 0:
        return [f"Batch {results.batch_id}: no labels yet ({results.n_items} items waiting)."]
    alpha_level = 1 - results.confidence
    parts = [f"{a.field} {_fmt(a.alpha.value)} ({a.alpha.reading}, {a.alpha.n_items} items)"
             for a in results.agreement]
    lines = [f"Batch {results.batch_id}: {results.n_reviewed} of {results.n_items} items reviewed by "
             f"{len(results.reviewers)} reviewer(s); Krippendorff's alpha: " + "; ".join(parts) + "."]
    for r in results.win_rates:
        if r.error:
            lines.append(f"{r.candidate_a} vs {r.candidate_b}: no decision ({r.error}, {r.ties} ties).")
            continue
        leader, rate, low, high = ((r.candidate_a, r.win_rate, r.ci_low, r.ci_high) if r.win_rate >= 0.5 else
                                   (r.candidate_b, 1 - r.win_rate, 1 - r.ci_high, 1 - r.ci_low))
        other = r.candidate_b if leader == r.candidate_a else r.candidate_a
        verdict = ("a significant preference" if r.p_adjusted < alpha_level
                   else "not a significant preference")
        lines.append(f"{leader} beats {other} with win rate {rate:.2f} [{low:.2f}, {high:.2f}] (ties as half; "
                     f"{r.ties} ties of {r.n}); sign test p={_fmt_p(r.p_adjusted)}: {verdict} at "
                     f"alpha {alpha_level:g}.")
    if not results.win_rates and results.human_score:
        ranked = sorted((m for m in results.means if m.field == results.human_score
                         and not math.isnan(m.interval.estimate)), key=lambda m: -m.interval.estimate)
        if ranked:
            listing = ", ".join(f"{m.candidate} {_fmt_interval(m.interval)}" for m in ranked)
            lines.append(f"Best by mean {results.human_score}: {ranked[0].candidate} ({listing}).")
    best = results.best_metric()
    if best is not None:
        c = best.correlation
        lines.append(f"{best.metric} agrees best with the reviewers' {best.human}: Spearman rho {c.rho:.2f} "
                     f"[{_fmt(c.ci_low)}, {_fmt(c.ci_high)}], n={c.n} ({c.reading}).")
    elif results.metric_agreement:
        lines.append("No automatic metric could be compared with the reviewers (too few items or no variance).")
    return lines


def render_results(results: ReviewResults, console: Console) -> None:
    """Print ``results`` as rich tables (agreement, means or win rates, metric-human agreement) and a summary."""
    from rich.table import Table

    console.print(f"[bold]Human review {results.batch_id}[/bold] ({results.kind}, run {results.run_id}, "
                  f"dataset {results.dataset}): {results.n_reviewed}/{results.n_items} items, "
                  f"{results.n_labels} labels by {len(results.reviewers)} reviewer(s)")
    if results.n_labels == 0:
        console.print("no labels yet")
        return
    table = Table(title="Agreement between reviewers", title_justify="left")
    for column in ("field", "method", "value", "reading", "items", "reviewers"):
        table.add_column(column, justify="right" if column in ("value", "items", "reviewers") else "left")
    for a in results.agreement:
        for r in a.results:
            table.add_row(a.field, r.description, _fmt(r.value), r.reading, str(r.n_items), str(r.n_reviewers))
    console.print(table)
    if results.means:
        fields = list(dict.fromkeys(m.field for m in results.means))
        table = Table(title=f"Rubric means per candidate ({results.confidence:.0%} intervals; unit: item)",
                      title_justify="left")
        table.add_column("candidate")
        for field in fields:
            table.add_column(field, justify="right")
        for candidate in results.candidates:
            cells = [results.mean(candidate, f) for f in fields]
            table.add_row(candidate, *(_fmt_interval(c.interval, c.type == "yes_no") if c else "" for c in cells))
        console.print(table)
    if results.win_rates:
        table = Table(title="Blind pairwise win rates (ties as half; unit: item)", title_justify="left",
                      caption=results.win_rates[0].method)
        for column in ("A vs B", "A wins", "B wins", "ties", "A win rate", "p", "p (Holm)"):
            table.add_column(column, justify="left" if column == "A vs B" else "right")
        for r in results.win_rates:
            table.add_row(f"{r.candidate_a} vs {r.candidate_b}", str(r.wins_a), str(r.wins_b), str(r.ties),
                          f"{_fmt(r.win_rate)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]", _fmt_p(r.p_value),
                          _fmt_p(r.p_adjusted))
        console.print(table)
        if results.positions:
            console.print("choices by position: " + ", ".join(f"{k} {v}" for k, v in results.positions))
    if results.metric_agreement:
        table = Table(title="Automatic metrics vs reviewers (Spearman, Fisher-z interval with Bonett-Wright variance)",
                      title_justify="left")
        for column in ("metric", "human score", "rho", "interval", "n", "reading"):
            table.add_column(column, justify="right" if column in ("rho", "n") else "left")
        for m in results.metric_agreement:
            c = m.correlation
            table.add_row(m.metric, m.human, _fmt(c.rho), f"[{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]", str(c.n),
                          c.reading)
        console.print(table)
    for line in summary_lines(results):
        console.print(line)
