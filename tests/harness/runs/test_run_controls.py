"""Run controls of the runner: --datasets, option overrides and the cache key, resume, timing, samples.

A fake local backend (no model is loaded) records the options it was built with and answers with a
fixed number of tokens, so every count and rate below is known exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import ClassVar

import pytest

from harness.backends.base import BackendCapabilities, Generation, register_backend
from harness.errors import ConfigError
from harness.runs.runner import run_suite
from harness.runs.suite import RunOverrides, Suite
from harness.workspace import Workspace
from tests.harness.backends._support import write_eval_set


class _LocalFake:
    """A local-model backend that loads nothing: records its options, answers with 3 tokens."""

    name = "fake-local-controls"
    capabilities = BackendCapabilities(adapters=False)
    built: ClassVar[list[dict]] = []
    requests: ClassVar[list[int]] = []
    fail_after: ClassVar[int | None] = None

    def __init__(self, spec) -> None:  # type: ignore[no-untyped-def]
        self.spec = spec
        self.request_chunk = 2
        _LocalFake.built.append(dict(spec.options))

    @staticmethod
    def fingerprint_of(spec) -> str:  # type: ignore[no-untyped-def]
        return "fake-local-" + hashlib.sha256(spec.model.encode()).hexdigest()[:8]

    @property
    def fingerprint(self) -> str:
        return self.fingerprint_of(self.spec)

    def generate(self, requests):  # type: ignore[no-untyped-def]
        if _LocalFake.fail_after is not None and sum(_LocalFake.requests) >= _LocalFake.fail_after:
            raise RuntimeError("killed")
        _LocalFake.requests.append(len(requests))
        time.sleep(0.05)  # generation_s well above its millisecond rounding
        return [Generation(f"answer {r.id}", 0.01, 10, 3, "length") for r in requests]

    def close(self) -> None:
        pass


class _RemoteFake(_LocalFake):
    name = "fake-remote-controls"
    capabilities = BackendCapabilities(local_models=False, adapters=False)


register_backend("fake-local-controls", _LocalFake)
register_backend("fake-remote-controls", _RemoteFake)


@pytest.fixture(autouse=True)
def _reset() -> None:
    _LocalFake.built.clear()
    _LocalFake.requests.clear()
    _LocalFake.fail_after = None


def _suite(tmp_path: Path, model: Path, *, options: dict | None = None) -> Suite:
    write_eval_set(tmp_path, n_test=5)
    (tmp_path / "other.jsonl").write_text((tmp_path / "test.jsonl").read_text())
    return Suite(name="controls", datasets={"test": str(tmp_path / "test.jsonl"), "other": str(tmp_path / "other.jsonl")},
                 candidates=[{"name": "local", "model": str(model), "backend": "fake-local-controls",
                              "options": options or {"batch_size": 4}},
                             {"name": "few", "model": str(model), "backend": "fake-local-controls",
                              "prompt": {"few_shot": 2, "from": str(tmp_path / "train.jsonl"), "seed": 7}},
                             {"name": "remote", "model": "served", "backend": "fake-remote-controls",
                              "options": {"batch_size": 4}}],
                 metrics=["exact_match"])


def test_datasets_flag_runs_only_those_and_rejects_unknown_names(tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    ws = Workspace.open(tmp_path / "ws")
    result = run_suite(suite, ws, datasets=["other"], candidates=["local"], show_progress=False)
    assert list(result.summary["candidates"]["local"]) == ["other"]
    assert [p.name for p in (result.run_dir / "predictions" / "local").iterdir()] == ["other.jsonl"]
    assert list(json.loads((result.run_dir / "manifest.json").read_text())["datasets"]) == ["other"]
    with pytest.raises(ConfigError, match="unknown dataset\\(s\\) ghost in suite controls") as caught:
        run_suite(suite, ws, datasets=["test", "ghost"], show_progress=False)
    assert caught.value.hint is not None and "test, other" in caught.value.hint


def test_overrides_reach_local_backends_only_and_only_dtype_changes_the_cache_key(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    ws = Workspace.open(tmp_path / "ws")
    first = run_suite(suite, ws, datasets=["test"], show_progress=False,
                      overrides=RunOverrides.from_flags(batch_size="auto", threads=2, device="auto"))
    # local candidates get the flags (device auto: left to the backend); the remote one keeps its options
    assert _LocalFake.built == [{"batch_size": "auto", "threads": 2}, {"batch_size": "auto", "threads": 2},
                                {"batch_size": 4}]
    assert first.generated == {"local": 5, "few": 5, "remote": 5}

    again = run_suite(suite, ws, datasets=["test"], show_progress=False,
                      overrides=RunOverrides.from_flags(batch_size="7", threads=1, device="cpu"))
    assert again.generated == {"local": 0, "few": 0, "remote": 0}  # batch size, threads, device: same cache key
    assert again.cached == {"local": 5, "few": 5, "remote": 5}

    half = run_suite(suite, ws, datasets=["test"], candidates=["local", "remote"], show_progress=False,
                     overrides=RunOverrides.from_flags(dtype="bfloat16"))
    assert half.generated == {"local": 5, "remote": 0}  # a set dtype is keyed (local only)
    auto = run_suite(suite, ws, datasets=["test"], candidates=["local"], show_progress=False,
                     overrides=RunOverrides.from_flags(dtype="auto"))
    assert auto.generated == {"local": 0}  # auto = the backend default = the unkeyed entry
    assert json.loads((half.run_dir / "manifest.json").read_text())["options"]["local"] == {
        "batch_size": 4, "dtype": "bfloat16"}


@pytest.mark.parametrize(("flags", "message"), [
    ({"batch_size": "0"}, "--batch-size: 0 is not a batch size; use a whole number >= 1 or 'auto'"),
    ({"batch_size": "many"}, "--batch-size: 'many' is not a batch size"),
    ({"threads": 0}, "--threads: 0 is not a thread count"),
    ({"device": "gpu"}, "--device: 'gpu' is not a device; use cpu, cuda, cuda:N or auto"),
    ({"dtype": "fp8"}, "--dtype: 'fp8' is not a dtype; use float32, bfloat16, float16, auto"),
])
def test_bad_flag_values_name_the_flag_and_the_choices(flags: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RunOverrides.from_flags(**flags)
    assert caught.value.message.startswith(message)


def test_suite_options_are_checked_on_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"candidates\[0\]\.options: .*batch_size: -1 is not a batch size"):
        Suite(name="s", datasets={"t": "t.jsonl"},
              candidates=[{"name": "a", "model": "m", "options": {"batch_size": -1}}])
    suite = Suite(name="s", datasets={"t": "t.jsonl"}, candidates=[
        {"name": "a", "model": "m", "options": {"batch_size": "auto", "threads": 2, "device": "cuda:1",
                                                "dtype": "half"}}])
    assert suite.candidates[0].options["batch_size"] == "auto"


def test_settings_hash_keeps_old_keys_without_dtype() -> None:
    import hashlib as h

    from harness.runs.suite import GenerationSpec, output_dtype

    gen = GenerationSpec(max_new_tokens=8)
    legacy = {"backend": "transformers", **gen.model_dump()}
    legacy.pop("seed")
    legacy.pop("top_p")
    assert gen.settings_hash("transformers") == h.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()
    assert gen.settings_hash("transformers", dtype="float16") != gen.settings_hash("transformers")
    assert output_dtype({"dtype": "half"}) == "float16" and output_dtype({"dtype": "auto"}) is None
    assert output_dtype({"batch_size": 3}) is None


def test_resume_allows_new_batch_size_and_names_a_changed_dataset_selection(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from harness.store.runs import get_run

    suite = _suite(tmp_path, tiny_model_dir)
    ws = Workspace.open(tmp_path / "ws")
    _LocalFake.fail_after = 2
    with pytest.raises(RuntimeError, match="killed"):
        run_suite(suite, ws, candidates=["local"], show_progress=False)
    failed = get_run(ws.engine, "latest")
    assert failed.status == "failed"

    with pytest.raises(ConfigError) as caught:
        run_suite(suite, ws, candidates=["local"], datasets=["test"], resume=True, show_progress=False)
    assert "--datasets (was test, other; now test) changed" in caught.value.message
    with pytest.raises(ConfigError, match=r"--dtype or a candidate's options changed"):
        run_suite(suite, ws, candidates=["local"], resume=True, show_progress=False,
                  overrides=RunOverrides(dtype="float16"))

    _LocalFake.fail_after = None
    _LocalFake.requests.clear()
    resumed = run_suite(suite, ws, candidates=["local"], resume=True, show_progress=False,
                        overrides=RunOverrides(batch_size=1, threads=1))
    assert resumed.resumed and resumed.run_id == failed.id
    assert sum(_LocalFake.requests) == 3 and resumed.cached == {"local": 2}  # 5 distinct prompts, 2 kept
    assert get_run(ws.engine, failed.id).status == "completed"


def test_timing_in_result_json_and_manifest(tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    ws = Workspace.open(tmp_path / "ws")
    result = run_suite(suite, ws, candidates=["local", "remote"], show_progress=False)
    timing = result.as_dict()["timing"]
    assert timing == json.loads((result.run_dir / "manifest.json").read_text())["timing"]
    local = timing["candidates"]["local"]
    assert local["generated"] == 5 and local["generated_tokens"] == 15  # test and other share their 5 prompts
    assert local["examples_per_s"] == pytest.approx(5 / local["generation_s"], rel=0.01)
    assert local["tokens_per_s"] == pytest.approx(15 / local["generation_s"], rel=0.01)
    assert timing["generated"] == 10 and timing["generated_tokens"] == 30
    assert timing["generation_s"] == pytest.approx(local["generation_s"] + timing["candidates"]["remote"]["generation_s"],
                                                   abs=0.002)
    assert timing["wall_s"] >= timing["generation_s"] + timing["scoring_s"] - 0.002

    cached = run_suite(suite, ws, candidates=["local"], show_progress=False).as_dict()["timing"]
    assert cached["generated"] == 0 and cached["generation_s"] == 0.0
    assert cached["examples_per_s"] is None and cached["tokens_per_s"] is None

    from harness.runs.timing import describe

    assert describe(timing).startswith(f"wall {timing['wall_s']:.1f} s, generation {timing['generation_s']:.1f} s (")
    assert describe(cached).endswith("(nothing generated: all cached)")


def test_run_folder_keeps_prompts_and_few_shot_ids(tmp_path: Path, tiny_model_dir: Path) -> None:
    from harness.runs.prompts import build_messages, load_dataset, prompt_hash

    suite = _suite(tmp_path, tiny_model_dir)
    ws = Workspace.open(tmp_path / "ws")
    result = run_suite(suite, ws, candidates=["local", "few"], datasets=["test"], show_progress=False)
    prompts = {}
    for line in (result.run_dir / "prompts.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert prompt_hash(row["messages"]) == row["prompt_hash"]
        prompts[row["prompt_hash"]] = row["messages"]
    assert len(prompts) == 10  # 5 zero-shot + 5 few-shot prompts

    # the draw the prompt recipe makes: seed 7, 2 examples of train.jsonl
    pool = load_dataset(tmp_path / "train.jsonl")
    drawn = random.Random(7).sample(pool, 2)
    expected_ids = [item.id for item in drawn]
    assert json.loads((result.run_dir / "manifest.json").read_text())["few_shot_ids"] == {"few": expected_ids}
    items = {item.id: item for item in load_dataset(tmp_path / "test.jsonl")}
    for cand, ids in (("local", []), ("few", expected_ids)):
        lines = [json.loads(x) for x in (result.run_dir / "predictions" / cand / "test.jsonl").read_text().splitlines()]
        assert len(lines) == 5
        for line in lines:
            assert line["few_shot_ids"] == ids
            shots = [t for d in drawn for t in (*[m for m in d.context if m["role"] != "system"],
                                                 {"role": "assistant", "content": d.reference})] if ids else []
            messages = build_messages(items[line["id"]], system=None, shots=shots)
            assert prompts[line["prompt_hash"]] == messages


def test_few_shot_ids_are_those_of_the_draw_even_when_the_file_changes_later(tmp_path: Path) -> None:
    """The ids come from the draw itself, not from matching the turns against the file afterwards."""
    from harness.runs.prompts import draw_few_shot, load_dataset, sample_few_shot, shot_turns

    write_eval_set(tmp_path, n_train=6, n_test=1)
    path = tmp_path / "train.jsonl"
    drawn = sample_few_shot(path, 3, seed=5)
    assert [item.id for item in drawn] == [item.id for item in random.Random(5).sample(load_dataset(path), 3)]
    assert shot_turns(drawn) == draw_few_shot(path, 3, seed=5)
    assert sample_few_shot(path, 0, seed=5) == []
