"""Rubrics: the fields a reviewer fills in for one output (scales, yes/no questions, free text).

A :class:`Rubric` is a frozen spec with guideline text shown to reviewers. :meth:`Rubric.validate`
turns a reviewer's raw answers into normalised values (scale -> int, yes/no -> bool, text -> str)
or raises :class:`harness.errors.DataError` naming the field, the allowed values and where the
answer came from. Custom rubrics are YAML files read by :func:`load_rubric`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError, DataError

FIELD_TYPES = ("scale", "yes_no", "text")
_YES = {"true", "yes", "y", "1"}
_NO = {"false", "no", "n", "0"}
_FIELD_KEYS = {"name", "type", "low", "high", "required", "guideline"}


@dataclass(frozen=True)
class RubricField:
    """One question of a rubric: a ``scale`` from ``low`` to ``high``, a ``yes_no`` or a free ``text``."""

    name: str
    type: Literal["scale", "yes_no", "text"]
    low: int | None = None
    high: int | None = None
    required: bool = True
    guideline: str = ""

    def allowed(self) -> str:
        """The values this field accepts, in words (for error messages and reviewer prompts)."""
        if self.type == "scale":
            return f"an integer from {self.low} to {self.high}"
        if self.type == "yes_no":
            return "yes or no (true/false, y/n, 1/0)"
        return "any text"

    def normalise(self, value: Any, *, where: str = "") -> Any:
        """``value`` as this field stores it (int, bool or str); raises :class:`DataError` when not allowed."""
        bad = DataError(f"{_at(where)}field {self.name!r}: {value!r} is not allowed; expected {self.allowed()}",
                        hint=self.guideline or f"give {self.name} {self.allowed()}")
        if self.type == "scale":
            if isinstance(value, bool):
                raise bad
            if isinstance(value, str):
                try:
                    value = float(value.strip())
                except ValueError:
                    raise bad from None
            if not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
                raise bad
            number = int(value)
            assert self.low is not None and self.high is not None
            if not self.low <= number <= self.high:
                raise bad
            return number
        if self.type == "yes_no":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in _YES | _NO:
                return value.strip().lower() in _YES
            raise bad
        if not isinstance(value, str):
            raise bad
        return value


def _at(where: str) -> str:
    return f"{where}: " if where else ""


@dataclass(frozen=True)
class Rubric:
    """A named set of fields with guideline text; validates a reviewer's answers."""

    name: str
    fields: tuple[RubricField, ...]
    guideline: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))

    def field(self, name: str) -> RubricField | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)

    def field_names(self) -> list[str]:
        """The names of the fields, in order."""
        return [f.name for f in self.fields]

    def validate(self, values: Mapping[str, Any], *, where: str = "") -> dict[str, Any]:
        """Normalised answers: scale -> int, yes_no -> bool, text -> str (empty optional fields left out).

        Raises :class:`DataError` naming the field, its allowed values and ``where`` for an unknown
        field, a missing required field or a value outside the field's range.
        """
        if not isinstance(values, Mapping):
            raise DataError(f"{_at(where)}rubric answers must be an object of field: value, got {values!r}",
                            hint=f"fields of rubric {self.name!r}: {', '.join(self.field_names())}")
        unknown = [k for k in values if self.field(k) is None]
        if unknown:
            raise DataError(f"{_at(where)}unknown field {unknown[0]!r} for rubric {self.name!r}",
                            hint=f"fields: {', '.join(self.field_names())}")
        out: dict[str, Any] = {}
        for spec in self.fields:
            value = values.get(spec.name)
            if value is None or (isinstance(value, str) and not value.strip() and spec.type != "text"):
                value = None
            if value is None or (spec.type == "text" and value == ""):
                if spec.required:
                    raise DataError(f"{_at(where)}missing required field {spec.name!r} of rubric {self.name!r}",
                                    hint=f"give {spec.name} {spec.allowed()}")
                continue
            out[spec.name] = spec.normalise(value, where=where)
        return out

    def rated_fields(self) -> tuple[RubricField, ...]:
        """The scale and yes/no fields (the ones agreement is computed on)."""
        return tuple(f for f in self.fields if f.type != "text")

    def to_dict(self) -> dict[str, Any]:
        """The rubric as JSON-able data (the shape :meth:`from_dict` and :func:`load_rubric` read)."""
        fields = []
        for f in self.fields:
            entry: dict[str, Any] = {"name": f.name, "type": f.type, "required": f.required, "guideline": f.guideline}
            if f.type == "scale":
                entry.update(low=f.low, high=f.high)
            fields.append(entry)
        return {"name": self.name, "guideline": self.guideline, "fields": fields}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "rubric") -> Rubric:
        """A validated :class:`Rubric` from ``{name, guideline, fields: [...]}``; errors name ``source`` and field."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a rubric must be a mapping with 'name' and 'fields'",
                              hint="see harness.review.rubric.DEFAULT_RUBRIC.to_dict() for the shape")
        unknown = sorted(set(data) - {"name", "guideline", "fields"})
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r}", hint="keys: name, guideline, fields")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{source}: 'name' must be a non-empty string", hint="e.g. name: support-default")
        guideline = data.get("guideline") or ""
        if not isinstance(guideline, str):
            raise ConfigError(f"{source}: 'guideline' must be text")
        raw_fields = data.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise ConfigError(f"{source}: 'fields' must be a non-empty list",
                              hint="e.g. fields: [{name: helpfulness, type: scale, low: 1, high: 5}]")
        fields = [_field_from_dict(entry, f"{source}: fields[{i}]") for i, entry in enumerate(raw_fields)]
        names = [f.name for f in fields]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ConfigError(f"{source}: field {duplicate!r} appears twice", hint="give every field a unique name")
        if not any(f.type != "text" for f in fields):
            raise ConfigError(f"{source}: the rubric has no scale or yes_no field to rate",
                              hint="add at least one field of type scale or yes_no")
        return cls(name=name.strip(), fields=tuple(fields), guideline=guideline)


def _field_from_dict(entry: Any, where: str) -> RubricField:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: a field must be a mapping with 'name' and 'type'")
    unknown = sorted(set(entry) - _FIELD_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}", hint=f"keys: {', '.join(sorted(_FIELD_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name})"
    kind = entry.get("type")
    if kind not in FIELD_TYPES:
        raise ConfigError(f"{where}: 'type' is {kind!r}", hint=f"type must be one of {', '.join(FIELD_TYPES)}")
    low, high = entry.get("low"), entry.get("high")
    if kind == "scale":
        for key, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where}: a scale needs an integer {key!r}, got {value!r}",
                                  hint="e.g. low: 1, high: 5")
        if low >= high:
            raise ConfigError(f"{where}: 'low' ({low}) must be below 'high' ({high})")
    elif low is not None or high is not None:
        raise ConfigError(f"{where}: 'low'/'high' only apply to scale fields", hint="remove them or use type: scale")
    required = entry.get("required", kind != "text")
    if not isinstance(required, bool):
        raise ConfigError(f"{where}: 'required' must be true or false, got {required!r}")
    guideline = entry.get("guideline") or ""
    if not isinstance(guideline, str):
        raise ConfigError(f"{where}: 'guideline' must be text")
    return RubricField(name=name.strip(), type=kind, low=low if kind == "scale" else None,
                       high=high if kind == "scale" else None, required=required, guideline=guideline)


DEFAULT_RUBRIC = Rubric(
    name="support-default",
    guideline=("Read the customer's conversation and the reference answer, then rate the assistant's reply. "
               "Judge the reply on its own: do not guess which model wrote it."),
    fields=(
        RubricField("helpfulness", "scale", 1, 5, guideline=(
            "1 = useless or harmful, 2 = mostly unhelpful, 3 = partly solves the problem, "
            "4 = solves it with small gaps, 5 = fully solves it as well as the reference")),
        RubricField("policy_compliance", "yes_no", guideline=(
            "yes if the reply follows support policy: no promises the company cannot keep, "
            "no sharing of private data, escalates when it should")),
        RubricField("factual_accuracy", "yes_no", guideline=(
            "yes if every fact (amounts, dates, steps, product details) agrees with the reference")),
        RubricField("tone_appropriate", "yes_no", guideline="yes if the reply is polite, calm and professional"),
        RubricField("comment", "text", required=False, guideline="optional: anything a reviewer should know"),
    ),
)


def load_rubric(path: str | os.PathLike[str]) -> Rubric:
    """The :class:`Rubric` in a YAML file ``{name, guideline, fields: [...]}``; errors name the file and field."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"rubric file not found: {path}",
                          hint="pass a YAML file with name, guideline and fields (see `harness review --help`)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return Rubric.from_dict(data, source=str(path))
