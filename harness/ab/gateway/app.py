"""The gateway's FastAPI app: OpenAI-compatible chat completions split between an experiment's variants.

Endpoints: ``POST /v1/chat/completions`` (the unit id from ``user`` or the ``X-Harness-Unit`` header;
the response's ``id`` is the request id, also in ``X-Harness-Request``; ``X-Harness-Variant`` names
the variant that answered; ``stream: true`` is answered as server-sent events carrying the whole
answer in one chunk), ``POST /v1/feedback`` (named outcomes by ``request_id`` or ``unit_id``),
``GET /v1/models``, ``GET /healthz``. When ``api_key_env`` is set, ``/v1/*`` needs the key as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. Errors are OpenAI-style JSON
(``{"error": {"message", "type", "param", "code"}}``), 4xx for bad input, never a trace.

Routing: the experiment's state (status, kill switch, weights, salt: :mod:`harness.ab.control`) is
re-read about once a second, so ``harness ab stop/kill/weights`` take effect without a restart. The
stored weights win over the config's (the config's only seed a new experiment). ``X-Harness-Time``
(epoch seconds) sets the recorded time of a request or feedback (for ``harness ab replay``'s simulated
days) unless ``allow_client_time: false``.
"""

from __future__ import annotations

import gc
import hmac
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

# FastAPI resolves the handlers' annotations at runtime, so these are module-level imports: this
# module is only imported by ``harness ab serve`` and the tests, never by ``harness --help``.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness.ab.control import ExperimentState, experiment_state
from harness.ab.gateway.asgi import ApiError, GatewayApp, HandlerRequest, Reply, json_reply
from harness.ab.gateway.config import GatewayConfig
from harness.ab.gateway.events import EventWriter, FeedbackEvent, RequestEvent, new_request_id
from harness.ab.gateway.routing import Router, VariantFailed
from harness.errors import ConfigError, DataError
from harness.store.ab import create_experiment, get_experiment
from harness.store.gateway import UnknownRequestError, check_outcomes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.workspace import Workspace

log = logging.getLogger("harness.ab.gateway")
ROLES = ("system", "user", "assistant", "tool", "developer")
MAX_TOKENS_LIMIT = 32768


def ensure_experiment(engine: Engine, config: GatewayConfig) -> int:
    """Create the config's experiment if new, check a stored one matches; returns its id.

    Raises :class:`ConfigError` when a stored experiment has other variants, another control or salt.
    """
    info = get_experiment(engine, config.experiment)
    if info is None:
        try:
            info = create_experiment(engine, config.experiment, config.weights, control=config.control,
                                     description=config.description or "served by harness ab serve",
                                     config={"salt": config.salt} if config.salt else {})
        except DataError as exc:
            raise ConfigError(f"experiment {config.experiment!r}: {exc.message}",
                              hint="give every variant a weight above 0 (change it later with harness ab weights)") from None
        return info.id
    where = f"experiment {config.experiment!r} in the workspace"
    if set(info.weights) != set(config.variants):
        raise ConfigError(f"{where} has variants {sorted(info.weights)}, the config {sorted(config.variants)}",
                          hint="use the same variant names, or a new experiment name")
    if info.control != config.control:
        raise ConfigError(f"{where} has control {info.control!r}, the config {config.control!r}",
                          hint="use the stored control, or a new experiment name")
    stored_salt = info.config.get("salt") or info.name
    if config.salt and config.salt != stored_salt:
        raise ConfigError(f"{where} uses salt {stored_salt!r}, the config {config.salt!r}",
                          hint="changing the salt would reassign every unit: remove salt or use a new experiment")
    return info.id


class StateCache:
    """The experiment's control state, re-read when older than ``ttl_s`` (a failed read keeps the last)."""

    def __init__(self, engine: Engine, name: str, ttl_s: float = 1.0) -> None:
        self.engine, self.name, self.ttl_s = engine, name, ttl_s
        self._state: ExperimentState | None = None
        self._read_at = -math.inf

    async def get(self) -> ExperimentState:
        """The current state (from the store at most every ``ttl_s`` seconds)."""
        import anyio

        if self._state is None or time.monotonic() - self._read_at >= self.ttl_s:
            self._read_at = time.monotonic()
            try:
                self._state = await anyio.to_thread.run_sync(experiment_state, self.engine, self.name)
            except Exception:  # noqa: BLE001 - keep serving with the last known state
                if self._state is None:
                    raise
                log.exception("could not re-read the state of experiment %s", self.name)
        return self._state


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"{where}[{i}]: only text parts ({{'type': 'text', 'text': ...}}) are supported",
                               param=where)
            parts.append(part["text"])
        return "".join(parts)
    if content is None:
        return ""
    raise ApiError(400, f"{where}: expected a string or a list of text parts", param=where)


def parse_messages(value: Any) -> list[dict[str, str]]:
    """Validate the ``messages`` of a request into ``[{role, content}]``; raises :class:`ApiError`."""
    if not isinstance(value, list) or not value:
        raise ApiError(400, "messages: expected a non-empty list of {role, content}", param="messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping):
            raise ApiError(400, f"messages[{i}]: expected an object with role and content", param=f"messages[{i}]")
        role = m.get("role")
        if role not in ROLES:
            raise ApiError(400, f"messages[{i}].role: expected one of {', '.join(ROLES)}, got {role!r}",
                           param=f"messages[{i}].role")
        out.append({"role": "system" if role == "developer" else role,
                    "content": _text(m.get("content"), f"messages[{i}].content")})
    return out


def _number(body: Mapping[str, Any], key: str, low: float, high: float, *, integer: bool = False) -> Any:
    value = body.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not math.isfinite(value) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise ApiError(400, f"{key}: expected {kind} in [{low:g}, {high:g}], got {value!r}", param=key)
    return value


def _client_time(request: HandlerRequest, config: GatewayConfig) -> float:
    raw = request.headers.get("x-harness-time")
    if raw is None or not config.allow_client_time:
        return time.time()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, f"X-Harness-Time: expected epoch seconds, got {raw!r}", param="X-Harness-Time")
    return value


async def _json_body(request: HandlerRequest) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def create_app(config: GatewayConfig, workspace: Workspace, *, load: bool = True, state_ttl_s: float = 1.0,
               freeze_gc: bool = False) -> FastAPI:
    """The gateway app for ``config`` on ``workspace``'s store (creating the experiment if new).

    ``load``: build the backends and load in-process models at startup (else on first use).
    ``freeze_gc``: once started, move every object so far out of the garbage collector's reach
    (:func:`gc.freeze`; for a server process): a full collection then scans what requests made since,
    not the libraries and models, which would stop the event loop for tens of milliseconds each time.
    Raises :class:`ConfigError` for a config that contradicts the stored experiment or an unset API key.
    """
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from harness.backends.base import GenerationSettings

    engine = workspace.engine
    api_key = config.api_key()
    exp_id = ensure_experiment(engine, config)
    router = Router(config, workspace)
    states = StateCache(engine, config.experiment, ttl_s=state_ttl_s)
    writer = EventWriter(engine, exp_id)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import anyio

        if load:
            await anyio.to_thread.run_sync(router.load)
        router.start()  # upstream sessions belong to this event loop
        writer.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            writer.close()
            await router.aclose()

    app = GatewayApp(title="harness A/B gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.router = router
    app.state.states = states
    app.state.experiment_id = exp_id

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return ApiError(400, f"invalid request: {exc.errors()[:1]}").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return ApiError(exc.status_code, str(exc.detail), type=kind).response()

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected gateway error")
        return ApiError(500, "internal gateway error (see the gateway log)", type="server_error").response()

    def authorize(request: HandlerRequest) -> None:
        if api_key is None:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given or not hmac.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(401, "missing or invalid API key: send Authorization: Bearer KEY or X-API-Key: KEY",
                           type="authentication_error", code="invalid_api_key")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        state = await states.get()
        return {"status": "ok", "experiment": config.experiment, "experiment_status": state.status,
                "kill_switch": state.kill_switch, "weights": state.weights,
                "circuits": {n: ("open" if b.is_open else "closed") for n, b in router.breakers.items()}}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "harness",
                                            "model": v.model} for name, v in config.variants.items()]}

    @app.fast_route("POST", "/v1/chat/completions")
    async def chat(request: HandlerRequest) -> Reply:
        started = time.perf_counter()
        authorize(request)
        body = await _json_body(request)
        messages = parse_messages(body.get("messages"))
        if body.get("n") not in (None, 1):
            raise ApiError(400, "n: only n=1 is supported", param="n")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "stream: expected true or false", param="stream")
        max_tokens = _number(body, "max_completion_tokens", 1, MAX_TOKENS_LIMIT, integer=True)
        max_tokens = max_tokens or _number(body, "max_tokens", 1, MAX_TOKENS_LIMIT, integer=True)
        temperature = _number(body, "temperature", 0.0, 2.0)
        stop = body.get("stop")
        stop = [stop] if isinstance(stop, str) else stop
        if stop is not None and (not isinstance(stop, list) or len(stop) > 4
                                 or not all(isinstance(x, str) and x for x in stop)):
            raise ApiError(400, "stop: expected a string or a list of up to 4 non-empty strings", param="stop")
        unit = body.get("user") or request.headers.get("x-harness-unit")
        if not isinstance(unit, str) or not unit.strip() or len(unit) > 200:
            raise ApiError(400, "a unit id is required: set the `user` field or the X-Harness-Unit header "
                           "(a user or conversation id, at most 200 characters)", param="user")
        ts = _client_time(request, config)

        state = await states.get()
        assigned = state.variant_for(unit)  # None: not enrolled, stopped or killed -> control, no exposure
        target = assigned if assigned in router.backends else config.control
        request_id = new_request_id()
        defaults = router.backends[target].defaults
        settings = GenerationSettings(
            max_new_tokens=int(max_tokens or defaults.max_new_tokens),
            temperature=float(defaults.temperature if temperature is None else temperature),
            stop=tuple(stop or ()))
        served = None
        try:
            served = await router.serve(target, request_id, messages, settings)
        except VariantFailed as exc:
            failure = exc
        latency = time.perf_counter() - started
        if assigned is not None:
            cost = router.backends[served.served_by].cost(served.generation) if served else None
            event = RequestEvent(request_id, unit, assigned, ts, latency, served, cost,
                                 error=None if served else f"{failure.reason}: {failure.message}")
            try:
                await writer.write(event)
            except Exception:  # noqa: BLE001 - the exposure is part of the answer: no row, no answer
                log.exception("could not record request %s", request_id)
                raise ApiError(503, "the gateway could not record the request; retry", type="server_error") from None
        if served is None:
            raise ApiError(502, f"no variant could answer: {failure.message}", type="upstream_error",
                           code=failure.reason)
        headers = {"X-Harness-Request": request_id, "X-Harness-Variant": served.served_by,
                   "X-Harness-Assigned": assigned or "", "X-Harness-Fallback": "1" if served.fallback else "0"}
        gen = served.generation
        model = gen.model or config.variants[served.served_by].model
        finish = gen.finish_reason if gen.finish_reason in ("stop", "length") else "stop"
        created = int(ts)
        if stream:  # the whole answer in one chunk, then the end of the stream
            base = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model}
            first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": gen.text},
                                          "finish_reason": None}]}
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            sse = f"data: {json.dumps(first)}\n\ndata: {json.dumps(last)}\n\ndata: [DONE]\n\n"
            return Reply(sse.encode(), media_type="text/event-stream", headers=headers)
        usage = {"prompt_tokens": gen.prompt_tokens or 0, "completion_tokens": gen.completion_tokens or 0,
                 "total_tokens": (gen.prompt_tokens or 0) + (gen.completion_tokens or 0)}
        return json_reply({"id": request_id, "object": "chat.completion", "created": created, "model": model,
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": gen.text},
                                        "finish_reason": finish}], "usage": usage}, headers=headers)

    @app.fast_route("POST", "/v1/feedback")
    async def feedback(request: HandlerRequest) -> Reply:
        authorize(request)
        body = await _json_body(request)
        request_id, unit_id, outcomes = body.get("request_id"), body.get("unit_id"), body.get("outcomes")
        if (request_id is None) == (unit_id is None):
            raise ApiError(400, "give exactly one of request_id or unit_id", param="request_id")
        for key, value in (("request_id", request_id), ("unit_id", unit_id)):
            if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
                raise ApiError(400, f"{key}: expected a non-empty string", param=key)
        if not isinstance(outcomes, dict) or not outcomes:
            raise ApiError(400, 'outcomes: expected an object of named numbers, e.g. {"thumbs_up": 1}',
                           param="outcomes")
        ts = _client_time(request, config)
        try:
            clean = check_outcomes(outcomes)
            written = await writer.feedback(FeedbackEvent(clean, request_id, unit_id, ts))
        except UnknownRequestError as exc:
            raise ApiError(404, exc.message, type="not_found_error",
                           param="request_id" if request_id else "unit_id", code="unknown_id") from None
        except DataError as exc:
            raise ApiError(400, exc.message, param="outcomes") from None
        except Exception:  # noqa: BLE001 - the database failed: the client may retry (feedback is idempotent)
            log.exception("could not record feedback for %s", request_id or unit_id)
            raise ApiError(503, "the gateway could not record the feedback; retry", type="server_error") from None
        return json_reply({"object": "feedback", "recorded": written, "duplicates": len(outcomes) - written,
                           "request_id": request_id, "unit_id": unit_id})

    return app
