"""The runner end to end on the tiny model: run folder contract, cache hits, LoRA and baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from harness.backends.base import BackendCapabilities, register_backend
from harness.backends.transformers_backend import TransformersBackend
from harness.runs.runner import run_suite
from harness.runs.suite import Suite, load_suite
from harness.workspace import Workspace
from tests.harness.backends._support import write_eval_set, write_suite

CALLS: list[int] = []


class CountingBackend(TransformersBackend):
    """The real transformers backend, counting how many prompts it is asked to generate."""

    name = "counting"

    def generate(self, requests):  # type: ignore[no-untyped-def]
        CALLS.append(len(requests))
        return super().generate(requests)


register_backend("counting", CountingBackend)


def _suite_text(tiny: Path, lora: Path | None = None, metrics: str = "[exact_match, json_valid]") -> str:
    lora_line = f"  - {{name: lora, backend: counting, model: {tiny}, adapter: {lora}}}\n" if lora else ""
    return (f"name: cache-test\ndatasets: {{test: test.jsonl}}\n"
            f"generation: {{max_new_tokens: 12}}\n"
            f"candidates:\n"
            f"  - {{name: zero, backend: counting, model: {tiny}, options: {{batch_size: 4}}}}\n"
            f"  - {{name: few, backend: counting, model: {tiny}, prompt: {{few_shot: 2, from: train.jsonl}}}}\n"
            f"{lora_line}"
            f"metrics: {metrics}\n"
            f"pricing: {{zero: {{input_per_1k: 1.0, output_per_1k: 2.0}}}}\n")


def test_run_folder_contract_and_cache_hits(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    write_eval_set(tmp_path, n_test=6)
    ws = Workspace.open(tmp_path / "ws")
    suite = load_suite(write_suite(tmp_path, _suite_text(tiny_model_dir, tiny_lora_dir)))
    CALLS.clear()
    first = run_suite(suite, ws, show_progress=False)
    assert sum(CALLS) == 18 and first.generated == {"zero": 6, "few": 6, "lora": 6}
    assert first.cached == {"zero": 0, "few": 0, "lora": 0}

    run_dir = ws.runs_dir / first.run_id
    for name in ("suite.json", "manifest.json", "summary.json"):
        assert (run_dir / name).exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["finished"]
    import hashlib

    import transformers

    assert manifest["datasets"]["test"]["sha256"] == hashlib.sha256((tmp_path / "test.jsonl").read_bytes()).hexdigest()
    assert manifest["packages"]["transformers"] == transformers.__version__
    assert manifest["seeds"]["generation"] == 0 and "few" in manifest["seeds"]["few_shot"]
    suite_json = json.loads((run_dir / "suite.json").read_text())
    assert suite_json["resolved"]["candidates"]["lora"]["adapter"] == str(tiny_lora_dir)
    lines = [json.loads(x) for x in (run_dir / "predictions" / "zero" / "test.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    for key in ("id", "prediction", "reference", "schema", "metadata", "latency_s", "prompt_tokens",
                "completion_tokens", "cost"):
        assert key in lines[0]
    source = [json.loads(x) for x in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert [(x["id"], x["reference"], x["metadata"]) for x in lines] == [
        (s["id"], s["messages"][-1]["content"], s["metadata"]) for s in source]  # in dataset order
    assert all(x["schema"] == s["metadata"]["schema"] for x, s in zip(lines, source, strict=True))
    assert all(0 < x["completion_tokens"] <= 12 and x["latency_s"] > 0 for x in lines)  # max_new_tokens: 12
    assert lines[0]["cost"] == pytest.approx(lines[0]["prompt_tokens"] / 1000 + 2 * lines[0]["completion_tokens"] / 1000)
    few_lines = [json.loads(x) for x in (run_dir / "predictions" / "few" / "test.jsonl").read_text().splitlines()]
    assert few_lines[0]["prompt_tokens"] > lines[0]["prompt_tokens"]  # the shots are in the prompt
    assert few_lines[0]["cost"] is None
    scores = [json.loads(x) for x in (run_dir / "scores" / "lora" / "test.jsonl").read_text().splitlines()]
    assert [s["id"] for s in scores] == [x["id"] for x in lines] and set(scores[0]) == {"id", "exact_match", "json_valid"}
    summary = json.loads((run_dir / "summary.json").read_text())
    entry = summary["candidates"]["zero"]["test"]["exact_match"]
    zero_scores = [json.loads(x)["exact_match"] for x in (run_dir / "scores" / "zero" / "test.jsonl").read_text().splitlines()]
    assert entry["n"] == 6 and entry["mean"] == pytest.approx(sum(zero_scores) / 6)
    assert entry["ci"] == pytest.approx(list(proportion_confint(sum(zero_scores), 6, method="wilson")), abs=1e-9)

    # same suite again: nothing generated, the backend is never called
    CALLS.clear()
    second = run_suite(suite, ws, show_progress=False)
    assert CALLS == [] and second.generated == {"zero": 0, "few": 0, "lora": 0}
    assert second.cached == {"zero": 6, "few": 6, "lora": 6} and second.run_id != first.run_id
    assert second.summary["candidates"] == first.summary["candidates"]

    # adding a metric: still nothing generated, the new metric is scored
    suite3 = load_suite(write_suite(tmp_path, _suite_text(tiny_model_dir, tiny_lora_dir,
                                                           "[exact_match, json_valid, json_schema]")))
    third = run_suite(suite3, ws, show_progress=False)
    assert CALLS == [] and sum(third.generated.values()) == 0
    assert third.summary["candidates"]["lora"]["test"]["json_schema"]["n"] == 6

    # changing generation settings is a different cache key
    suite4 = load_suite(write_suite(tmp_path, _suite_text(tiny_model_dir).replace("max_new_tokens: 12",
                                                                                   "max_new_tokens: 13")))
    fourth = run_suite(suite4, ws, candidates=["zero"], limit=2, show_progress=False)
    assert CALLS == [2]

    from harness.store.runs import get_run, run_examples

    rows = run_examples(ws.engine, first.run_id)
    assert len(rows) == 18 and {r.candidate for r in rows} == {"zero", "few", "lora"}
    assert get_run(ws.engine, first.run_id).status == "completed"
    # "latest" is the most recently started run, even when several runs share the second their ids start with.
    assert get_run(ws.engine, "latest").id == fourth.run_id


class _CreatedBackend:
    """A fake backend answering "sales" for model ``good`` (3 in 4) and "billing" otherwise."""

    name = "fake-runner-test"
    capabilities = BackendCapabilities(local_models=False, adapters=False)
    request_chunk = 16
    created: list[str] = []

    def __init__(self, spec) -> None:  # type: ignore[no-untyped-def]
        self.spec = spec
        _CreatedBackend.created.append(spec.model)

    @staticmethod
    def fingerprint_of(spec) -> str:  # type: ignore[no-untyped-def]
        return f"fake-{spec.model}"

    @property
    def fingerprint(self) -> str:
        return self.fingerprint_of(self.spec)

    def generate(self, requests):  # type: ignore[no-untyped-def]
        from harness.backends.base import Generation

        return [Generation("sales" if self.spec.model == "good" and i % 4 else "billing", 0.01, 5, 1)
                for i, _ in enumerate(requests)]

    def close(self) -> None:
        pass


register_backend("fake-runner-test", _CreatedBackend)
PREFIX_FACTORY_CALLS: list[str] = []


class _Prefix:
    kind = "binary"

    def __init__(self, prefix: str) -> None:
        self.name, self.prefix = "test_prefix", prefix

    def compute(self, examples):  # type: ignore[no-untyped-def]
        from harness.metrics import MetricOutput

        return MetricOutput(self.name, "binary", tuple(float(e.prediction.startswith(self.prefix)) for e in examples))


def _register_prefix_metric() -> None:
    from harness.metrics import metric

    @metric("test_prefix", higher_is_better=True, bounds=(0.0, 1.0))
    def test_prefix(prefix: str = "") -> _Prefix:
        PREFIX_FACTORY_CALLS.append(prefix)
        return _Prefix(prefix)


def _fake_suite(tmp_path: Path, metrics: list) -> Suite:  # type: ignore[type-arg]
    write_eval_set(tmp_path, n_test=8)
    (tmp_path / "other.jsonl").write_text((tmp_path / "test.jsonl").read_text())
    return Suite(name="fake", datasets={"test": str(tmp_path / "test.jsonl"), "other": str(tmp_path / "other.jsonl")},
                 candidates=[{"name": "base-zero", "model": "bad", "backend": "fake-runner-test"},
                             {"name": "tuned", "model": "good", "backend": "fake-runner-test"}],
                 metrics=metrics)


def test_unknown_metric_fails_before_any_backend_is_created(tmp_path: Path) -> None:
    from harness.errors import ConfigError

    write_eval_set(tmp_path, n_test=2)
    text = ("name: m\ndatasets: {test: test.jsonl}\ncandidates: [{name: a, model: x, backend: fake-runner-test}]\n"
            "metrics: [exact_match, not_a_metric]\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml: metrics\[1\]: unknown metric 'not_a_metric'.*rougeL"):
        load_suite(write_suite(tmp_path, text))
    suite = _fake_suite(tmp_path, ["exact_match"])
    suite.metrics.append("not_a_metric")  # a suite changed after validation is checked again by the runner
    _CreatedBackend.created.clear()
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(ConfigError, match=r"metrics\[1\]: unknown metric 'not_a_metric'") as caught:
        run_suite(suite, ws, show_progress=False)
    assert "rougeL" in str(caught.value)  # the hint lists the available metrics
    assert _CreatedBackend.created == [] and not any(ws.runs_dir.iterdir())


def test_metric_settings_built_once_recorded_and_reused_by_compare(tmp_path: Path) -> None:
    from harness.compare import build_comparison, load_sources

    _register_prefix_metric()
    suite = _fake_suite(tmp_path, ["exact_match", {"test_prefix": {"prefix": "sal"}}])
    ws = Workspace.open(tmp_path / "ws")
    PREFIX_FACTORY_CALLS.clear()
    result = run_suite(suite, ws, show_progress=False)
    assert PREFIX_FACTORY_CALLS == ["sal"]  # built once for 2 candidates x 2 datasets
    summary = result.summary["candidates"]
    assert summary["tuned"]["test"]["test_prefix"]["mean"] == pytest.approx(6 / 8)  # "sales" 6 times in 8
    assert summary["base-zero"]["other"]["test_prefix"]["mean"] == 0.0
    entry = summary["tuned"]["test"]["test_prefix"]
    assert entry["method"] == "wilson"
    assert entry["ci"] == pytest.approx(list(proportion_confint(6, 8, method="wilson")), abs=1e-9)
    assert result.summary["skipped_metrics"] == []
    suite_json = json.loads((result.run_dir / "suite.json").read_text())
    assert suite_json["metrics"] == ["exact_match", {"test_prefix": {"prefix": "sal"}}]

    # compare re-scores a run whose scores files lack the metric with the run's recorded settings
    for scores in (result.run_dir / "scores").rglob("*.jsonl"):
        scores.unlink()
    PREFIX_FACTORY_CALLS.clear()
    candidates, metrics = load_sources([result.run_id], ws.root)
    assert metrics == ["exact_match", "test_prefix"] and set(PREFIX_FACTORY_CALLS) == {"sal"}
    report = build_comparison(candidates, metrics)
    row = next(r for r in report.ranking.comparisons if r.metric == "test_prefix" and r.dataset == "test")
    assert row.result.mean_a == pytest.approx(6 / 8) and row.result.mean_b == 0.0


def test_unknown_candidate_and_bad_limit(tmp_path: Path, tiny_model_dir: Path) -> None:
    from harness.errors import ConfigError

    write_eval_set(tmp_path, n_test=2)
    suite = load_suite(write_suite(tmp_path, _suite_text(tiny_model_dir)))
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(ConfigError, match="unknown candidate"):
        run_suite(suite, ws, candidates=["nope"])
    with pytest.raises(ConfigError, match="--limit"):
        run_suite(suite, ws, limit=0)


def test_registry_names_resolve_to_base_and_adapter(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    from harness.runs.resolve import resolve_candidate
    from harness.store.models import ModelRecord, register_model

    ws = Workspace.open(tmp_path / "ws")
    register_model(ws.engine, ModelRecord(name="lora-reg", path=str(tiny_lora_dir), base_model="tiny",
                                          base_model_path=str(tiny_model_dir), method="lora", adapter=True))
    write_eval_set(tmp_path, n_test=2)
    suite = load_suite(write_suite(tmp_path, (
        "name: reg\ndatasets: {test: test.jsonl}\ncandidates:\n  - {name: by-model, model: lora-reg}\n"
        f"  - {{name: by-adapter, model: {tiny_model_dir}, adapter: lora-reg}}\n"
        f"  - {{name: bad, model: {tiny_model_dir}, adapter: not-registered}}\n")))
    for index in (0, 1):
        resolved = resolve_candidate(suite, suite.candidates[index], ws, index)
        assert resolved.spec.model == str(tiny_model_dir) and resolved.spec.adapter == str(tiny_lora_dir)
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match=r"candidates\[2\].adapter: 'not-registered' is neither a folder"):
        resolve_candidate(suite, suite.candidates[2], ws, 2)
