"""Rubrics: normalised answers, errors that name the field, YAML rubrics validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, DataError
from harness.review.rubric import DEFAULT_RUBRIC, Rubric, RubricField, load_rubric

ANSWER = {"helpfulness": 4, "policy_compliance": True, "factual_accuracy": False, "tone_appropriate": True}


def test_default_rubric_follows_the_article() -> None:
    assert DEFAULT_RUBRIC.name == "support-default"
    assert [(f.name, f.type, f.low, f.high, f.required) for f in DEFAULT_RUBRIC.fields] == [
        ("helpfulness", "scale", 1, 5, True), ("policy_compliance", "yes_no", None, None, True),
        ("factual_accuracy", "yes_no", None, None, True), ("tone_appropriate", "yes_no", None, None, True),
        ("comment", "text", None, None, False)]
    assert [f.name for f in DEFAULT_RUBRIC.rated_fields()] == ["helpfulness", "policy_compliance",
                                                              "factual_accuracy", "tone_appropriate"]
    assert all(f.guideline for f in DEFAULT_RUBRIC.fields) and DEFAULT_RUBRIC.guideline


def test_validate_normalises_values() -> None:
    raw = {"helpfulness": "4", "policy_compliance": "yes", "factual_accuracy": 0, "tone_appropriate": "Y",
           "comment": "short but right"}
    assert DEFAULT_RUBRIC.validate(raw) == {**ANSWER, "comment": "short but right"}
    assert DEFAULT_RUBRIC.validate({**ANSWER, "helpfulness": 5.0}) == {**ANSWER, "helpfulness": 5}
    assert DEFAULT_RUBRIC.validate({**ANSWER, "comment": ""}) == ANSWER  # optional text may be empty


@pytest.mark.parametrize(("raw", "expected"), [
    (True, True), (False, False), ("true", True), ("False", False), ("yes", True), ("no", False),
    ("y", True), ("n", False), (1, True), (0, False), ("1", True), ("0", False)])
def test_yes_no_spellings(raw: object, expected: bool) -> None:
    assert DEFAULT_RUBRIC.validate({**ANSWER, "policy_compliance": raw})["policy_compliance"] is expected


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"helpfulness": 6}, "helpfulness", "an integer from 1 to 5"),
    ({"helpfulness": 0}, "helpfulness", "an integer from 1 to 5"),
    ({"helpfulness": 3.5}, "helpfulness", "an integer from 1 to 5"),
    ({"helpfulness": True}, "helpfulness", "an integer from 1 to 5"),
    ({"helpfulness": "great"}, "helpfulness", "an integer from 1 to 5"),
    ({"tone_appropriate": "maybe"}, "tone_appropriate", "yes or no"),
    ({"tone_appropriate": 2}, "tone_appropriate", "yes or no"),
    ({"comment": 7}, "comment", "any text"),
])
def test_out_of_rubric_values_name_the_field_and_the_allowed_values(change: dict, field: str, words: str) -> None:
    with pytest.raises(DataError) as caught:
        DEFAULT_RUBRIC.validate({**ANSWER, **change}, where="item rb-1-0")
    assert caught.value.message.startswith("item rb-1-0: field ")
    assert repr(field) in caught.value.message and words in caught.value.message


def test_unknown_and_missing_fields() -> None:
    with pytest.raises(DataError, match="unknown field 'helpful' for rubric 'support-default'") as caught:
        DEFAULT_RUBRIC.validate({**ANSWER, "helpful": 3})
    assert "helpfulness, policy_compliance" in (caught.value.hint or "")
    missing = {k: v for k, v in ANSWER.items() if k != "factual_accuracy"}
    with pytest.raises(DataError, match="row 3: missing required field 'factual_accuracy'"):
        DEFAULT_RUBRIC.validate(missing, where="row 3")
    with pytest.raises(DataError, match="missing required field 'helpfulness'"):
        DEFAULT_RUBRIC.validate({**ANSWER, "helpfulness": " "})
    with pytest.raises(DataError, match="must be an object"):
        DEFAULT_RUBRIC.validate([4, True])  # type: ignore[arg-type]


def test_dict_round_trip() -> None:
    again = Rubric.from_dict(DEFAULT_RUBRIC.to_dict())
    assert again == DEFAULT_RUBRIC
    assert DEFAULT_RUBRIC.to_dict()["fields"][0] == {
        "name": "helpfulness", "type": "scale", "low": 1, "high": 5, "required": True,
        "guideline": DEFAULT_RUBRIC.fields[0].guideline}


def test_yaml_rubric_with_guidelines(tmp_path: Path) -> None:
    path = tmp_path / "rubric.yaml"
    path.write_text("name: billing\nguideline: Check the amounts.\nfields:\n"
                    "  - {name: correctness, type: scale, low: 0, high: 2, guideline: 2 = exact}\n"
                    "  - {name: escalate, type: yes_no, required: false}\n"
                    "  - {name: note, type: text}\n", encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric == Rubric("billing", (RubricField("correctness", "scale", 0, 2, guideline="2 = exact"),
                                        RubricField("escalate", "yes_no", required=False),
                                        RubricField("note", "text", required=False)), "Check the amounts.")
    assert rubric.validate({"correctness": "0"}) == {"correctness": 0}
    with pytest.raises(DataError, match="an integer from 0 to 2"):
        rubric.validate({"correctness": 3})


@pytest.mark.parametrize(("text", "words"), [
    ("name: r\nfields:\n  - {name: q, type: stars}\n", "fields[0] (q): 'type' is 'stars'"),
    ("name: r\nfields:\n  - {name: q, type: scale, low: 5, high: 1}\n", "fields[0] (q): 'low' (5) must be below"),
    ("name: r\nfields:\n  - {name: q, type: scale, low: 1}\n", "fields[0] (q): a scale needs an integer 'high'"),
    ("name: r\nfields:\n  - {name: q, type: yes_no}\n  - {name: q, type: yes_no}\n", "field 'q' appears twice"),
    ("name: r\nfields:\n  - {name: q, type: yes_no, colour: red}\n", "unknown key 'colour'"),
    ("name: r\nfields:\n  - {name: q, type: text}\n", "no scale or yes_no field"),
    ("name: r\nfields: []\n", "'fields' must be a non-empty list"),
    ("fields:\n  - {name: q, type: yes_no}\n", "'name' must be a non-empty string"),
    ("name: r\nfields: [\n", "invalid YAML"),
])
def test_bad_yaml_rubrics_name_the_file_and_field(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rubric(path)
    assert str(path) in caught.value.message and words in caught.value.message


def test_missing_rubric_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rubric file not found") as caught:
        load_rubric(tmp_path / "nope.yaml")
    assert "YAML" in (caught.value.hint or "")
