"""JSON metrics: ``json_valid`` and ``json_schema``, plus the JSON extraction rule they share.

Extraction rule (:func:`extract_json`), applied to the prediction in this order:

1. the whole text, stripped, parses as a JSON object or array -> that value;
2. a Markdown code fence (```` ```json ... ``` ```` or a bare ```` ``` ````) whose content parses as
   an object or array -> the first such fence;
3. otherwise the first ``{`` or ``[`` in the text from which a complete JSON object/array can be
   decoded (surrounding prose such as "Here is the JSON: {...} Hope this helps" is ignored).

Scalars (``42``, ``"text"``) do not count as JSON output. ``json_valid`` is 1 when a value is
extracted; ``json_schema`` is 1 when the extracted value validates against the schema (0 when nothing
is extracted), ``None`` for examples without a schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import ConfigError
from harness.metrics._shared import PerExampleMetric, mean_of
from harness.metrics.base import Example, Metric, metric

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
_NOTHING = object()


def _parse_structured(text: str) -> Any:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return _NOTHING
    return value if isinstance(value, dict | list) else _NOTHING


def extract_json(text: str | None) -> tuple[bool, Any]:
    """Return ``(found, value)``: the JSON object/array in ``text`` by the module's extraction rule."""
    if not text:
        return False, None
    stripped = text.strip()
    value = _parse_structured(stripped)
    if value is not _NOTHING:
        return True, value
    for match in _FENCE.finditer(text):
        value = _parse_structured(match.group(1).strip())
        if value is not _NOTHING:
            return True, value
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = _DECODER.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict | list):
            return True, value
    return False, None


@metric("json_valid", higher_is_better=True, bounds=(0.0, 1.0))
def json_valid() -> Metric:
    """1.0 when a JSON object/array can be extracted from the prediction, else 0.0."""

    def score(example: Example) -> float:
        return 1.0 if extract_json(example.prediction)[0] else 0.0

    return PerExampleMetric("json_valid", "binary", score,
                            corpus=lambda _e, scores: {"valid_rate": mean_of(scores)})


def _load_schema(schema: Mapping[str, Any] | str | None) -> Mapping[str, Any] | None:
    if schema is None or isinstance(schema, Mapping):
        return schema
    try:
        loaded = json.loads(schema)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"json_schema: the schema setting is not valid JSON ({exc.msg})",
                          hint="pass the schema as a JSON object") from None
    if not isinstance(loaded, Mapping):
        raise ConfigError("json_schema: the schema setting must be a JSON object")
    return loaded


@metric("json_schema", higher_is_better=True, bounds=(0.0, 1.0))
def json_schema(schema: Mapping[str, Any] | str | None = None) -> Metric:
    """1.0 when the extracted JSON validates against the schema, 0.0 otherwise, None without a schema.

    The schema comes from the example (``schema`` field / ``metadata.schema``), else from the
    ``schema`` setting (the suite's metric settings).
    """
    default_schema = _load_schema(schema)
    validators: dict[str, Any] = {}

    def validator_for(example_schema: Mapping[str, Any]):
        key = json.dumps(example_schema, sort_keys=True)
        if key not in validators:
            from jsonschema import validators as jsv
            from jsonschema.exceptions import SchemaError

            cls = jsv.validator_for(example_schema)
            try:
                cls.check_schema(example_schema)
            except SchemaError as exc:
                raise ConfigError(f"json_schema: invalid JSON Schema ({exc.message})",
                                  hint="fix the schema in the example or the suite") from None
            validators[key] = cls(example_schema)
        return validators[key]

    def score(example: Example) -> float | None:
        example_schema = example.schema or (example.metadata or {}).get("schema") or default_schema
        if isinstance(example_schema, str):
            example_schema = _load_schema(example_schema)
        if not example_schema:
            return None
        found, value = extract_json(example.prediction)
        if not found:
            return 0.0
        return 1.0 if validator_for(example_schema).is_valid(value) else 0.0

    def corpus(_examples: Sequence[Example], scores: tuple[float | None, ...]) -> dict[str, Any]:
        return {"valid_rate": mean_of(scores), "n_with_schema": sum(s is not None for s in scores)}

    return PerExampleMetric("json_schema", "binary", score, corpus=corpus)
