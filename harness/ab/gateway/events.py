"""What the gateway writes to the store for each request: one ``ab_requests`` row, before the response.

The row is committed before the client gets its answer, so every response has its exposure (a killed
gateway loses only requests that were never answered). :class:`EventWriter` commits rows in groups:
one writer thread takes every row waiting, writes them in one transaction and then releases their
requests, so concurrent requests share a commit instead of queueing for the database's write lock. Units that are not enrolled (outside every
variant's weight) and requests while the experiment is stopped or killed are served by the control
and record no exposure (see :mod:`harness.ab.assignment` for why).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.store.gateway import log_requests

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.ab.gateway.routing import Served


def new_request_id() -> str:
    """A fresh request id (``chatcmpl-`` and 32 hex digits), the response's ``id``."""
    return f"chatcmpl-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class RequestEvent:
    """One exposure: who was assigned what, who answered, when, and the measured figures."""

    request_id: str
    unit_id: str
    variant: str
    ts: float
    latency_s: float
    served: Served | None  # None: nothing answered (the control failed too)
    cost: float | None = None
    error: str | None = None  # why nothing answered

    def row(self) -> dict[str, Any]:
        """The ``ab_requests`` columns of this event."""
        served = self.served
        gen = served.generation if served else None
        return {"request_id": self.request_id, "unit_id": self.unit_id, "variant": self.variant,
                "served_by": served.served_by if served else None, "ts": self.ts,
                "fallback": bool(served and served.fallback),
                "fallback_reason": served.fallback_reason if served else self.error,
                "latency_s": self.latency_s, "backend_latency_s": gen.latency_s if gen else None,
                "prompt_tokens": gen.prompt_tokens if gen else None,
                "completion_tokens": gen.completion_tokens if gen else None, "cost": self.cost,
                "status": "ok" if gen else "error", "model": gen.model if gen else None}

    def write(self, engine: Engine, experiment_id: int) -> None:
        """Commit the row to ``ab_requests`` now (its own transaction); returns nothing."""
        log_requests(engine, experiment_id, [self.row()])


log = logging.getLogger("harness.ab.gateway")
_STOP = object()


class EventWriter:
    """Group commit of request rows from one writer thread; :meth:`write` returns once its row is committed.

    ``max_batch`` bounds a transaction. A failed batch is retried row by row, so one bad row fails only
    its own request.
    """

    def __init__(self, engine: Engine, experiment_id: int, *, max_batch: int = 500) -> None:
        self.engine, self.experiment_id, self.max_batch = engine, experiment_id, max_batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (again after :meth:`close`); returns nothing."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gateway-event-writer", daemon=True)
                self._thread.start()

    async def write(self, event: RequestEvent) -> None:
        """Queue ``event`` and wait until it is committed; raises what the database raised."""
        self.start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put((event, loop, done))
        await done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            try:
                log_requests(self.engine, self.experiment_id, [event.row() for event, _, _ in batch])
                results: list[BaseException | None] = [None] * len(batch)
            except Exception:  # noqa: BLE001 - retry one by one: only the bad rows fail
                results = []
                for event, _, _ in batch:
                    try:
                        event.write(self.engine, self.experiment_id)
                        results.append(None)
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                        log.exception("could not record request %s", event.request_id)
                        results.append(exc)
            for (_, loop, done), error in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, done, error)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread; returns nothing."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=30)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request was cancelled (client went away); its row is written anyway
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def now() -> float:
    """The current epoch time in seconds."""
    return time.time()
