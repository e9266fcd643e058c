"""Sending a request to a variant's backend: timeouts, fallback to the control, a circuit breaker.

Each variant has one backend: in process (``transformers``, the model resolved with
:func:`harness.models.names.resolve_model`: alias, folder, registered model or adapter) or an
OpenAI-compatible upstream (``base_url``), called from the event loop over keep-alive connections
(:mod:`harness.ab.gateway.upstream`). In-process generation blocks, so it runs in a worker thread;
an in-process model answers one request at a time (one lock per model). A non-control
variant that errors, exceeds its ``timeout_s`` or has an open circuit is answered by the control
instead (:class:`Served` records the fallback and why); only a failing control is an error.

A timeout frees the model: a request waits for the model's lock only until its deadline, and a
generation whose request timed out is stopped at its next token (the backend's ``should_stop``),
so an abandoned request neither queues for the model nor keeps it busy for the next ones; an
upstream call that times out is cancelled and its connection closed. Upstream sessions live in the
server's event loop: :meth:`Router.start` opens them at startup and :meth:`Router.aclose` closes them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.ab.gateway.config import GatewayConfig, Variant
from harness.errors import HarnessError

#: Connections open at once to one variant's upstream (bounds its requests in flight).
UPSTREAM_CONNECTIONS = 256

if TYPE_CHECKING:
    from harness.ab.gateway.upstream import UpstreamClient
    from harness.backends.base import Backend, Generation, GenerationSettings
    from harness.workspace import Workspace


class VariantFailed(HarnessError):
    """A variant could not answer (backend error or timeout); ``reason`` is short: ``error``/``timeout``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker: ``failures`` in a row open it for ``cooldown_s``.

    After the cooldown one request is let through (half open): a success closes the circuit, a
    failure opens it again for another cooldown. ``clock`` is injectable for tests.
    """

    failures: int
    cooldown_s: float
    clock: Callable[[], float] = time.monotonic
    consecutive: int = 0
    open_until: float = 0.0
    trips: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """True when a request may go to the variant (closed, or the cooldown is over)."""
        with self._lock:
            if self.consecutive < self.failures:
                return True
            if self.clock() >= self.open_until:  # half open: let this one through, hold the others
                self.open_until = self.clock() + self.cooldown_s
                return True
            return False

    def record(self, ok: bool) -> None:
        """Count one result; returns nothing."""
        with self._lock:
            if ok:
                self.consecutive = 0
                return
            self.consecutive += 1
            if self.consecutive >= self.failures:
                if self.consecutive == self.failures:
                    self.trips += 1
                self.open_until = self.clock() + self.cooldown_s

    @property
    def is_open(self) -> bool:
        """True while requests are being skipped."""
        with self._lock:
            return self.consecutive >= self.failures and self.clock() < self.open_until


@dataclass(frozen=True)
class Served:
    """How a request was answered: the generation, the variant that answered and any fallback."""

    generation: Generation
    served_by: str
    fallback: bool = False
    fallback_reason: str | None = None


class VariantBackend:
    """One variant's backend, built lazily, with per-request decoding settings and a timeout."""

    def __init__(self, name: str, variant: Variant, config: GatewayConfig, workspace: Workspace | None) -> None:
        self.name = name
        self.variant = variant
        self.config = config
        self.workspace = workspace
        self._backend: Backend | None = None  # in process
        self._upstream: UpstreamClient | None = None
        self._build_lock = threading.Lock()
        self._model_lock = threading.Lock()  # in-process: one generation at a time per model

    @property
    def defaults(self) -> Any:
        """The variant's generation defaults (its own block, else the gateway's)."""
        return self.variant.generation or self.config.generation

    def _get(self, settings: GenerationSettings) -> Backend:
        from harness.backends.base import BackendSpec, create_backend
        from harness.models.names import resolve_model

        with self._build_lock:
            if self._backend is None:
                v = self.variant
                ref = resolve_model(v.model, workspace=self.workspace, base_dir=self.config.base_dir)
                spec = BackendSpec(model=ref.model, adapter=ref.adapter, settings=settings,
                                   options={"device": v.device} if v.device else {})
                self._backend = create_backend("transformers", spec)
            return self._backend

    def upstream(self) -> UpstreamClient:
        """The upstream client of an upstream variant (made on first use)."""
        from harness.ab.gateway.upstream import UpstreamClient

        if self._upstream is None:
            v = self.variant
            options = {"api_key_env": v.api_key_env} if v.api_key_env else {}
            try:
                self._upstream = UpstreamClient(v.base_url or "", v.model, options,
                                                max_connections=UPSTREAM_CONNECTIONS)
            except HarnessError as exc:
                raise VariantFailed(f"variant {self.name!r}: {exc.message}", reason="error") from None
        return self._upstream

    def load(self) -> None:
        """Build the backend and, in process, load the model now (not on the first request); returns nothing."""
        from harness.backends.base import GenerationSettings

        if self.variant.upstream:
            self.upstream()
            return
        backend = self._get(GenerationSettings(max_new_tokens=self.defaults.max_new_tokens,
                                               temperature=self.defaults.temperature))
        getattr(backend, "model", None)  # the transformers backend loads on first access

    def start(self) -> None:
        """Open the upstream client's session in the running event loop if :meth:`load` built it; returns nothing."""
        if self._upstream is not None:
            self._upstream.open()

    async def generate_upstream(self, messages: Sequence[dict[str, str]], settings: GenerationSettings) -> Generation:
        """Answer one request from the variant's upstream (in the event loop); raises :class:`VariantFailed`."""
        from harness.ab.gateway.upstream import UpstreamError

        try:
            return await self.upstream().chat(self._with_prompt(messages), settings)
        except UpstreamError as exc:
            raise VariantFailed(f"variant {self.name!r}: {exc.message}", reason="error") from None

    def generate(self, request_id: str, messages: Sequence[dict[str, str]], settings: GenerationSettings,
                 cancel: threading.Event | None = None, deadline: float | None = None) -> Generation:
        """Answer one request in process (blocking); raises :class:`VariantFailed` on any backend error.

        The model's lock is awaited until ``deadline`` (``time.monotonic()`` seconds; no
        limit when ``None``) and the generation stops early once ``cancel`` is set (the caller gave up).
        """
        from harness.backends.base import GenerationRequest

        full = self._with_prompt(messages)
        request = GenerationRequest(id=request_id, messages=tuple(full))
        try:
            backend = self._get(settings)
            wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._model_lock.acquire(timeout=wait):
                raise VariantFailed(f"variant {self.name!r}: the model was busy until the request's deadline",
                                    reason="timeout")
            try:
                if cancel is not None and cancel.is_set():
                    raise VariantFailed(f"variant {self.name!r}: the request was abandoned", reason="timeout")
                backend.spec = replace(backend.spec, settings=settings)  # type: ignore[attr-defined]
                backend.should_stop = cancel.is_set if cancel is not None else None  # type: ignore[attr-defined]
                return backend.generate([request])[0]
            finally:
                backend.should_stop = None  # type: ignore[attr-defined]
                self._model_lock.release()
        except VariantFailed:
            raise
        except HarnessError as exc:
            raise VariantFailed(f"variant {self.name!r}: {exc.message}", reason="error") from None
        except Exception as exc:  # noqa: BLE001 - any backend failure means: fall back
            raise VariantFailed(f"variant {self.name!r}: {type(exc).__name__}: {exc}", reason="error") from None

    def _with_prompt(self, messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        prompt = self.variant.prompt or self.config.prompt
        if prompt is None:
            return list(messages)
        head = [{"role": "system", "content": prompt.system}] if prompt.system else []
        return [*head, *prompt.few_shot, *messages]

    def cost(self, gen: Generation) -> float | None:
        """Cost of ``gen`` from the variant's pricing (per 1000 tokens); None without pricing."""
        p = self.variant.pricing
        if p is None:
            return None
        return ((gen.prompt_tokens or 0) * p.prompt + (gen.completion_tokens or 0) * p.completion) / 1000.0

    def close(self) -> None:
        """Release the in-process backend; returns nothing (upstream connections: :meth:`aclose`)."""
        if self._backend is not None:
            self._backend.close()
        self._backend = None

    async def aclose(self) -> None:
        """Release the backend and close the upstream connections (in the event loop); returns nothing."""
        self.close()
        upstream, self._upstream = self._upstream, None
        if upstream is not None:
            await upstream.close()


class Router:
    """Every variant's backend and breaker; :meth:`serve` answers a request for an assigned variant."""

    def __init__(self, config: GatewayConfig, workspace: Workspace | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.backends = {name: VariantBackend(name, v, config, workspace) for name, v in config.variants.items()}
        cb = config.circuit_breaker
        self.breakers = {name: CircuitBreaker(cb.failures, cb.cooldown_s, clock=clock)
                         for name in config.variants if name != config.control}

    def load(self) -> None:
        """Build every backend (loading in-process models); returns nothing."""
        for backend in self.backends.values():
            backend.load()

    def start(self) -> None:
        """Open the upstream clients already built by :meth:`load` in the running event loop (the others
        open on first use); returns nothing."""
        for backend in self.backends.values():
            backend.start()

    async def _call(self, name: str, request_id: str, messages: Sequence[dict[str, str]],
                    settings: GenerationSettings) -> Generation:
        backend = self.backends[name]
        timeout = backend.variant.timeout_s
        if backend.variant.upstream:  # in the event loop: a timeout cancels the call and closes its connection
            try:  # asyncio's own timeout: a fraction of anyio's cancel-scope cost per request
                async with asyncio.timeout(timeout):  # None: no limit
                    return await backend.generate_upstream(messages, settings)
            except TimeoutError:
                raise VariantFailed(f"variant {name!r} exceeded its timeout of {timeout:g}s", reason="timeout") from None
        import anyio

        cancel = threading.Event()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(backend.generate, request_id, messages, settings, cancel,
                                                      deadline, abandon_on_cancel=True)
        except TimeoutError:
            raise VariantFailed(f"variant {name!r} exceeded its timeout of {timeout:g}s", reason="timeout") from None
        finally:
            cancel.set()  # a generation still running for this request stops at its next token

    async def serve(self, assigned: str, request_id: str, messages: Sequence[dict[str, str]],
                    settings: GenerationSettings) -> Served:
        """Answer with ``assigned``, falling back to the control; raises :class:`VariantFailed` if the control fails."""
        control = self.config.control
        if assigned != control:
            breaker = self.breakers[assigned]
            if not breaker.allow():
                reason = "circuit_open"
            else:
                try:
                    gen = await self._call(assigned, request_id, messages, settings)
                except VariantFailed as exc:
                    breaker.record(False)
                    reason = f"{exc.reason}: {exc.message}"
                else:
                    breaker.record(True)
                    return Served(gen, assigned)
            gen = await self._call(control, request_id, messages, settings)
            return Served(gen, control, fallback=True, fallback_reason=reason)
        return Served(await self._call(control, request_id, messages, settings), control)

    def close(self) -> None:
        """Close every in-process backend (outside an event loop); returns nothing."""
        for backend in self.backends.values():
            backend.close()

    async def aclose(self) -> None:
        """Close every backend and upstream session, in the loop that opened them; returns nothing."""
        for backend in self.backends.values():
            await backend.aclose()
