"""The gateway's hot path as plain ASGI: chat completions and feedback without FastAPI's per-request work.

FastAPI's request path (middleware stack, routing, dependency solving, response classes) cost about as
much CPU per request as everything else the gateway does for a chat completion (profiled with py-spy
under load). :class:`GatewayApp` is the FastAPI app plus a table of plain handlers by (method, path):
a request for one of them is read, answered and its errors mapped here, in one coroutine; every other
request (and the lifespan) goes to FastAPI. The same handlers are registered as FastAPI routes too, so
a wrong method still gets FastAPI's 405 and nothing but speed depends on the shortcut.

A handler takes anything with ``headers.get(lowercase name)`` and ``await body()`` (:class:`RawRequest`
here, a Starlette ``Request`` through FastAPI) and returns a :class:`Reply`; it raises :class:`ApiError`
for an OpenAI-style error answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.requests import Request  # noqa: TC002 - FastAPI reads the route's annotation at runtime
from starlette.responses import JSONResponse, Response

log = logging.getLogger("harness.ab.gateway")

#: Largest request body read (a chat request with long messages is well under this).
MAX_BODY_BYTES = 16 * 1024 * 1024


class ApiError(Exception):
    """An OpenAI-style error answer: HTTP status, message, type, the offending parameter and a code."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def payload(self) -> dict[str, Any]:
        """The error as OpenAI's JSON object."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def reply(self) -> Reply:
        """The :class:`Reply` for this error."""
        return json_reply(self.payload(), status=self.status)

    def response(self) -> JSONResponse:
        """The Starlette JSON response for this error (FastAPI's exception handlers)."""
        return JSONResponse(self.payload(), status_code=self.status)


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nothing to answer."""


class HandlerRequest(Protocol):
    """What a handler reads of a request (a :class:`RawRequest` or a Starlette ``Request``)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: status, body bytes, media type and extra headers."""

    body: bytes
    status: int = 200
    media_type: str = "application/json"
    headers: Mapping[str, str] | None = None

    def response(self) -> Response:
        """The same answer as a Starlette response (for the FastAPI route)."""
        return Response(self.body, status_code=self.status, media_type=self.media_type, headers=self.headers)

    async def send(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Send the answer on an ASGI ``send``; returns nothing."""
        headers = [(b"content-type", _content_type(self.media_type)),
                   (b"content-length", str(len(self.body)).encode())]
        if self.headers:
            headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_reply(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON :class:`Reply` encoded like Starlette's ``JSONResponse`` (UTF-8, compact)."""
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    return Reply(body, status=status, headers=headers)


def _content_type(media_type: str) -> bytes:
    return (media_type + "; charset=utf-8" if media_type.startswith("text/") else media_type).encode()


class RawRequest:
    """The request of a plain-ASGI handler: lower-case headers and the body (at most ``MAX_BODY_BYTES``)."""

    __slots__ = ("_headers", "_receive", "scope")

    def __init__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.scope, self._receive = scope, receive
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Header name (lower case) to value; a repeated header keeps its first value."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for name, value in self.scope["headers"]:
                headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
            self._headers = headers
        return self._headers

    async def body(self) -> bytes:
        """The whole body; raises :class:`ApiError` (413) past ``MAX_BODY_BYTES``, :class:`ClientGone` on a disconnect."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(413, f"the request body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                               code="body_too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


Handler = Callable[[HandlerRequest], Awaitable[Reply]]


class GatewayApp(FastAPI):
    """FastAPI with a shortcut for the hot routes (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_routes: dict[tuple[str, str], Handler] = {}

    def fast_route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator: serve ``method path`` with the handler, directly and as a FastAPI route; returns the handler."""
        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                return (await handler(request)).response()

            self.fast_routes[(method, path)] = handler
            self.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
            return handler
        return register

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            handler = self.fast_routes.get((scope["method"], scope["path"]))
            if handler is not None:
                await _serve(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _serve(handler: Handler, scope: dict[str, Any], receive: Any, send: Any) -> None:
    try:
        reply = await handler(RawRequest(scope, receive))
    except ApiError as exc:
        reply = exc.reply()
    except ClientGone:
        return
    except Exception:  # noqa: BLE001 - an OpenAI-style 500, never a trace
        log.exception("unexpected gateway error")
        reply = ApiError(500, "internal gateway error (see the gateway log)", type="server_error").reply()
    await reply.send(send)
