"""The metric registry: direction and bounds on the record, the one check of a metric list, settings."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.metrics import (
    Example,
    MetricOutput,
    MetricSpec,
    available_metrics,
    metric,
    metric_info,
    resolve_metrics,
    score_examples,
)


class _Shout:
    name, kind = "test_shout", "continuous"

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def compute(self, examples):  # type: ignore[no-untyped-def]
        return MetricOutput(self.name, "continuous", tuple(self.weight * e.prediction.count("!") for e in examples))


@metric("test_shout", higher_is_better=False, bounds=None)
def shout(weight: float = 1.0, *, required_unit: str = "count") -> _Shout:
    return _Shout(weight)


@metric("test_needs_setting")
def needs_setting(threshold: float) -> _Shout:
    return _Shout(threshold)


def test_every_builtin_declares_direction_and_bounds() -> None:
    expected = {"exact_match": (True, (0.0, 1.0)), "rougeL": (True, (0.0, 1.0)), "bleu": (True, (0.0, 1.0)),
                "accuracy": (True, (0.0, 1.0)), "json_schema": (True, (0.0, 1.0)),
                "embedding_similarity": (True, (-1.0, 1.0)), "latency": (False, None), "cost": (False, None),
                "length_ratio": (None, None)}
    for name, (direction, bounds) in expected.items():
        info = metric_info(name)
        assert (info.higher_is_better, info.bounds) == (direction, bounds), name
    assert set(expected) <= set(available_metrics())


def test_registration_checks_bounds_and_names() -> None:
    with pytest.raises(ValueError, match="low < high"):
        metric("test_bad_bounds", bounds=(1.0, 0.0))
    with pytest.raises(ValueError, match="registered twice"):
        metric("test_shout")(lambda: _Shout(1.0))
    assert metric_info("test_shout").accepted_settings() == ("weight", "required_unit")
    assert metric_info("test_needs_setting").required_settings() == ("threshold",)
    with pytest.raises(ConfigError, match="unknown metric 'nope'") as caught:
        metric_info("nope")
    assert "exact_match" in (caught.value.hint or "")


def test_resolve_metrics_accepts_names_and_settings() -> None:
    specs = resolve_metrics(["exact_match", {"test_shout": {"weight": 2.0}}, {"rougeL": None}])
    assert specs == [MetricSpec("exact_match"), MetricSpec("test_shout", {"weight": 2.0}), MetricSpec("rougeL")]
    assert [s.as_entry() for s in specs] == ["exact_match", {"test_shout": {"weight": 2.0}}, "rougeL"]
    outputs = score_examples([Example("1", "hi!!", "hi")], specs)
    assert outputs["test_shout"].per_example == (4.0,)  # the setting reached the factory


@pytest.mark.parametrize(("entries", "message", "hint"), [
    (["exact_match", "bluert"], "s.yaml: metrics[1]: unknown metric 'bluert'", "available metrics: accuracy"),
    ([{"test_shout": {"wieght": 2}}], "s.yaml: metrics[0]: metric 'test_shout': unknown setting 'wieght'",
     "accepted settings: weight, required_unit"),
    ([{"exact_match": {"x": 1}}], "s.yaml: metrics[0]: metric 'exact_match': unknown setting 'x'", "takes no settings"),
    (["test_needs_setting"], "s.yaml: metrics[0]: metric 'test_needs_setting': missing setting 'threshold'", "threshold"),
    ([{"test_shout": 2}], "s.yaml: metrics[0]: the settings of metric 'test_shout' must be a mapping", "{test_shout:"),
    ([{"a": {}, "b": {}}], "s.yaml: metrics[0]: expected a metric name or a one-key mapping", "embedding_similarity"),
    ([7], "s.yaml: metrics[0]: expected a metric name", "rougeL"),
    (["rougeL", {"rougeL": {}}], "s.yaml: metrics[1]: metric 'rougeL' is listed twice (first as metrics[0])", "once"),
])
def test_resolve_metrics_errors_name_the_entry(entries: list, message: str, hint: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        resolve_metrics(entries, source="s.yaml")
    assert caught.value.message.startswith(message), caught.value.message
    assert hint in (caught.value.hint or ""), caught.value.hint


def test_resolve_metrics_without_location_for_flags() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_metrics(["bluert"], field_name="")
    assert caught.value.message == "unknown metric 'bluert'"
