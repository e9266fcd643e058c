"""The openai backend against a real HTTP server on 127.0.0.1 (FastAPI + uvicorn + the tiny model)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.base import BackendError, BackendSpec, GenerationRequest, GenerationSettings
from harness.backends.openai_backend import OpenAIBackend
from harness.backends.transformers_backend import TransformersBackend
from tests.harness.backends.openai_server import TestServer

MESSAGES = [
    ({"role": "user", "content": "Ada moved to Paris."},),
    ({"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Bob moved to Rome today please"}),
    ({"role": "user", "content": "Eve"},),
]


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[TestServer]:
    with TestServer(tiny_model_dir, think_s=0.05) as running:
        yield running


def _backend(server: TestServer, model: str = "tiny", **options: object) -> OpenAIBackend:
    opts = {"timeout_s": 5.0, "max_retries": 2, "backoff_s": 0.01, **options}
    fallback = opts.pop("fallback_model", None)
    return OpenAIBackend(BackendSpec(model=model, base_url=server.base_url, fallback_model=fallback,  # type: ignore[arg-type]
                                     settings=GenerationSettings(max_new_tokens=10), options=opts))


def _requests() -> list[GenerationRequest]:
    return [GenerationRequest(id=str(i), messages=m) for i, m in enumerate(MESSAGES)]


def test_answers_match_local_generation_with_usage(server: TestServer, tiny_model_dir: Path) -> None:
    got = _backend(server).generate(_requests())
    local = TransformersBackend(BackendSpec(model=str(tiny_model_dir), settings=GenerationSettings(max_new_tokens=10)))
    expected = local.generate(_requests())
    assert [g.text for g in got] == [g.text for g in expected]
    assert [g.prompt_tokens for g in got] == [g.prompt_tokens for g in expected]
    assert [g.completion_tokens for g in got] == [g.completion_tokens for g in expected]
    assert [g.finish_reason for g in got] == [g.finish_reason for g in expected]
    # the server thinks for think_s=0.05 before answering: the latency covers the round trip
    assert all(g.model == "tiny" and g.latency_s >= 0.05 for g in got)


def test_concurrency_is_bounded(server: TestServer) -> None:
    server.state.peak_in_flight = 0
    requests = [GenerationRequest(id=str(i), messages=({"role": "user", "content": f"hi {i}"},)) for i in range(12)]
    started = time.perf_counter()
    _backend(server, concurrency=3).generate(requests)
    assert server.state.peak_in_flight == 3
    assert time.perf_counter() - started < 12 * 0.05 * 2  # really concurrent, not one by one


def test_retries_5xx_and_429_with_backoff(server: TestServer) -> None:
    backend = _backend(server, "flaky")
    got = backend.generate(_requests()[:1])
    assert backend.attempts == 3  # 503, 503, 200
    assert got[0].text == _backend(server).generate(_requests()[:1])[0].text  # the answer of the third try
    limited = _backend(server, "rate-limited")
    limited.generate(_requests()[:1])
    assert limited.attempts == 2


def test_500_exhausts_retries_then_fallback_answers(server: TestServer) -> None:
    backend = _backend(server, "always-500")
    with pytest.raises(BackendError, match=r"HTTP 500.*failed|failed after 3 tries: HTTP 500"):
        backend.generate(_requests()[:1])
    assert backend.attempts == 3
    with_fallback = _backend(server, "always-500", fallback_model="tiny")
    got = with_fallback.generate(_requests()[:2])
    assert [g.model for g in got] == ["tiny", "tiny"]
    assert all(g.extra["fallback"] and "HTTP 500" in g.extra["primary_error"] for g in got)


def test_client_errors_are_not_retried(server: TestServer) -> None:
    backend = _backend(server, "bad-request")
    with pytest.raises(BackendError, match="HTTP 400"):
        backend.generate(_requests()[:1])
    assert backend.attempts == 1


def test_timeout_is_retried_then_reported(server: TestServer) -> None:
    backend = _backend(server, "sleepy", timeout_s=0.3, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(BackendError, match=r"timed out after 0.3s"):
        backend.generate(_requests()[:1])
    elapsed = time.perf_counter() - started
    assert backend.attempts == 2 and 0.6 <= elapsed < 2.5
    rescued = _backend(server, "sleepy", timeout_s=0.3, max_retries=0, fallback_model="tiny")
    assert rescued.generate(_requests()[:1])[0].model == "tiny"


def test_unreachable_server_is_a_clear_error() -> None:
    backend = OpenAIBackend(BackendSpec(model="m", base_url="http://127.0.0.1:9/v1",
                                        options={"max_retries": 1, "backoff_s": 0.01, "timeout_s": 1}))
    with pytest.raises(BackendError, match="connection error"):
        backend.generate(_requests()[:1])


def test_suite_runs_through_openai_backend(server: TestServer, tiny_model_dir: Path, tmp_path: Path) -> None:
    from harness.runs.runner import run_suite
    from harness.runs.suite import load_suite
    from harness.workspace import Workspace
    from tests.harness.backends._support import write_eval_set, write_suite

    write_eval_set(tmp_path, n_test=4)
    suite = load_suite(write_suite(tmp_path, (
        "name: api\ndatasets: {test: test.jsonl}\ngeneration: {max_new_tokens: 10}\n"
        f"candidates:\n  - {{name: api, backend: openai, base_url: '{server.base_url}', model: tiny}}\n"
        f"  - {{name: local, model: {tiny_model_dir}}}\n"
        "metrics: [exact_match]\npricing: {tiny: {input_per_1k: 0.001, output_per_1k: 0.002}}\n")))
    ws = Workspace.open(tmp_path / "ws")
    result = run_suite(suite, ws, show_progress=False)
    assert result.generated == {"api": 4, "local": 4}
    import json

    api = [json.loads(x) for x in (result.run_dir / "predictions/api/test.jsonl").read_text().splitlines()]
    local = [json.loads(x) for x in (result.run_dir / "predictions/local/test.jsonl").read_text().splitlines()]
    assert [a["prediction"] for a in api] == [b["prediction"] for b in local]
    assert api[0]["cost"] == pytest.approx(api[0]["prompt_tokens"] * 1e-6 + api[0]["completion_tokens"] * 2e-6)
    again = run_suite(suite, ws, show_progress=False)
    assert again.generated == {"api": 0, "local": 0}
