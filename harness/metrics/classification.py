"""Classification: ``accuracy`` per example, with per-class and macro P/R/F1 and a confusion matrix.

The gold label is the example's ``label`` (or ``metadata.label``), else its reference. Predictions and
labels are compared after :func:`harness.metrics.overlap.normalize_text` (so ``"Billing."`` matches
``billing``); a prediction that is not one of the gold labels counts as the class ``"<other>"``.
Per-class and macro scores are taken over the gold labels (as
``sklearn.metrics.precision_recall_fscore_support(..., labels=gold_labels, zero_division=0)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.metrics._shared import PerExampleMetric
from harness.metrics.base import Example, Metric, metric
from harness.metrics.overlap import normalize_text

OTHER = "<other>"


@dataclass(frozen=True)
class ClassificationReport:
    """Per-class precision/recall/F1/support, macro averages, accuracy and the confusion matrix.

    ``confusion[i][j]`` counts examples of gold class ``labels[i]`` predicted as ``columns[j]``
    (``columns`` is ``labels`` plus ``"<other>"`` when some prediction is not a gold label).
    """

    labels: tuple[str, ...]
    columns: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    accuracy: float
    confusion: tuple[tuple[int, ...], ...]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (the ``accuracy`` metric's corpus)."""
        per_class = {label: {"precision": p, "recall": r, "f1": f, "support": s}
                     for label, p, r, f, s in zip(self.labels, self.precision, self.recall, self.f1, self.support, strict=True)}
        return {"accuracy": self.accuracy, "macro_precision": self.macro_precision,
                "macro_recall": self.macro_recall, "macro_f1": self.macro_f1, "per_class": per_class,
                "confusion_matrix": {"labels": list(self.labels), "columns": list(self.columns),
                                     "matrix": [list(row) for row in self.confusion]}}


def classification_report(gold: Sequence[str], predicted: Sequence[str]) -> ClassificationReport:
    """Return the :class:`ClassificationReport` of aligned gold labels and predicted labels."""
    labels = tuple(sorted(set(gold)))
    mapped = [p if p in labels else OTHER for p in predicted]
    columns = labels + ((OTHER,) if OTHER in mapped else ())
    index = {label: i for i, label in enumerate(columns)}
    confusion = [[0] * len(columns) for _ in labels]
    for g, p in zip(gold, mapped, strict=True):
        confusion[index[g]][index[p]] += 1
    precision, recall, f1, support = [], [], [], []
    for i, _label in enumerate(labels):
        true_pos = confusion[i][i]
        predicted_as = sum(row[i] for row in confusion)
        actual = sum(confusion[i])
        p = true_pos / predicted_as if predicted_as else 0.0
        r = true_pos / actual if actual else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        support.append(actual)
    k = len(labels) or 1
    correct = sum(confusion[i][i] for i in range(len(labels)))
    return ClassificationReport(labels, columns, tuple(precision), tuple(recall), tuple(f1), tuple(support),
                                sum(precision) / k, sum(recall) / k, sum(f1) / k,
                                correct / len(gold) if gold else 0.0,
                                tuple(tuple(row) for row in confusion))


def gold_label(example: Example) -> str:
    """The example's gold class: ``label``, else ``metadata.label``, else the reference (normalised)."""
    raw = example.label if example.label is not None else (example.metadata or {}).get("label", example.reference)
    return normalize_text(str(raw))


@metric("accuracy", higher_is_better=True, bounds=(0.0, 1.0))
def accuracy() -> Metric:
    """1.0 when the normalised prediction equals the gold label; corpus: per-class/macro P/R/F1, confusion."""

    def score(example: Example) -> float:
        return 1.0 if normalize_text(example.prediction) == gold_label(example) else 0.0

    def corpus(examples: Sequence[Example], _scores: tuple[float | None, ...]) -> dict[str, Any]:
        if not examples:
            return {}
        report = classification_report([gold_label(e) for e in examples], [normalize_text(e.prediction) for e in examples])
        return report.as_dict()

    return PerExampleMetric("accuracy", "binary", score, corpus=corpus)
