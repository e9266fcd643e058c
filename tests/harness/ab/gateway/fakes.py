"""Gateway test helpers: a fake in-process backend (by model name) and a small config."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import (
    BackendCapabilities,
    BackendError,
    BackendSpec,
    Generation,
    GenerationRequest,
)


class FakeBackend:
    """Model names pick the behaviour: ``ok-*`` answer, ``fail`` raises, ``slow`` sleeps 2 s, ``switch``
    fails while ``FakeBackend.broken`` is set, ``tokens`` "generates" 300 tokens of 10 ms for a message
    ``long`` (checking ``should_stop`` after each, as the transformers backend does) and answers other
    messages at once. Every call is counted per model in ``FakeBackend.calls``; ``FakeBackend.stopped``
    counts generations ended early by ``should_stop``."""

    name = "transformers"
    capabilities = BackendCapabilities()
    request_chunk = 1
    calls: dict[str, int] = {}
    stopped: dict[str, int] = {}
    broken = threading.Event()
    lock = threading.Lock()

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self.model_name = Path(spec.model).name

    @property
    def fingerprint(self) -> str:
        return self.model_name

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        with FakeBackend.lock:
            FakeBackend.calls[self.model_name] = FakeBackend.calls.get(self.model_name, 0) + 1
        if self.model_name == "fail" or (self.model_name == "switch" and FakeBackend.broken.is_set()):
            raise BackendError(f"{self.model_name} is down")
        if self.model_name == "slow":
            time.sleep(2.0)
        if self.model_name == "tokens" and requests[-1].messages[-1]["content"] == "long":
            for _ in range(300):
                time.sleep(0.01)
                if getattr(self, "should_stop", None) is not None and self.should_stop():
                    with FakeBackend.lock:
                        FakeBackend.stopped[self.model_name] = FakeBackend.stopped.get(self.model_name, 0) + 1
                    break
        out = []
        for r in requests:
            text = f"{self.model_name}|{self.spec.settings.max_new_tokens}|{r.messages[-1]['content']}"
            out.append(Generation(text=text, latency_s=0.001, prompt_tokens=len(r.messages) * 10,
                                  completion_tokens=5, finish_reason="stop", model=self.model_name))
        return out

    def close(self) -> None:
        pass


def gateway_config(candidate: dict[str, Any] | None = None, **extra: Any):  # -> GatewayConfig
    """A two-variant config: control ``base`` (fake model ``ok-base``) and ``candidate``."""
    from harness.ab.gateway.config import build_config

    data = {"experiment": extra.pop("experiment", "gw-test"), "control": "base",
            "variants": {"base": {"model": "ok-base", "weight": 0.5},
                         "candidate": {"model": "ok-cand", "weight": 0.5, **(candidate or {})}}, **extra}
    return build_config(data)


class GatewayServer:
    """The gateway app under uvicorn on a free 127.0.0.1 port in a thread (context manager)."""

    __test__ = False

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GatewayServer:
        self.thread.start()
        deadline = time.time() + 120  # the lifespan loads in-process models first
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()
