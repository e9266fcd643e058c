"""The gateway as a real uvicorn server on 127.0.0.1, with two real backends: the tiny model in
process (control) and an OpenAI-compatible upstream server started by the test (candidate)."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from harness.ab.assignment import assign
from harness.store import gateway as store
from tests.harness.ab.gateway.fakes import GatewayServer
from tests.harness.backends.openai_server import TestServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
WEIGHTS = {"base": 0.5, "candidate": 0.5}


@pytest.fixture(scope="module")
def upstream(tiny_model_dir: Path) -> Iterator[TestServer]:
    with TestServer(tiny_model_dir) as running:
        yield running


@pytest.fixture
def gateway(tmp_path: Path, tiny_model_dir: Path, upstream: TestServer, monkeypatch: pytest.MonkeyPatch):
    """``gateway(candidate_model, **variant) -> (GatewayServer, workspace)`` (closed at the end)."""
    from harness.ab.gateway.app import create_app
    from harness.ab.gateway.config import build_config
    from harness.workspace import Workspace

    opened = []

    def start(candidate_model: str = "tiny", experiment: str = "srv", **extra):
        breaker = extra.pop("circuit_breaker", {"failures": 100, "cooldown_s": 60})
        api_key_env = extra.pop("api_key_env", None)
        config = build_config({
            "experiment": experiment, "control": "base", "circuit_breaker": breaker, "api_key_env": api_key_env,
            "generation": {"max_new_tokens": 2},
            "variants": {"base": {"model": str(tiny_model_dir), "weight": 0.5, "device": "cpu"},
                         "candidate": {"base_url": upstream.base_url, "model": candidate_model, "weight": 0.5,
                                       **extra}}})
        ws = Workspace.open(tmp_path / "ws")
        server = GatewayServer(create_app(config, ws)).__enter__()
        opened.append((server, ws))
        return server, ws

    yield start
    for server, ws in opened:
        server.__exit__(None, None, None)
        ws.close()


def post(url: str, unit: str, text: str = "hello", **kw) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", timeout=60, **kw,
                      json={"model": "x", "user": unit, "messages": [{"role": "user", "content": text}]})


def unit_in(variant: str, salt: str = "srv", skip: int = 0) -> str:
    return [f"u{i}" for i in range(2000) if assign(f"u{i}", salt, WEIGHTS) == variant][skip]


def test_split_ratio_stickiness_and_real_answers(gateway) -> None:
    server, ws = gateway()
    n = 100

    def one(i: int) -> tuple[str, str]:
        r = post(server.url, f"user-{i}")
        assert r.status_code == 200, r.text
        return f"user-{i}", r.headers["X-Harness-Variant"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        served = dict(pool.map(one, range(n)))
    share = Counter(served.values())["candidate"] / n
    assert abs(share - 0.5) < 3.3 * math.sqrt(0.25 / n)  # 99.9% binomial interval around 0.5
    for unit in list(served)[:10]:  # sticky: same unit, same variant
        assert post(server.url, unit, "again").headers["X-Harness-Variant"] == served[unit]
    rows = store.requests(ws.engine, "srv")
    assert len(rows) == n + 10 and all(r.status == "ok" and not r.fallback for r in rows)
    assert {r.served_by for r in rows} == {"base", "candidate"}
    assert all(r.completion_tokens and r.prompt_tokens and r.backend_latency_s > 0 for r in rows)


@pytest.mark.parametrize(("model", "extra", "reason"), [("always-500", {}, "error"),
                                                        ("sleepy", {"timeout_s": 0.5}, "timeout")])
def test_fallback_on_upstream_error_and_timeout(gateway, upstream, model, extra, reason) -> None:
    server, ws = gateway(model, **extra)
    started = time.perf_counter()
    r = post(server.url, unit_in("candidate"))
    assert r.status_code == 200 and r.headers["X-Harness-Variant"] == "base"
    assert r.json()["choices"][0]["message"]["role"] == "assistant"
    assert time.perf_counter() - started < 2.5  # sleepy takes 3 s: the timeout cut it short
    [row] = store.requests(ws.engine, "srv")
    assert (row.variant, row.served_by, row.fallback) == ("candidate", "base", True)
    assert row.fallback_reason.startswith(reason)


def test_circuit_breaker_stops_calling_a_failing_upstream(gateway, upstream) -> None:
    server, ws = gateway("always-500", circuit_breaker={"failures": 2, "cooldown_s": 60})
    before = upstream.state.calls["always-500"]
    for i in range(6):
        assert post(server.url, unit_in("candidate", skip=i)).headers["X-Harness-Variant"] == "base"
    assert upstream.state.calls["always-500"] - before == 2
    assert httpx.get(f"{server.url}/healthz").json()["circuits"]["candidate"] == "open"
    reasons = Counter(r.fallback_reason.split(":")[0] for r in store.requests(ws.engine, "srv"))
    assert reasons == {"error": 2, "circuit_open": 4}


def test_no_lost_events_under_concurrent_load(gateway) -> None:
    server, ws = gateway()

    def one(i: int) -> tuple[str, str]:
        r = post(server.url, f"load-{i}", f"q{i}")
        assert r.status_code == 200, r.text
        fb = httpx.post(f"{server.url}/v1/feedback", json={"request_id": r.json()["id"], "outcomes": {"ok": 1}})
        assert fb.status_code == 200 and fb.json()["recorded"] == 1
        return r.json()["id"], r.headers["X-Harness-Variant"]

    with ThreadPoolExecutor(max_workers=100) as pool:
        answered = dict(pool.map(one, range(100)))
    rows = {r.request_id: r for r in store.requests(ws.engine, "srv")}
    assert set(rows) == set(answered) and len(rows) == 100
    assert all(rows[rid].served_by == variant for rid, variant in answered.items())
    assert len(store.outcomes(ws.engine, "srv")) == 100


def test_official_openai_client_works_unchanged(gateway, monkeypatch) -> None:
    import openai

    monkeypatch.setenv("GW_SRV_KEY", "k-123")
    server, _ws = gateway(api_key_env="GW_SRV_KEY")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k-123", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="any", user="client-1", max_tokens=3, messages=[{"role": "user", "content": "hi"}])
    completion = raw.parse()
    assert completion.id == raw.headers["x-harness-request"] and completion.choices[0].message.role == "assistant"
    assert raw.headers["x-harness-variant"] in WEIGHTS and completion.usage.completion_tokens >= 1
    chunks = list(client.chat.completions.create(model="any", user="client-1", stream=True,
                                                 messages=[{"role": "user", "content": "hi"}]))
    assert chunks[-1].choices[0].finish_reason in ("stop", "length") and chunks[0].id.startswith("chatcmpl-")
    assert [m.id for m in client.models.list()] == ["base", "candidate"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0).chat.completions.create(
            model="any", user="u", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="any", messages=[{"role": "user", "content": "no unit id"}])


def test_harness_ab_serve_cli(tmp_path: Path, upstream: TestServer) -> None:
    import socket

    import yaml

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump({"experiment": "cli-exp", "control": "base", "variants": {
        "base": {"base_url": upstream.base_url, "model": "tiny", "weight": 0.5},
        "candidate": {"base_url": upstream.base_url, "model": "always-500", "weight": 0.5}}}))
    proc = subprocess.Popen([sys.executable, "-c", "from harness.cli import main; main()", "ab", "serve",
                             str(config), "--port", str(port), "--workspace", str(tmp_path / "ws")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        r = post(f"http://127.0.0.1:{port}", unit_in("candidate", salt="cli-exp"))
        assert r.status_code == 200 and r.headers["X-Harness-Variant"] == "base"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    try:
        [row] = store.requests(ws.engine, "cli-exp")
        assert row.fallback and row.served_by == "base"
    finally:
        ws.close()


def test_bad_config_is_a_clear_cli_error(cli, tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("experiment: e\ncontrol: nope\nvariants:\n  a: {model: m, weight: 0.5}\n  b: {model: m, weight: 0.5}\n")
    result = cli("ab", "serve", str(config))
    assert result.exit_code != 0 and "control 'nope'" in (result.stdout + result.stderr)
