"""Suite parsing: typed fields, errors that name the file and field, path resolution, few-shot."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runs.suite import build_suite, load_suite
from tests.harness.backends._support import write_eval_set, write_suite

GOOD = """
name: extract-v1
datasets: {test: test.jsonl}
generation: {max_new_tokens: 16, temperature: 0.0, seed: 0}
candidates:
  - {name: base-zero-shot, model: tiny}
  - {name: base-few-shot, model: tiny, prompt: {few_shot: 3, from: train.jsonl, system: Be brief.}}
  - {name: api, backend: openai, base_url: "http://127.0.0.1:9/v1", model: served, fallback_model: other}
metrics: [exact_match, json_valid]
pricing: {api: {input_per_1k: 0.5, output_per_1k: 1.5}}
"""


def test_good_suite_loads_typed(tmp_path: Path) -> None:
    write_eval_set(tmp_path)
    suite = load_suite(write_suite(tmp_path, GOOD))
    assert suite.name == "extract-v1"
    assert [c.name for c in suite.candidates] == ["base-zero-shot", "base-few-shot", "api"]
    assert suite.candidates[1].prompt.few_shot == 3 and suite.candidates[1].prompt.from_ == "train.jsonl"
    assert suite.candidates[0].backend == "transformers"
    assert suite.generation.max_new_tokens == 16
    assert suite.price_for(suite.candidates[2]).cost(1000, 2000) == pytest.approx(0.5 + 3.0)
    assert suite.dataset_paths()["test"] == (tmp_path / "test.jsonl").resolve()


@pytest.mark.parametrize("body, expected", [
    ("candidates:\n  - {name: a, model: m}\n  - {name: b}\n", "candidates[1].model: required"),
    ("candidates:\n  - {name: a, model: m, modle: x}\n", "candidates[0].modle: unknown field"),
    ("candidates:\n  - {name: a, model: m, backend: tgi}\n", "candidates[0].backend: unknown backend 'tgi'"),
    ("candidates:\n  - {name: a, model: m, backend: openai}\n", "candidates[0]: backend 'openai' needs base_url"),
    ("candidates:\n  - {name: a, model: m}\n  - {name: a, model: n}\n", "candidate name 'a' is used twice"),
    ("candidates:\n  - {name: 'a b', model: m}\n", "candidates[0].name: use letters"),
    ("candidates: []\n", "candidates: List should have at least 1 item"),
    ("candidates:\n  - {name: a, model: m, prompt: {few_shot: -1}}\n", "candidates[0].prompt.few_shot"),
    ("candidates:\n  - {name: a, model: m}\ngeneration: {max_new_tokens: zero}\n", "generation.max_new_tokens"),
    ("candidates:\n  - {name: a, model: m}\npricing: {a: {input_per_1k: 1}}\n", "pricing.a.output_per_1k: required"),
    ("candidates: [{name: a, model: m}]\nmetrics: [exact_match, rouge_l]\n",
     "metrics[1]: unknown metric 'rouge_l'; available metrics: accuracy"),
    ("candidates: [{name: a, model: m}]\nmetrics: [{embedding_similarity: {modle: x}}]\n",
     "metrics[0]: metric 'embedding_similarity': unknown setting 'modle'; accepted settings: model, cache_dir"),
    ("candidates: [{name: a, model: m}]\nmetrics: [{exact_match: {strict: true}}]\n",
     "metrics[0]: metric 'exact_match': unknown setting 'strict'; accepted settings: none"),
    ("candidates: [{name: a, model: m}]\nmetrics: [{bleu: 13a}]\n", "metrics[0]: the settings of metric 'bleu' must be a mapping"),
    ("candidates: [{name: a, model: m}]\nmetrics: [{bleu: {}, chrf: {}}]\n", "metrics[0]: expected a metric name or a one-key mapping"),
    ("candidates: [{name: a, model: m}]\nmetrics: [rougeL, {rougeL: {processes: 1}}]\n", "metric 'rougeL' is listed twice"),
])
def test_errors_name_file_and_field(tmp_path: Path, body: str, expected: str) -> None:
    path = write_suite(tmp_path, "name: s\ndatasets: {test: test.jsonl}\n" + body)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert str(path) in info.value.message
    assert expected in info.value.message


def test_metric_settings_are_typed_recorded_and_round_trip(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, "name: s\ndatasets: {test: test.jsonl}\ncandidates: [{name: a, model: m}]\n"
                                             "metrics: [rougeL, {bleu: {tokenize: char}}, {chrf: }]\n"))
    assert [(s.name, dict(s.settings)) for s in suite.metric_specs()] == [
        ("rougeL", {}), ("bleu", {"tokenize": "char"}), ("chrf", {})]
    assert suite.to_json()["metrics"] == ["rougeL", {"bleu": {"tokenize": "char"}}, "chrf"]
    assert build_suite(suite.to_json()).metric_specs() == suite.metric_specs()
    from harness.metrics import Example, MetricSpec

    example = Example(id="1", prediction="abc", reference="abd")
    char_level = suite.metric_specs()[1].build().compute([example]).per_example[0]
    word_level = MetricSpec("bleu").build().compute([example]).per_example[0]
    assert char_level > word_level  # the setting reached the metric (char n-grams overlap, words do not)


def test_missing_top_level_fields_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"suite.yaml: name: required"):
        load_suite(write_suite(tmp_path, "datasets: {test: t.jsonl}\ncandidates: [{name: a, model: m}]\n"))
    with pytest.raises(ConfigError, match=r"suite.yaml:\d+: invalid YAML"):
        load_suite(write_suite(tmp_path, "name: s\ncandidates:\n  - {name: a, model: [\n"))
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "nope.yaml")


def test_missing_dataset_names_the_field(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, "name: s\ndatasets: {test: missing.jsonl}\ncandidates: [{name: a, model: m}]\n"))
    with pytest.raises(ConfigError, match=r"datasets.test: file not found: missing.jsonl"):
        suite.dataset_paths()


def test_relative_paths_suite_folder_first_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite_dir, cwd = tmp_path / "suites", tmp_path / "cwd"
    write_eval_set(suite_dir)
    write_eval_set(cwd / "sets")
    monkeypatch.chdir(cwd)
    suite = load_suite(write_suite(suite_dir, "name: s\ndatasets: {a: test.jsonl, b: sets/train.jsonl}\n"
                                              "candidates: [{name: c, model: m}]\n"))
    paths = suite.dataset_paths()
    assert paths["a"] == (suite_dir / "test.jsonl").resolve()
    assert paths["b"] == (cwd / "sets" / "train.jsonl").resolve()


def test_python_suite_same_fields_and_errors(tmp_path: Path) -> None:
    import harness

    suite = harness.Suite(name="py", datasets={"test": str(tmp_path / "test.jsonl")},
                          candidates=[{"name": "a", "model": "tiny", "prompt": {"few_shot": 2, "from": "x.jsonl"}}],
                          metrics=["exact_match"])
    assert suite.candidates[0].prompt.from_ == "x.jsonl"
    assert suite.to_json()["candidates"][0]["prompt"]["from"] == "x.jsonl"
    with pytest.raises(ConfigError, match=r"candidates\[0\].model: required"):
        harness.Suite(name="py", datasets={"t": "t.jsonl"}, candidates=[{"name": "a"}])
    same = build_suite(suite.to_json())
    assert same.to_json() == suite.to_json()


def test_few_shot_is_seeded_and_inserted_as_prior_turns(tmp_path: Path) -> None:
    from harness.runs.prompts import build_messages, draw_few_shot, load_dataset

    write_eval_set(tmp_path, n_train=30)
    first = draw_few_shot(tmp_path / "train.jsonl", 3, seed=1)
    assert first == draw_few_shot(tmp_path / "train.jsonl", 3, seed=1)
    assert first != draw_few_shot(tmp_path / "train.jsonl", 3, seed=2)
    assert [m["role"] for m in first] == ["user", "assistant"] * 3
    item = load_dataset(tmp_path / "test.jsonl")[0]
    messages = build_messages(item, system=None, shots=first)
    assert messages[0]["role"] == "system" and messages[1:7] == first and messages[-1] == item.context[-1]
    assert build_messages(item, system="Only JSON.", shots=[])[0] == {"role": "system", "content": "Only JSON."}
    with pytest.raises(Exception, match="few_shot asks for 99"):
        draw_few_shot(tmp_path / "train.jsonl", 99, seed=0)
