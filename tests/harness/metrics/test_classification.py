"""Classification metric checked against scikit-learn."""

from __future__ import annotations

import random

import pytest

from harness.metrics import Example, get_metric
from harness.metrics.classification import OTHER, classification_report

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_report_matches_sklearn() -> None:
    rng = random.Random(0)
    labels = ["billing", "shipping", "account", "other"]
    gold = [rng.choice(labels) for _ in range(300)]
    pred = [g if rng.random() < 0.6 else rng.choice(labels + ["garbage"]) for g in gold]
    report = classification_report(gold, pred)
    gold_labels = sorted(set(gold))
    p, r, f, s = sklearn_metrics.precision_recall_fscore_support(gold, pred, labels=gold_labels, zero_division=0)
    assert report.labels == tuple(gold_labels)
    assert report.precision == pytest.approx(list(p), abs=1e-12)
    assert report.recall == pytest.approx(list(r), abs=1e-12)
    assert report.f1 == pytest.approx(list(f), abs=1e-12)
    assert list(report.support) == list(s)
    macro = sklearn_metrics.precision_recall_fscore_support(gold, pred, labels=gold_labels, average="macro", zero_division=0)
    assert (report.macro_precision, report.macro_recall, report.macro_f1) == pytest.approx(macro[:3], abs=1e-12)
    assert report.accuracy == pytest.approx(sklearn_metrics.accuracy_score(gold, pred), abs=1e-12)
    mapped = [x if x in gold_labels else OTHER for x in pred]
    cm = sklearn_metrics.confusion_matrix(gold, mapped, labels=gold_labels + [OTHER])
    assert [list(row) for row in report.confusion] == [list(row) for row in cm[: len(gold_labels)]]
    assert report.columns[-1] == OTHER


def test_accuracy_metric_uses_label_and_normalises() -> None:
    examples = [Example("1", "Billing.", "ignored", label="billing"),
                Example("2", "shipping", "x", metadata={"label": "Shipping"}),
                Example("3", "billing", "account"),
                Example("4", "", "account"),
                Example("5", "Ünïcode", "ünïcode")]
    out = get_metric("accuracy").compute(examples)
    assert out.per_example == (1.0, 1.0, 0.0, 0.0, 1.0)
    assert out.corpus["accuracy"] == pytest.approx(0.6)
    assert out.corpus["per_class"]["account"]["recall"] == 0.0
    assert out.corpus["confusion_matrix"]["labels"] == ["account", "billing", "shipping", "ünïcode"]
    assert get_metric("accuracy").compute([]).corpus == {}
