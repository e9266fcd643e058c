"""A small OpenAI-compatible chat server for tests: the tiny model behind FastAPI/uvicorn.

Model names pick the behaviour: ``tiny`` answers with the tiny model, ``always-500`` fails,
``flaky`` fails twice per conversation then answers, ``rate-limited`` answers 429 once per
conversation (``Retry-After: 0``), ``sleepy`` sleeps past any short client timeout. The server
runs on 127.0.0.1 in a background thread and records the peak number of concurrent requests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class ServerState:
    """What the test server saw."""

    calls: Counter = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_app(model_dir: Path, state: ServerState, *, think_s: float = 0.0) -> Any:
    """The FastAPI app serving ``/v1/chat/completions``."""
    from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
    from harness.backends.transformers_backend import TransformersBackend

    app = FastAPI()
    model_lock = threading.Lock()
    backends: dict[int, TransformersBackend] = {}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        settings = GenerationSettings(max_new_tokens=int(body.get("max_tokens") or 16))
        with model_lock:
            backend = backends.setdefault(settings.max_new_tokens, TransformersBackend(
                BackendSpec(model=str(model_dir), settings=settings, options={"device": "cpu"})))
            gen = backend.generate([GenerationRequest(id="x", messages=tuple(body["messages"]))])[0]
        return {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": gen.text},
                             "finish_reason": gen.finish_reason}],
                "usage": {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                          "total_tokens": gen.prompt_tokens + gen.completion_tokens}}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        import anyio

        body = await request.json()
        model = body.get("model")
        key = json.dumps([model, body.get("messages")], sort_keys=True)
        with state.lock:
            state.calls[key] += 1
            state.calls[model] += 1
            count = state.calls[key]
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            if think_s:
                await anyio.sleep(think_s)
            if model == "always-500":
                return JSONResponse({"error": "boom"}, status_code=500)
            if model == "flaky" and count <= 2:
                return JSONResponse({"error": "try again"}, status_code=503)
            if model == "rate-limited" and count <= 1:
                return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "0"})
            if model == "sleepy":
                await anyio.sleep(3.0)
            if model == "bad-request":
                return JSONResponse({"error": "bad"}, status_code=400)
            return await anyio.to_thread.run_sync(answer, body)
        finally:
            with state.lock:
                state.in_flight -= 1

    return app


class TestServer:
    """Run the app with uvicorn on a free 127.0.0.1 port in a thread (context manager)."""

    __test__ = False

    def __init__(self, model_dir: Path, *, think_s: float = 0.0) -> None:
        import uvicorn

        self.state = ServerState()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(build_app(model_dir, self.state, think_s=think_s), log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> TestServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
