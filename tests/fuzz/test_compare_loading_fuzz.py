"""Fuzz the predictions-file reader (harness.compare.loading.load_predictions) and `harness score`.

Properties: arbitrary bytes and wrong-but-JSON lines never raise anything but HarnessError; what loads
scores with every text metric without an internal error; the input and an existing --out are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.compare.loading import load_predictions
from harness.metrics.base import score_examples
from tests.fuzz.strategies import (
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    jsonl_text,
    only_harness_errors,
    run_cli,
    scratch,
    snapshot,
    wrong_documents,
)

VALID = {"id": "a-1", "prediction": '{"name": "Ana"}', "reference": '{"name": "Ana"}',
         "schema": {"type": "object", "properties": {"name": {"type": "string"}}}, "label": "pos",
         "metadata": {"area": "billing"}, "latency_s": 0.5, "cost": 0.01, "prompt_tokens": 3, "completion_tokens": 2}
#: Every metric that needs no model (embedding_similarity loads one).
TEXT_METRICS = ("exact_match", "rouge1", "rouge2", "rougeL", "bleu", "chrf", "json_valid", "json_schema",
                "accuracy", "length_ratio", "latency", "cost")
prediction_lines = st.one_of(wrong_documents(VALID), st.just(VALID),
                             wrong_documents({"prediction": "x", "reference": "y"}))
prediction_files = st.one_of(jsonl_text(prediction_lines).map(lambda t: t.encode("utf-8", "surrogatepass")),
                             hostile_bytes(jsonl_text(prediction_lines)))


@fuzz_settings(100)
@given(content=prediction_files)
def test_load_predictions_takes_any_file(content: bytes) -> None:
    with scratch() as folder:
        path = folder / "predictions.jsonl"
        path.write_bytes(content)
        with files_unchanged(folder):
            examples: list = []
            if only_harness_errors(lambda: examples.extend(load_predictions(path))) is None:
                assert examples
                only_harness_errors(lambda: score_examples(examples, list(TEXT_METRICS), {}))


@fuzz_settings(15)
@given(content=prediction_files, slice_by=st.sampled_from([None, "area", "label"]))
def test_score_command_never_fails_internally(content: bytes, slice_by: str | None) -> None:
    with scratch() as folder:
        path = folder / "predictions.jsonl"
        path.write_bytes(content)
        out = folder / "out"
        out.mkdir()
        (out / "scores.jsonl").write_text('{"old": 1}\n', encoding="utf-8")
        (out / "summary.json").write_text('{"old": 1}', encoding="utf-8")
        args = ["--workspace", folder / "ws", "score", path, "--metrics", ",".join(TEXT_METRICS), "--json",
                "--out", out, *(["--slice", slice_by] if slice_by else [])]
        with files_unchanged(folder):  # without --force the old outputs stay
            assert run_cli(*args).code != 0
        before = snapshot(folder)
        forced = run_cli(*args, "--force")
        after = snapshot(folder)
        assert after["predictions.jsonl"] == before["predictions.jsonl"], "the input changed"
        if forced.code != 0:
            assert after == before, f"a failed score changed its outputs: {forced.output[-300:]}"



@pytest.mark.parametrize(("line", "message"), [
    pytest.param('{"prediction": "a", "reference": "a", "cost": ' + "9" * 4400 + "}", "invalid JSON (Exceeds the limit",
                 id="int-over-4300-digits"),
    pytest.param('{"prediction": "a", "reference": "a", "metadata": ' + "[" * 1100 + "]" * 1100 + "}",
                 "invalid JSON (nested too deeply)", id="nested-1100-deep"),
    pytest.param('{"prediction": "a", "reference": "a", "metadata": {"area": "b\\ud800"}}',
                 "metadata.area holds a lone surrogate", id="lone-surrogate"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"prediction": "a", "reference": "a"}\n' + line + "\n", encoding="utf-8")
    error = only_harness_errors(lambda: load_predictions(path))
    assert error is not None and error.message.startswith(f"{path}:2: {message}"), error
    outcome = run_cli("--workspace", tmp_path / "ws", "score", path, "--slice", "area", "--out", tmp_path / "out")
    assert outcome.code == 1 and outcome.user_error and not (tmp_path / "out").exists()  # bad data
