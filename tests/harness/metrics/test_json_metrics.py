"""JSON metrics: extraction rule, validity and schema validation (jsonschema as reference)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from harness.errors import ConfigError
from harness.metrics import Example, get_metric
from harness.metrics.json_metrics import extract_json

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize(("text", "found", "value"), [
    ('{"a": 1}', True, {"a": 1}),
    ('  [1, 2]\n', True, [1, 2]),
    ('```json\n{"a": 1}\n```', True, {"a": 1}),
    ('Here you go:\n```\n{"a": "ü"}\n```\nanything else?', True, {"a": "ü"}),
    ('Sure! The JSON is {"a": {"b": [1, 2]}} hope it helps {"c": 3}', True, {"a": {"b": [1, 2]}}),
    ('broken {"a": 1 then {"b": 2}', True, {"b": 2}),
    ('{"a": 1', False, None),
    ("42", False, None),
    ('"just a string"', False, None),
    ("", False, None),
    ("no json here", False, None),
])
def test_extract_json(text: str, found: bool, value: object) -> None:
    assert extract_json(text) == (found, value)


def test_json_valid_per_example() -> None:
    examples = [Example("1", '{"a": 1}', ""), Example("2", "oops {", ""), Example("3", "", ""),
                Example("4", "```json\n[1]\n```", "")]
    out = get_metric("json_valid").compute(examples)
    assert out.per_example == (1.0, 0.0, 0.0, 1.0)
    assert out.corpus["valid_rate"] == 0.5


def test_json_schema_agrees_with_jsonschema() -> None:
    predictions = ['{"name": "Ann", "age": 31}', '{"name": "Ann", "age": "31"}', '{"name": "Ann"}',
                   '```json\n{"name": "Zoë", "age": 7}\n```', '{"name": "Ann", "age": 3, "x": 1}', "not json", ""]
    examples = [Example(str(i), p, "", schema=SCHEMA) for i, p in enumerate(predictions)]
    out = get_metric("json_schema").compute(examples)
    expected = []
    for p in predictions:
        found, value = extract_json(p)
        expected.append(1.0 if found and jsonschema.Draft202012Validator(SCHEMA).is_valid(value) else 0.0)
    assert list(out.per_example) == expected == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]


def test_json_schema_sources() -> None:
    from_metadata = Example("1", '{"name": "A", "age": 1}', "", metadata={"schema": SCHEMA})
    without = Example("2", '{"name": "A", "age": 1}', "")
    assert get_metric("json_schema").compute([from_metadata, without]).per_example == (1.0, None)
    with_setting = get_metric("json_schema", schema=json.dumps({"type": "array"}))
    assert with_setting.compute([without, Example("3", "[1]", "")]).per_example == (0.0, 1.0)
    with pytest.raises(ConfigError, match="not valid JSON"):
        get_metric("json_schema", schema="{nope")
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        get_metric("json_schema").compute([Example("4", "{}", "", schema={"type": 12})])
