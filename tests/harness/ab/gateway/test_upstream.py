"""The gateway's upstream client (``aiohttp``) against a raw HTTP server that answers exactly as each test
scripts it, and its session's life in the gateway app and the router."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.ab.gateway.upstream import UpstreamClient, UpstreamError, request_body
from harness.backends.base import GenerationSettings
from harness.errors import HarnessError

COMPLETION = {"id": "x", "model": "served-name", "choices": [{"index": 0, "message": {"role": "assistant",
              "content": "hi there"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
MESSAGES = [{"role": "user", "content": "hello"}]
BODY = json.dumps(COMPLETION).encode()
RESET = b"<reset>"


def _response(body: bytes, *, status: str = "200 OK", extra: str = "", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _chunked(body: bytes) -> bytes:
    parts = [body[:10], body[10:]]
    chunks = b"".join(f"{len(p):x};ext=1\r\n".encode() + p + b"\r\n" for p in parts)
    return _response(chunks + b"0\r\nX-Trailer: 1\r\n\r\n", extra="Transfer-Encoding: chunked\r\n", length=False)


class RawServer:
    """Answers request ``i`` on any connection with ``script(i, request)``: bytes, a float (answer after that
    many seconds), None (close the connection without answering) or ``RESET`` (reset it: TCP RST)."""

    def __init__(self, script: Callable[[int, dict[str, Any]], bytes | float | None]) -> None:
        self.script, self.requests, self.connections = script, [], 0
        self.in_flight = self.max_in_flight = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                self.requests.append({"line": lines[0], "headers": headers, "body": body})
                answer = self.script(len(self.requests) - 1, self.requests[-1])
                if answer is None:
                    break
                if answer is RESET:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                if isinstance(answer, float):  # a slow answer
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    try:
                        await asyncio.sleep(answer)
                    finally:
                        self.in_flight -= 1
                    answer = _response(BODY)
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def _run(script, calls: Callable[[UpstreamClient], Any], *, max_connections: int = 256,
         **options: Any) -> tuple[Any, RawServer]:
    server = RawServer(script)

    async def main() -> Any:
        async with server as url:
            client = UpstreamClient(url, "m", options or {"api_key_env": None}, max_connections=max_connections)
            try:
                return await calls(client)
            finally:
                await client.close()

    return asyncio.run(main()), server


def test_keep_alive_content_length_chunked_and_close_delimited_answers() -> None:
    settings = GenerationSettings(max_new_tokens=5, temperature=0.7, top_p=0.9, seed=3, stop=("\n",))
    close_delimited = _response(BODY, extra="Connection: close\r\n", length=False)
    answers = [_response(BODY), _chunked(BODY), _response(BODY), close_delimited, _response(BODY)]

    async def five(client: UpstreamClient) -> list:
        return [await client.chat(MESSAGES, settings) for _ in range(5)]

    gens, server = _run(lambda i, _r: answers[i], five)
    assert [g.text for g in gens] == ["hi there"] * 5
    assert gens[0].prompt_tokens == 7 and gens[0].completion_tokens == 2 and gens[0].model == "served-name"
    assert gens[0].finish_reason == "stop" and gens[0].latency_s > 0
    assert server.connections == 2  # one keep-alive connection until the server closed it after answer 3
    first = server.requests[0]
    assert first["line"] == "POST /v1/chat/completions HTTP/1.1" and "authorization" not in first["headers"]
    assert first["body"] == request_body("m", MESSAGES, settings) == {
        "model": "m", "messages": MESSAGES, "max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "seed": 3,
        "stop": ["\n"]}


def test_a_reused_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    # request 0 answered and kept; the server then drops the connection without answering request 1
    answers = {0: _response(BODY), 1: None, 2: _response(BODY)}

    async def two(client: UpstreamClient) -> list:
        first = await client.chat(MESSAGES, GenerationSettings())
        return [first, await client.chat(MESSAGES, GenerationSettings())]

    gens, server = _run(lambda i, _r: answers[i], two)
    assert [g.text for g in gens] == ["hi there"] * 2 and server.connections == 2 and len(server.requests) == 3


def test_a_reused_connection_the_server_reset_is_retried_once_but_a_new_one_is_not() -> None:
    answers = {0: _response(BODY), 1: RESET, 2: _response(BODY)}

    async def two(client: UpstreamClient) -> list:
        first = await client.chat(MESSAGES, GenerationSettings())
        return [first, await client.chat(MESSAGES, GenerationSettings())]

    gens, server = _run(lambda i, _r: answers[i], two)
    assert [g.text for g in gens] == ["hi there"] * 2 and server.connections == 2 and len(server.requests) == 3

    async def one(client: UpstreamClient) -> None:
        with pytest.raises(UpstreamError, match="connection error: ClientOSError"):
            await client.chat(MESSAGES, GenerationSettings())

    _, server = _run(lambda i, _r: RESET, one)
    assert len(server.requests) == 1


def test_a_new_connection_closed_without_an_answer_is_not_retried() -> None:
    async def one(client: UpstreamClient) -> None:
        with pytest.raises(UpstreamError, match="connection error"):
            await client.chat(MESSAGES, GenerationSettings())

    _, server = _run(lambda i, _r: None, one)
    assert len(server.requests) == 1  # a chat completion is not idempotent: sent once


@pytest.mark.parametrize(("answer", "match", "reused"), [
    (_response(b'{"error": "boom"}', status="500 Internal Server Error"), "HTTP 500: .*boom", True),
    (_response(b'{"choices": []}'), "unexpected response body", True),
    (_response(b"not json"), "unexpected response body", True),
    (b"garbage\r\n\r\n", "invalid HTTP response: Bad status line", False),
    # the server sends part of the body and closes the connection
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 50\r\n\r\n{}", "incomplete response", False),
])
def test_failures_are_upstream_errors_and_leave_the_pool_usable(answer: bytes, match: str, reused: bool) -> None:
    async def failed_then_ok(client: UpstreamClient) -> Any:
        with pytest.raises(UpstreamError, match=match):
            await asyncio.wait_for(client.chat(MESSAGES, GenerationSettings()), 5)
        return await client.chat(MESSAGES, GenerationSettings())

    gen, server = _run(lambda i, _r: answer if i == 0 else _response(BODY), failed_then_ok)
    # a complete answer keeps its connection; a broken one is closed, never reused
    assert gen.text == "hi there" and server.connections == (1 if reused else 2)


def test_a_cancelled_call_closes_its_connection() -> None:
    async def slow_then_fast(client: UpstreamClient) -> Any:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.chat(MESSAGES, GenerationSettings()), 0.2)
        return await client.chat(MESSAGES, GenerationSettings())

    # the late answer to request 0 must not be read as request 1's: request 1 goes on a new connection
    gen, server = _run(lambda i, _r: 1.0 if i == 0 else _response(BODY, extra="X-Answer: 1\r\n"), slow_then_fast)
    assert gen.text == "hi there" and server.connections == 2 and len(server.requests) == 2


def test_the_pool_bounds_the_connections_open_at_once() -> None:
    async def six(client: UpstreamClient) -> list:
        return await asyncio.gather(*(client.chat(MESSAGES, GenerationSettings()) for _ in range(6)))

    gens, server = _run(lambda i, _r: 0.1, six, max_connections=2)
    assert len(gens) == 6 and server.connections == 2 and server.max_in_flight == 2


def test_the_api_key_is_sent_to_loopback_and_refused_over_plain_http_elsewhere(monkeypatch) -> None:
    monkeypatch.setenv("GW_KEY", "sk-test")

    async def one(client: UpstreamClient) -> Any:
        return await client.chat(MESSAGES, GenerationSettings())

    _, server = _run(lambda i, _r: _response(BODY), one, api_key_env="GW_KEY")
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-test"
    with pytest.raises(HarnessError, match="refusing to send the API key"):
        UpstreamClient("http://example.com/v1", "m", {"api_key_env": "GW_KEY"})
    with pytest.raises(UpstreamError, match="expected http"):
        UpstreamClient("ftp://example.com/v1", "m", {"api_key_env": None})


@pytest.mark.parametrize("no_proxy", ["", "upstream.invalid"])
def test_a_proxy_from_the_environment_is_used_unless_no_proxy_exempts_the_host(monkeypatch, no_proxy: str) -> None:
    server = RawServer(lambda i, _r: _response(BODY))

    async def main() -> Any:
        async with server as url:
            monkeypatch.setenv("HTTP_PROXY", url.removesuffix("/v1"))
            monkeypatch.setenv("NO_PROXY", no_proxy)
            client = UpstreamClient("http://upstream.invalid:8000/v1", "m", {"api_key_env": None})
            try:
                return await client.chat(MESSAGES, GenerationSettings())
            finally:
                await client.close()

    if no_proxy:  # straight to upstream.invalid, which does not resolve
        with pytest.raises(UpstreamError, match="connection error"):
            asyncio.run(main())
        assert server.requests == []
    else:
        assert asyncio.run(main()).text == "hi there"
        assert server.requests[0]["line"] == "POST http://upstream.invalid:8000/v1/chat/completions HTTP/1.1"


def test_connection_refused_is_an_upstream_error() -> None:
    async def main() -> None:
        client = UpstreamClient("http://127.0.0.1:9/v1", "m", {"api_key_env": None})
        with pytest.raises(UpstreamError, match="connection error"):
            await client.chat(MESSAGES, GenerationSettings())
        await client.close()

    asyncio.run(main())


def test_the_session_belongs_to_the_loop_that_opened_it() -> None:
    client = UpstreamClient("http://127.0.0.1:9/v1", "m", {"api_key_env": None})

    async def open_it() -> Any:
        return client.open()

    session = asyncio.run(open_it())
    assert not session.closed
    with pytest.raises(UpstreamError, match="another event loop"):
        asyncio.run(open_it())

    async def close_it() -> None:
        await client.close()

    asyncio.run(close_it())  # closing needs no particular loop once nothing is in flight
    assert session.closed and asyncio.run(open_it()) is not session  # reopened in the new loop
    asyncio.run(close_it())


def _upstream_config(url: str, timeout_s: float) -> Any:
    from harness.ab.gateway.config import build_config

    return build_config({"experiment": "up-test", "control": "base", "variants": {
        "base": {"base_url": url, "model": "fast", "weight": 0.5},
        "candidate": {"base_url": url, "model": "slow", "weight": 0.5, "timeout_s": timeout_s}}})


def test_a_variant_timeout_falls_back_and_leaves_the_pool_usable() -> None:
    from harness.ab.gateway.routing import Router

    server = RawServer(lambda i, r: 1.0 if r["body"]["model"] == "slow" else _response(BODY))

    async def main() -> list:
        async with server as url:
            router = Router(_upstream_config(url, 0.2), None)
            router.load()
            router.start()
            try:
                served = [await router.serve("candidate", f"r{i}", MESSAGES, GenerationSettings()) for i in range(2)]
                return [*served, await router.serve("base", "r2", MESSAGES, GenerationSettings())]
            finally:
                await router.aclose()

    served = asyncio.run(main())
    assert [(s.served_by, s.fallback) for s in served] == [("base", True), ("base", True), ("base", False)]
    assert served[0].fallback_reason.startswith("timeout: variant 'candidate' exceeded its timeout of 0.2s")
    assert [r["body"]["model"] for r in server.requests] == ["slow", "fast", "slow", "fast", "fast"]
    # each timed-out call closed its connection; the control's answers came on the connections left
    assert all(s.generation.text == "hi there" for s in served) and server.connections == 3


def test_the_gateway_opens_the_upstream_session_at_startup_and_closes_it_at_shutdown(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from harness.ab.gateway.app import create_app
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    app = create_app(_upstream_config("http://127.0.0.1:9/v1", 1.0), ws)
    try:
        with TestClient(app) as client:
            upstream = app.state.router.backends["candidate"]._upstream
            session = upstream._session
            assert session is not None and not session.closed  # made in the server's loop at startup
            r = client.post("/v1/chat/completions", json={"user": "u1", "messages": MESSAGES})
            assert r.status_code == 502 and "connection error" in r.json()["error"]["message"]
        assert session.closed and app.state.router.backends["candidate"]._upstream is None
    finally:
        ws.close()
