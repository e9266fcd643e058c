"""What the gateway writes to the store: one ``ab_requests`` row per request, before the response, and
the outcomes of each feedback post, before its answer.

The row is committed before the client gets its answer, so every response has its exposure (a killed
gateway loses only requests that were never answered). :class:`EventWriter` commits in groups: one
writer thread takes every request row and feedback post waiting, writes them in one transaction and
then releases their requests, so concurrent requests share a commit instead of queueing for the
database's write lock. Units that are not enrolled (outside every variant's weight) and requests
while the experiment is stopped or killed are served by the control and record no exposure (see
:mod:`harness.ab.assignment` for why).
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

from harness.store.gateway import UnknownRequestError, insert_outcomes, insert_requests, request_values

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
        with engine.begin() as conn:
            insert_requests(conn, request_values(experiment_id, [self.row()]))


@dataclass(frozen=True)
class FeedbackEvent:
    """Named outcomes posted for a request (or a unit), checked (:func:`harness.store.gateway.check_outcomes`)."""

    outcomes: dict[str, float]
    request_id: str | None
    unit_id: str | None
    ts: float


log = logging.getLogger("harness.ab.gateway")
_STOP = object()


class EventWriter:
    """Group commit from one writer thread: :meth:`write` and :meth:`feedback` return once committed.

    The thread takes every event waiting (up to ``max_batch``) and writes them in one transaction:
    the request rows first, then the feedback (which may name a request of the same batch). A failed
    batch is retried event by event, so one bad event fails only its own request.
    """

    def __init__(self, engine: Engine, experiment_id: int, *, max_batch: int = 500) -> None:
        self.engine, self.experiment_id, self.max_batch = engine, experiment_id, max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (again after :meth:`close`); returns nothing."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gateway-event-writer", daemon=True)
                self._thread.start()

    async def write(self, event: RequestEvent) -> None:
        """Queue ``event`` and wait until its row is committed; raises what the database raised."""
        await self._submit(event)

    async def feedback(self, event: FeedbackEvent) -> int:
        """Queue ``event`` and wait until it is committed; returns how many outcomes were new.

        Raises :class:`~harness.store.gateway.UnknownRequestError` when the experiment never served
        the request (or unit), else what the database raised.
        """
        return int(await self._submit(event))

    async def _submit(self, event: RequestEvent | FeedbackEvent) -> Any:
        thread = self._thread
        if thread is None or not thread.is_alive():
            self.start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.put((event, loop, done))
        return await done

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
            events = [event for event, _, _ in batch]
            try:
                results = self._commit(events)
            except Exception:  # noqa: BLE001 - retry one by one: only the bad events fail
                results = []
                for event in events:
                    try:
                        results.append(self._commit([event])[0])
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                        log.exception("could not record %s", _describe(event))
                        results.append(exc)
            for (_, loop, done), result in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, done, result)

    def _commit(self, events: list[RequestEvent | FeedbackEvent]) -> list[Any]:
        """Write ``events`` in one transaction; returns each one's result (None, a count, or an error to raise)."""
        rows = [e.row() for e in events if isinstance(e, RequestEvent)]
        results: list[Any] = [None] * len(events)
        with self.engine.begin() as conn:
            insert_requests(conn, request_values(self.experiment_id, rows))
            for i, event in enumerate(events):
                if isinstance(event, FeedbackEvent):
                    try:
                        results[i] = insert_outcomes(conn, self.experiment_id, event.outcomes,
                                                     request_id=event.request_id, unit_id=event.unit_id, ts=event.ts)
                    except UnknownRequestError as exc:  # wrote nothing: the others' transaction goes on
                        results[i] = exc
        return results

    def close(self) -> None:
        """Write what is queued, then stop the writer thread; returns nothing."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=30)


def _describe(event: RequestEvent | FeedbackEvent) -> str:
    if isinstance(event, RequestEvent):
        return f"request {event.request_id}"
    return f"feedback for {event.request_id or event.unit_id}"


def _settle(done: asyncio.Future[Any], result: Any) -> None:
    if done.done():  # the request was cancelled (client went away); its row is written anyway
        return
    if isinstance(result, BaseException):
        done.set_exception(result)
    else:
        done.set_result(result)


def now() -> float:
    """The current epoch time in seconds."""
    return time.time()
