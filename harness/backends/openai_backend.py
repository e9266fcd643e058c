"""The ``openai`` backend: any OpenAI-compatible chat endpoint (vLLM server, TGI, OpenAI) via httpx.

Requests run in a bounded thread pool (``options.concurrency``, default 8); each has a timeout
(``options.timeout_s``, default 60) and is retried with exponential backoff (``options.max_retries``,
default 3; ``options.backoff_s``, default 0.5, doubled each try, ``Retry-After`` honoured) on 429,
5xx, timeouts and connection errors. When the model still fails, ``fallback_model`` (same
endpoint, or ``options.fallback_base_url``) answers instead; the generation records which model
answered. Token counts come from the response's ``usage``. The API key is read from the
environment variable named by ``options.api_key_env`` (default ``OPENAI_API_KEY``; ``null`` sends no
key), if set. A key is never sent over plain ``http://`` except to a loopback address (127.0.0.0/8,
::1, localhost): :func:`check_key_transport` refuses it before any request.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.backends.base import (
    BackendCapabilities,
    BackendError,
    BackendSpec,
    Generation,
    GenerationRequest,
)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


def api_key_env(options: dict[str, Any]) -> str | None:
    """The environment variable the key is read from: ``options.api_key_env``, the default, or None (no key)."""
    if "api_key_env" not in options:
        return DEFAULT_API_KEY_ENV
    value = options["api_key_env"]
    return str(value) if value else None


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1, IPv4-mapped 127.x)."""
    import ipaddress

    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def check_key_transport(url: str | None, key_env: str | None, *, field: str = "base_url") -> None:
    """Raise :class:`BackendError` when the key in ``$key_env`` would travel unencrypted to ``url``.

    Plain ``http://`` is fine without a key, or to a loopback address (a local vLLM server, a test
    fake); anything else with a key must be ``https://``.
    """
    from urllib.parse import urlsplit

    if not url or not key_env or not os.environ.get(key_env):
        return
    parts = urlsplit(url)
    if parts.scheme.lower() == "https" or is_loopback(parts.hostname):
        return
    raise BackendError(
        f"{field} {url}: refusing to send the API key from ${key_env} over plain {parts.scheme or 'http'}:// to "
        f"{parts.hostname or url}, which is not a loopback address (anyone on the way could read the key)",
        hint=f"use an https:// {field}, or send no key: unset {key_env} (or set the candidate's "
             "options: {api_key_env: null})")


class _Attempt(Exception):
    """A failed try (status or transport error) that may be retried."""

    def __init__(self, message: str, *, retry: bool, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait_s = wait_s


class OpenAIBackend:
    """Chat completions over HTTP; see the module docstring for options."""

    name = "openai"
    # The server resolves its own model names and serves adapters under names of their own.
    capabilities = BackendCapabilities(local_models=False, adapters=False, needs_base_url=True)

    def __init__(self, spec: BackendSpec) -> None:
        import httpx

        if not spec.base_url:
            raise BackendError("the openai backend needs base_url", hint="e.g. base_url: http://127.0.0.1:8000/v1")
        self.spec = spec
        opts = spec.options
        self.concurrency = max(1, int(opts.get("concurrency", 8)))
        self.request_chunk = self.concurrency * 2
        self.timeout_s = float(opts.get("timeout_s", 60.0))
        self.max_retries = max(0, int(opts.get("max_retries", 3)))
        self.backoff_s = float(opts.get("backoff_s", 0.5))
        self.fallback_base_url = opts.get("fallback_base_url")
        self.check_spec(spec)
        key_env = api_key_env(opts)
        key = os.environ.get(key_env) if key_env else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers=headers, limits=limits)
        self.attempts = 0  # total HTTP tries, for reports and tests

    @classmethod
    def check_spec(cls, spec: BackendSpec) -> None:
        """Refuse a spec that would send the API key over plain http to a non-loopback host (see the module doc)."""
        key_env = api_key_env(spec.options)
        check_key_transport(spec.base_url, key_env)
        check_key_transport(spec.options.get("fallback_base_url"), key_env, field="options.fallback_base_url")

    @classmethod
    def fingerprint_of(cls, spec: BackendSpec) -> str:
        """sha256 of the served model name and endpoint (the weights are not visible over HTTP)."""
        return hashlib.sha256(f"openai|{spec.model}|{(spec.base_url or '').rstrip('/')}".encode()).hexdigest()

    @property
    def fingerprint(self) -> str:
        """See :meth:`fingerprint_of`."""
        return self.fingerprint_of(self.spec)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Answer every request concurrently (bounded); results are in request order."""
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self.generate_one, requests))

    def generate_one(self, request: GenerationRequest) -> Generation:
        """One request: the primary model with retries, then the fallback model if configured."""
        base_url = self.spec.base_url or ""
        try:
            return self._with_retries(request, self.spec.model, base_url)
        except BackendError as primary:
            if not self.spec.fallback_model:
                raise
            try:
                gen = self._with_retries(request, self.spec.fallback_model, self.fallback_base_url or base_url)
            except BackendError as fallback:
                raise BackendError(f"{primary.message}; fallback also failed: {fallback.message}") from None
            return Generation(text=gen.text, latency_s=gen.latency_s, prompt_tokens=gen.prompt_tokens,
                              completion_tokens=gen.completion_tokens, finish_reason=gen.finish_reason,
                              model=gen.model, extra={"fallback": True, "primary_error": primary.message})

    def _with_retries(self, request: GenerationRequest, model: str, base_url: str) -> Generation:
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                return self._post(request, model, base_url)
            except _Attempt as exc:
                last = str(exc)
                if not exc.retry or attempt == self.max_retries:
                    break
                # Exponential backoff with jitter so concurrent workers do not retry in lockstep.
                delay = exc.wait_s if exc.wait_s is not None else self.backoff_s * (2 ** attempt)
                time.sleep(min(delay, 60.0) * (1 + 0.1 * random.random()))
        raise BackendError(f"request {request.id} to {base_url} (model {model}) failed after "
                           f"{attempt + 1} tries: {last}", hint="check the server; rerun with --resume to continue")

    def _post(self, request: GenerationRequest, model: str, base_url: str) -> Generation:
        import httpx

        settings = self.spec.settings
        body: dict[str, Any] = {"model": model, "messages": list(request.messages),
                                "max_tokens": settings.max_new_tokens, "temperature": settings.temperature}
        if not settings.greedy:
            body.update(top_p=settings.top_p, seed=settings.seed)
        if settings.stop:
            body["stop"] = list(settings.stop)
        self.attempts += 1
        started = time.perf_counter()
        try:
            response = self._client.post(f"{base_url.rstrip('/')}/chat/completions", json=body)
        except httpx.TimeoutException:
            raise _Attempt(f"timed out after {self.timeout_s:g}s", retry=True) from None
        except httpx.TransportError as exc:
            raise _Attempt(f"connection error: {exc}", retry=True) from None
        latency = time.perf_counter() - started
        if response.status_code != 200:
            wait = _retry_after(response.headers.get("retry-after"))
            raise _Attempt(f"HTTP {response.status_code}: {response.text[:200]}",
                           retry=response.status_code in RETRY_STATUS, wait_s=wait)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Attempt(f"unexpected response body: {response.text[:200]}", retry=False) from None
        usage = data.get("usage") or {}
        return Generation(text=text, latency_s=latency, prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"), finish_reason=choice.get("finish_reason"),
                          model=data.get("model") or model)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
