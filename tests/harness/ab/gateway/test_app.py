"""The gateway app in process (FastAPI TestClient) over fake in-process backends."""

from __future__ import annotations

import time

import pytest

from harness.ab import control
from harness.ab.assignment import assign
from harness.store import gateway as store
from tests.harness.ab.gateway.fakes import gateway_config


def chat(client, unit: str, text: str = "hi", **body):  # -> httpx.Response
    return client.post("/v1/chat/completions", json={"model": "any", "user": unit,
                                                     "messages": [{"role": "user", "content": text}], **body})


def unit_in(variant: str, salt: str = "gw-test") -> str:
    weights = {"base": 0.5, "candidate": 0.5}
    return next(f"u{i}" for i in range(1000) if assign(f"u{i}", salt, weights) == variant)


def test_request_is_answered_by_the_assigned_variant_and_logged(make_client) -> None:
    client, ws = make_client(gateway_config())
    unit = unit_in("candidate")
    r = chat(client, unit, "hello", max_tokens=7)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "ok-cand|7|hello"
    assert r.headers["X-Harness-Variant"] == "candidate" and r.headers["X-Harness-Request"] == body["id"]
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    [row] = store.requests(ws.engine, "gw-test")
    assert (row.request_id, row.unit_id, row.variant, row.served_by, row.fallback, row.status) == (
        body["id"], unit, "candidate", "candidate", False, "ok")
    assert row.prompt_tokens == 10 and row.completion_tokens == 5 and row.latency_s > 0


def test_split_ratio_is_within_its_interval(make_client) -> None:
    import math

    client, ws = make_client(gateway_config())
    n = 1000
    served = [chat(client, f"ratio-{i}").headers["X-Harness-Variant"] for i in range(n)]
    share = served.count("candidate") / n
    assert abs(share - 0.5) < 3.3 * math.sqrt(0.25 / n)  # 99.9% binomial interval
    assert store.request_count(ws.engine, "gw-test") == n


def test_unit_from_header_and_sticky(make_client) -> None:
    client, _ws = make_client(gateway_config())
    seen = set()
    for _ in range(5):
        r = client.post("/v1/chat/completions", headers={"X-Harness-Unit": "alice"},
                        json={"messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200
        seen.add(r.headers["X-Harness-Variant"])
    assert seen == {assign("alice", "gw-test", {"base": 0.5, "candidate": 0.5})}


def test_prompt_block_is_prepended(make_client, fake_backends) -> None:
    config = gateway_config({"prompt": {"system": "be brief", "few_shot": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}})
    router_client, _ws = make_client(config)
    backend = router_client.app.state.router.backends["candidate"]
    assert backend._with_prompt([{"role": "user", "content": "z"}]) == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"}, {"role": "user", "content": "z"}]


@pytest.mark.parametrize(("candidate", "reason"), [({"model": "fail"}, "error"),
                                                   ({"model": "slow", "timeout_s": 0.2}, "timeout")])
def test_failing_or_slow_candidate_falls_back_to_control(make_client, candidate, reason) -> None:
    client, ws = make_client(gateway_config(candidate))
    unit = unit_in("candidate")
    started = time.perf_counter()
    r = chat(client, unit, "q")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].startswith("ok-base|")
    assert r.headers["X-Harness-Variant"] == "base" and r.headers["X-Harness-Fallback"] == "1"
    if reason == "timeout":
        assert time.perf_counter() - started < 1.5  # did not wait for the 2 s answer
    [row] = store.requests(ws.engine, "gw-test")
    assert row.variant == "candidate" and row.served_by == "base" and row.fallback
    assert row.fallback_reason.startswith(reason)


def test_circuit_breaker_skips_a_failing_candidate_then_recovers(make_client, fake_backends) -> None:
    config = gateway_config({"model": "switch"}, circuit_breaker={"failures": 3, "cooldown_s": 0.3})
    client, ws = make_client(config)
    unit = unit_in("candidate")
    fake_backends.broken.set()
    for _ in range(6):
        assert chat(client, unit).headers["X-Harness-Variant"] == "base"
    assert fake_backends.calls["switch"] == 3  # the last 3 never reached it
    assert client.get("/healthz").json()["circuits"]["candidate"] == "open"
    reasons = [r.fallback_reason.split(":")[0] for r in store.requests(ws.engine, "gw-test")]
    assert reasons == ["error"] * 3 + ["circuit_open"] * 3
    fake_backends.broken.clear()
    time.sleep(0.35)  # cooldown over: one trial request closes the circuit
    assert chat(client, unit).headers["X-Harness-Variant"] == "candidate"
    assert chat(client, unit).headers["X-Harness-Variant"] == "candidate"


def test_failing_control_is_a_502_and_an_error_row(make_client) -> None:
    from harness.ab.gateway.config import build_config

    config = build_config({"experiment": "gw-test", "control": "base", "variants": {
        "base": {"model": "fail", "weight": 0.5}, "candidate": {"model": "fail", "weight": 0.5}}})
    client, ws = make_client(config)
    r = chat(client, "u1")
    assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"
    [row] = store.requests(ws.engine, "gw-test")
    assert row.status == "error" and row.served_by is None and "fail is down" in row.fallback_reason


def test_kill_switch_and_stop_send_everyone_to_control_without_restart(make_client) -> None:
    client, ws = make_client(gateway_config(), state_ttl_s=0.0)
    unit = unit_in("candidate")
    assert chat(client, unit).headers["X-Harness-Variant"] == "candidate"
    control.kill(ws.engine, "gw-test")
    r = chat(client, unit)
    assert r.headers["X-Harness-Variant"] == "base" and r.headers["X-Harness-Assigned"] == ""
    control.kill(ws.engine, "gw-test", on=False)
    control.stop(ws.engine, "gw-test")
    assert chat(client, unit).headers["X-Harness-Variant"] == "base"
    control.start(ws.engine, "gw-test")
    assert chat(client, unit).headers["X-Harness-Variant"] == "candidate"
    # killed/stopped traffic is not an exposure (harness.ab.assignment's rule)
    assert [r.variant for r in store.requests(ws.engine, "gw-test")] == ["candidate", "candidate"]


def test_feedback_is_idempotent_and_unknown_ids_are_404(make_client) -> None:
    client, ws = make_client(gateway_config({"model": "fail"}))
    unit = unit_in("candidate")
    rid = chat(client, unit).json()["id"]  # a fallback: counts on the assigned variant
    fb = {"request_id": rid, "outcomes": {"thumbs_up": 1, "rating": 4.5}}
    first = client.post("/v1/feedback", json=fb)
    assert first.status_code == 200 and first.json()["recorded"] == 2
    again = client.post("/v1/feedback", json=fb)
    assert again.json()["recorded"] == 0 and again.json()["duplicates"] == 2
    by_unit = client.post("/v1/feedback", json={"unit_id": unit, "outcomes": {"resolved": 0}},
                          headers={"X-Harness-Time": "1700000000"})
    assert by_unit.json()["recorded"] == 1
    rows = store.outcomes(ws.engine, "gw-test")
    assert len(rows) == 3 and {r["variant"] for r in rows} == {"candidate"}
    assert [r["ts"] for r in rows if r["name"] == "resolved"] == [1700000000.0]
    assert store.outcome_names(ws.engine, "gw-test") == ["rating", "resolved", "thumbs_up"]
    for bad in ({"request_id": "chatcmpl-nope", "outcomes": {"x": 1}}, {"unit_id": "never", "outcomes": {"x": 1}}):
        r = client.post("/v1/feedback", json=bad)
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_id"


def test_client_time_header_sets_ts(make_client) -> None:
    client, ws = make_client(gateway_config())
    assert chat(client, "u1", headers=None).status_code == 200
    r = client.post("/v1/chat/completions", headers={"X-Harness-Time": "1600000000.5"},
                    json={"user": "u2", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200 and r.json()["created"] == 1600000000
    assert sorted(row.ts for row in store.requests(ws.engine, "gw-test"))[0] == 1600000000.5


def test_api_key_is_enforced(make_client, monkeypatch) -> None:
    monkeypatch.setenv("GW_KEY", "s3cret")
    client, _ws = make_client(gateway_config(api_key_env="GW_KEY"))
    assert chat(client, "u1").status_code == 401
    assert chat(client, "u1").json()["error"]["code"] == "invalid_api_key"
    assert client.post("/v1/chat/completions", headers={"Authorization": "Bearer wrong"},
                       json={"user": "u", "messages": [{"role": "user", "content": "x"}]}).status_code == 401
    for headers in ({"Authorization": "Bearer s3cret"}, {"X-API-Key": "s3cret"}):
        assert client.post("/v1/chat/completions", headers=headers,
                           json={"user": "u", "messages": [{"role": "user", "content": "x"}]}).status_code == 200
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(("payload", "param"), [
    (b"{not json", None),
    (b"[1, 2]", None),
    ({"user": "u"}, "messages"),
    ({"user": "u", "messages": []}, "messages"),
    ({"user": "u", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"user": "u", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "x"}]}, "user"),
    ({"user": "u", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, "max_tokens"),
    ({"user": "u", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
    ({"user": "u", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"user": "u", "messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
    ({"user": "u", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
])
def test_malformed_requests_get_openai_style_4xx(make_client, payload, param) -> None:
    client, ws = make_client(gateway_config())
    if isinstance(payload, bytes):
        r = client.post("/v1/chat/completions", content=payload, headers={"Content-Type": "application/json"})
    else:
        r = client.post("/v1/chat/completions", json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"] and error["param"] == param
    assert store.request_count(ws.engine, "gw-test") == 0


def test_unknown_route_and_method_are_json_errors(make_client) -> None:
    client, _ws = make_client(gateway_config())
    assert client.get("/v1/nope").json()["error"]["type"] == "not_found_error"
    assert client.get("/v1/chat/completions").status_code == 405
    bad_fb = client.post("/v1/feedback", json={"request_id": "x", "unit_id": "y", "outcomes": {"a": 1}})
    assert bad_fb.status_code == 400
    assert client.post("/v1/feedback", json={"request_id": "x", "outcomes": {"a": "high"}}).status_code in (400, 404)


def test_streaming_sends_one_chunk_then_done(make_client) -> None:
    client, _ws = make_client(gateway_config())
    r = chat(client, "u1", "s", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = [x for x in r.text.split("\n\n") if x]
    assert lines[-1] == "data: [DONE]" and '"content": "ok-' in lines[0]


def test_models_and_existing_experiment_checks(make_client, tmp_path) -> None:
    from harness.ab.gateway.app import ensure_experiment
    from harness.ab.gateway.config import build_config
    from harness.errors import ConfigError

    client, ws = make_client(gateway_config())
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["base", "candidate"]
    other = build_config({"experiment": "gw-test", "control": "base", "variants": {
        "base": {"model": "m", "weight": 0.5}, "treatment": {"model": "m", "weight": 0.5}}})
    with pytest.raises(ConfigError, match="variants"):
        ensure_experiment(ws.engine, other)
    with pytest.raises(ConfigError, match="salt"):
        ensure_experiment(ws.engine, gateway_config(salt="other"))


def test_event_writer_group_commits_and_fails_only_the_bad_row(tmp_path) -> None:
    import asyncio

    from harness.ab.gateway.events import EventWriter, RequestEvent
    from harness.store.ab import create_experiment
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "w2")
    exp = create_experiment(ws.engine, "ev", {"a": 0.5, "b": 0.5})
    RequestEvent("dup", "u0", "a", 1.0, 0.1, None, error="x").write(ws.engine, exp.id)
    writer = EventWriter(ws.engine, exp.id)

    async def burst() -> list:
        events = [RequestEvent(f"r{i}", f"u{i}", "a", 2.0 + i, 0.1, None, error="x") for i in range(50)]
        events.append(RequestEvent("dup", "u9", "b", 3.0, 0.1, None, error="x"))
        return await asyncio.gather(*(writer.write(e) for e in events), return_exceptions=True)

    try:
        results = asyncio.run(burst())
    finally:
        writer.close()
    assert results[:50] == [None] * 50 and isinstance(results[50], Exception)
    assert store.request_count(ws.engine, "ev") == 51
    ws.close()


def test_feedback_shares_the_writers_transactions(tmp_path) -> None:
    """Feedback posts are committed by the request writer, in the same batches: results per post."""
    import asyncio

    from harness.ab.gateway.events import EventWriter, FeedbackEvent, RequestEvent
    from harness.store.ab import create_experiment
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "w3")
    exp = create_experiment(ws.engine, "fb", {"a": 0.5, "b": 0.5})
    writer = EventWriter(ws.engine, exp.id)

    async def burst() -> list:
        # one batch: requests, feedback naming a request of the same batch, a repeat, unknown ids
        jobs = [writer.write(RequestEvent(f"r{i}", f"u{i}", "ab"[i % 2], 2.0 + i, 0.1, None, error="x"))
                for i in range(20)]
        jobs += [writer.feedback(FeedbackEvent({"thumbs_up": 1.0, "rating": 4.0}, f"r{i}", None, 30.0))
                 for i in range(20)]
        jobs += [writer.feedback(FeedbackEvent({"thumbs_up": 0.0}, "r3", None, 31.0)),  # a repeat: 0 new
                 writer.feedback(FeedbackEvent({"resolved": 1.0}, None, "u5", 32.0)),
                 writer.feedback(FeedbackEvent({"x": 1.0}, "missing", None, 33.0)),
                 writer.feedback(FeedbackEvent({"x": 1.0}, None, "nobody", 33.0))]
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        results = asyncio.run(burst())
    finally:
        writer.close()
    assert results[:20] == [None] * 20 and results[20:40] == [2] * 20 and results[40:42] == [0, 1]
    assert all(isinstance(r, store.UnknownRequestError) for r in results[42:])
    rows = store.outcomes(ws.engine, "fb")
    assert len(rows) == 41 and {r["variant"] for r in rows if r["request_id"] == "r3"} == {"b"}
    assert [r["value"] for r in rows if r["request_id"] == "r3" and r["name"] == "thumbs_up"] == [1.0]
    ws.close()


def test_a_timed_out_candidate_frees_its_model_for_the_next_request(make_client, fake_backends) -> None:
    client, ws = make_client(gateway_config({"model": "tokens", "timeout_s": 0.4}))
    unit = unit_in("candidate")
    started = time.perf_counter()
    first = chat(client, unit, "long")  # 3 s of generation: times out, the control answers
    assert first.headers["X-Harness-Variant"] == "base" and first.headers["X-Harness-Fallback"] == "1"
    assert time.perf_counter() - started < 1.5
    second_started = time.perf_counter()
    second = chat(client, unit, "short")  # the candidate's model is free again: it answers, at once
    assert second.headers["X-Harness-Variant"] == "candidate" and second.headers["X-Harness-Fallback"] == "0"
    assert time.perf_counter() - second_started < 0.4
    assert fake_backends.stopped == {"tokens": 1}  # the abandoned generation was stopped, not left running
    rows = store.requests(ws.engine, "gw-test")
    assert [(r.served_by, r.fallback) for r in rows] == [("base", True), ("candidate", False)]
    assert rows[0].fallback_reason.startswith("timeout")


def test_requests_queued_behind_a_busy_model_give_up_at_their_deadline(make_client, fake_backends) -> None:
    import threading

    from harness.ab.gateway.routing import VariantFailed
    from harness.backends.base import GenerationSettings

    client, _ws = make_client(gateway_config({"model": "tokens", "timeout_s": 5}))
    backend = client.app.state.router.backends["candidate"]
    settings = GenerationSettings(max_new_tokens=5)
    cancel = threading.Event()
    worker = threading.Thread(target=backend.generate, args=("r1", [{"role": "user", "content": "long"}], settings,
                                                              cancel))
    worker.start()
    time.sleep(0.1)  # r1 holds the model
    started = time.perf_counter()
    with pytest.raises(VariantFailed) as err:
        backend.generate("r2", [{"role": "user", "content": "short"}], settings, None, time.monotonic() + 0.2)
    assert err.value.reason == "timeout" and 0.15 < time.perf_counter() - started < 1.0
    assert fake_backends.calls["tokens"] == 1  # r2 never reached the model
    cancel.set()
    worker.join(timeout=2)
    assert not worker.is_alive() and fake_backends.stopped == {"tokens": 1}
