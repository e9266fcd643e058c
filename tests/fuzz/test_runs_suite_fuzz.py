"""Fuzz the suite reader (harness.runs.suite.load_suite) and what `harness eval` does with a suite before
any generation (paths, metrics, candidates resolved, few-shot examples drawn).

Properties: arbitrary bytes, and YAML/JSON suites of the right shape with wrong values (types, NaN,
huge numbers, odd unicode names, unknown keys, missing keys) never raise anything but HarnessError;
no file in the suite's folder changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.runs.resolve import resolve_candidate
from harness.runs.suite import load_suite
from tests.fuzz.strategies import (
    YAML_SNIPPETS,
    dump_json,
    dump_yaml,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    only_harness_errors,
    scratch,
    wrong_documents,
)

VALID: dict[str, Any] = {
    "name": "fuzz-suite", "datasets": {"test": "test.jsonl"},
    "generation": {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop": ["\n\n"]},
    "candidates": [
        {"name": "base", "model": "org/tiny-model", "prompt": {"system": "Be brief.", "few_shot": 2, "from": "train.jsonl",
                                                            "seed": 1}, "options": {"batch_size": 2}},
        {"name": "api", "model": "gpt-x", "backend": "openai", "base_url": "http://127.0.0.1:8000/v1",
         "options": {"api_key_env": "FUZZ_KEY"}}],
    "metrics": ["exact_match", {"rougeL": {}}, {"json_schema": {"schema": {"type": "object"}}}],
    "pricing": {"api": {"input_per_1k": 0.1, "output_per_1k": 0.2}},
}
EXAMPLE = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
documents = wrong_documents(VALID, max_mutations=4)
suite_files = st.one_of(documents.map(dump_yaml), documents.map(dump_json),
                        hostile_bytes(st.one_of(documents.map(dump_yaml), st.sampled_from(YAML_SNIPPETS))))


def use_suite(path: Path) -> None:
    """Load the suite and do what `harness eval` does with it before generating."""
    suite = load_suite(path)
    json.dumps(suite.to_json())
    suite.metric_specs()
    suite.dataset_paths()
    suite.select([c.name for c in suite.candidates][:1])
    for i, cand in enumerate(suite.candidates):
        suite.price_for(cand)
        suite.generation.settings_hash(cand.backend)
        resolve_candidate(suite, cand, None, i)


@fuzz_settings(150)
@given(content=suite_files)
def test_suite_files(content: str | bytes) -> None:
    with scratch() as folder:
        path = folder / "suite.yaml"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        for name in ("test.jsonl", "train.jsonl"):
            (folder / name).write_text(json.dumps(EXAMPLE) + "\n" + json.dumps(EXAMPLE) + "\n", encoding="utf-8")
        with files_unchanged(folder):
            only_harness_errors(lambda: use_suite(path))


def _suite_with(**changes: Any) -> str:
    doc = json.loads(json.dumps(VALID))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return dump_yaml(doc)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("name: " + "9" * 4400 + "\n", "invalid YAML: Exceeds the limit", id="int-over-4300-digits"),
    pytest.param("name: " + "[" * 1100 + "]" * 1100 + "\n", "invalid YAML: nested too deeply", id="nested-1100-deep"),
    pytest.param(_suite_with(generation__stop=["\udfff"]), "generation.stop[0] holds a lone surrogate",
                 id="lone-surrogate"),
    pytest.param(_suite_with(candidates__0__prompt__from="9" * 300), "candidates[0].prompt.from: cannot use",
                 id="path-too-long"),
    pytest.param(_suite_with(candidates__0__model="[" * 300), "candidates[0]", id="model-name-too-long-for-a-path"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    for name in ("test.jsonl", "train.jsonl"):
        (tmp_path / name).write_text(json.dumps(EXAMPLE) + "\n", encoding="utf-8")
    error = only_harness_errors(lambda: use_suite(path))
    assert error is not None and message in error.message, error
