"""Gateway test fixtures: fake in-process backends and in-process app clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.ab.gateway.fakes import FakeBackend


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> type[FakeBackend]:
    """Route the ``transformers`` backend to :class:`FakeBackend` (fresh counters)."""
    from harness.backends import base

    monkeypatch.setitem(base._REGISTRY, "transformers", FakeBackend)
    FakeBackend.calls = {}
    FakeBackend.stopped = {}
    FakeBackend.broken.clear()
    return FakeBackend


@pytest.fixture
def make_client(tmp_path: Path, fake_backends: type[FakeBackend]) -> Iterator[Callable[..., Any]]:
    """``make_client(config) -> (TestClient, workspace)``; every client is closed at the end."""
    from fastapi.testclient import TestClient

    from harness.ab.gateway.app import create_app
    from harness.workspace import Workspace

    opened: list[Any] = []

    def make(config: Any, **kwargs: Any) -> tuple[Any, Any]:
        ws = Workspace.open(tmp_path / "ws")
        client = TestClient(create_app(config, ws, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, ws))
        return client, ws

    yield make
    for client, ws in opened:
        client.__exit__(None, None, None)
        ws.close()
