"""Chat completions to an OpenAI-compatible upstream from the gateway's event loop, over ``aiohttp``.

The gateway forwards one request per client request, in its event loop (no worker thread), over
keep-alive connections from a bounded pool (``aiohttp.TCPConnector(limit=...)``: callers beyond it
wait for a free connection). The ``aiohttp`` session belongs to the event loop that opens it: the
gateway opens it at startup (:meth:`UpstreamClient.open`, else on the first call) and closes it at
shutdown (:meth:`UpstreamClient.close`). A cancelled call (the variant's timeout) closes its
connection instead of returning it to the pool, so a late answer is never read as the next
request's. A POST is not retried by ``aiohttp``; this client retries it once when a *reused*
keep-alive connection turns out to have been closed or reset by the server before any byte of the answer.
The API key follows the ``openai`` backend's rules (:mod:`harness.backends.openai_backend`); a proxy
from ``HTTP(S)_PROXY`` is honoured unless ``NO_PROXY`` exempts the host.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from harness.backends.base import Generation, GenerationSettings
from harness.backends.openai_backend import api_key_env, check_key_transport
from harness.errors import HarnessError

MAX_BODY_BYTES = 64 * 1024 * 1024
#: Without a variant ``timeout_s`` a call still ends: no connection within this, no answer within ``READ_S``.
CONNECT_S, READ_S = 30.0, 600.0


class UpstreamError(HarnessError):
    """The upstream did not answer with a usable chat completion (transport error, HTTP status, bad body)."""


def request_body(model: str, messages: Sequence[dict[str, str]], settings: GenerationSettings) -> dict[str, Any]:
    """Return the chat-completions body the ``openai`` backend would send for these settings."""
    body: dict[str, Any] = {"model": model, "messages": list(messages), "max_tokens": settings.max_new_tokens,
                            "temperature": settings.temperature}
    if not settings.greedy:
        body.update(top_p=settings.top_p, seed=settings.seed)
    if settings.stop:
        body["stop"] = list(settings.stop)
    return body


async def _mark_reused(_session: object, context: SimpleNamespace, _params: object) -> None:
    if context.trace_request_ctx is not None:
        context.trace_request_ctx["reused"] = True


class UpstreamClient:
    """``POST {base_url}/chat/completions`` over a bounded keep-alive pool (see the module docstring).

    ``options`` are the variant's backend options (``api_key_env``); ``max_connections`` bounds the
    connections open at once. Raises :class:`UpstreamError` for a URL that is not ``http(s)://``.
    """

    def __init__(self, base_url: str, model: str, options: dict[str, Any] | None = None, *,
                 max_connections: int = 256) -> None:
        options = options or {}
        key_env = api_key_env(options)
        check_key_transport(base_url, key_env)
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"base_url {base_url!r}: expected http(s)://HOST[:PORT]/PATH")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_connections = max_connections
        key = os.environ.get(key_env) if key_env else None
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "harness-gateway", **({"Authorization": f"Bearer {key}"} if key else {})}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> aiohttp.ClientSession:
        """Return the session, made on first use in the running event loop (the gateway's startup).

        Raises :class:`UpstreamError` when called from another event loop than the one that opened it.
        """
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed:
            reuse = aiohttp.TraceConfig()
            reuse.on_connection_reuseconn.append(_mark_reused)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0),
                headers=self._headers, cookie_jar=aiohttp.DummyCookieJar(), proxy=_env_proxy(self.base_url),
                timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_S, sock_read=READ_S),
                trace_configs=[reuse])
            self._loop = loop
        elif loop is not self._loop:
            raise UpstreamError("the upstream client was opened in another event loop; open one per loop")
        return self._session

    async def chat(self, messages: Sequence[dict[str, str]], settings: GenerationSettings) -> Generation:
        """Return the upstream's answer to ``messages``; raises :class:`UpstreamError` when it fails."""
        started = time.perf_counter()
        status, body = await self.post("/chat/completions", request_body(self.model, messages, settings))
        latency = time.perf_counter() - started
        if status != 200:
            raise UpstreamError(f"HTTP {status}: {_excerpt(body)}")
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamError(f"unexpected response body: {_excerpt(body)}") from None
        return Generation(text=text, latency_s=latency, prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"), finish_reason=choice.get("finish_reason"),
                          model=data.get("model") or self.model)

    async def post(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST ``payload`` as JSON to ``{base_url}{path}``; returns the status and the body.

        Raises :class:`UpstreamError` when no complete HTTP response arrives.
        """
        session = self.open()
        data = json.dumps(payload, separators=(",", ":")).encode()
        url = self.base_url + path
        for attempt in (1, 2):
            trace: dict[str, bool] = {}
            try:
                async with session.post(url, data=data, headers=headers, allow_redirects=False,
                                        trace_request_ctx=trace) as resp:
                    return resp.status, await _read(resp)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # a stale keep-alive connection (closed, or reset, by the server before any byte of the
                # answer; "Can not write request body" when the close arrives as the request leaves):
                # once more on a new one
                if attempt == 1 and trace.get("reused"):
                    continue
                if isinstance(exc, aiohttp.ServerDisconnectedError):
                    raise UpstreamError(f"connection error: {exc}") from None
                raise UpstreamError(f"connection error: {type(exc).__name__}: {exc}") from None
            except aiohttp.ClientPayloadError as exc:
                raise UpstreamError(f"incomplete response: {exc}") from None
            except aiohttp.ClientResponseError as exc:  # the answer is not valid HTTP
                raise UpstreamError(f"invalid HTTP response: {exc.message}") from None
            except (aiohttp.ClientError, TimeoutError) as exc:  # TimeoutError: aiohttp's own limits only
                raise UpstreamError(f"connection error: {type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the session and its connections (in the loop that opened it); returns nothing."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


async def _read(resp: aiohttp.ClientResponse) -> bytes:
    """The response body, refusing one over ``MAX_BODY_BYTES``."""
    if resp.content_length is not None:
        if resp.content_length > MAX_BODY_BYTES:
            raise UpstreamError(f"response body too large (Content-Length {resp.content_length})")
        return await resp.read()
    chunks, total = [], 0
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise UpstreamError("response body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _env_proxy(url: str) -> str | None:
    """The proxy that ``HTTP(S)_PROXY``/``NO_PROXY`` give for ``url``, read once (``aiohttp``'s
    ``trust_env`` would read the environment and ``~/.netrc`` again on every request: ~0.8 ms each)."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    return None if not proxy or urllib.request.proxy_bypass(parts.hostname or "") else proxy


def _excerpt(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")
