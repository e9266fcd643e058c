"""The event writer's SQLite path (commits in the event loop, the thread when the lock is taken) and the
plain-ASGI shortcut of the hot routes."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from harness.store import gateway as store
from tests.harness.ab.gateway.fakes import gateway_config


def _events(prefix: str, n: int) -> list:
    from harness.ab.gateway.events import RequestEvent

    return [RequestEvent(f"{prefix}{i}", f"u{i}", "a", 1.0 + i, 0.01, None, error="x") for i in range(n)]


def test_sqlite_commits_in_the_loop_one_transaction_per_pass(tmp_path) -> None:
    from harness.ab.gateway.events import EventWriter
    from harness.store.ab import create_experiment
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "w")
    exp = create_experiment(ws.engine, "ev", {"a": 0.5, "b": 0.5})
    writer = EventWriter(ws.engine, exp.id)
    assert writer.inline
    commits = []
    original = writer._commit

    def counting(events, transaction):  # type: ignore[no-untyped-def]
        commits.append(len(events))
        return original(events, transaction)

    writer._commit = counting  # type: ignore[method-assign]

    async def burst() -> list:
        first = await asyncio.gather(*(writer.write(e) for e in _events("r", 30)))
        await writer.write(_events("s", 1)[0])
        return first

    try:
        assert asyncio.run(burst()) == [None] * 30
    finally:
        writer.close()
    assert commits == [30, 1]  # the 30 requests of one loop pass share a commit
    assert writer._thread is None or not writer._thread.is_alive()
    assert store.request_count(ws.engine, "ev") == 31
    ws.close()


def test_a_locked_database_never_blocks_the_event_loop(tmp_path) -> None:
    """Another process holds SQLite's write lock: the writes wait in the writer thread, the loop keeps
    running, and every write is committed (and answered) once the lock is released."""
    from harness.ab.gateway.events import EventWriter
    from harness.store.ab import create_experiment
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "w")
    exp = create_experiment(ws.engine, "ev", {"a": 0.5, "b": 0.5})
    db = ws.engine.url.database
    writer = EventWriter(ws.engine, exp.id)
    other = sqlite3.connect(db, isolation_level=None)

    async def scenario() -> tuple[list, int, float]:
        await writer.write(_events("warm", 1)[0])  # the inline connection exists
        other.execute("BEGIN IMMEDIATE")  # the write lock, held by "another process"
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.create_task(ticker())
        started = time.monotonic()
        writes = asyncio.gather(*(writer.write(e) for e in _events("r", 10)))
        await asyncio.sleep(0.5)
        assert not writes.done()  # nothing answered before its row is committed
        other.execute("COMMIT")
        results = await writes
        tick.cancel()
        return results, ticks, time.monotonic() - started

    try:
        results, ticks, elapsed = asyncio.run(scenario())
    finally:
        writer.close()
        other.close()
    assert results == [None] * 10
    assert ticks >= 20 and elapsed >= 0.5  # the loop ran (~50 ticks) while the lock was held
    assert store.request_count(ws.engine, "ev") == 11
    ws.close()


def test_the_shortcut_answers_like_fastapi(make_client) -> None:
    from harness.ab.gateway.asgi import MAX_BODY_BYTES

    client, ws = make_client(gateway_config())
    r = client.post("/v1/chat/completions", json={"model": "any", "user": "u1",
                                                  "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content) and r.json()["id"] == r.headers["X-Harness-Request"]
    big = client.post("/v1/chat/completions", content=b"x" * (MAX_BODY_BYTES + 1),
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert client.put("/v1/feedback", json={}).status_code == 405  # FastAPI's answer for the same path
    assert store.request_count(ws.engine, "gw-test") == 1
