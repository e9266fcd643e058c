"""What the gateway writes to the store: one ``ab_requests`` row per request, before the response, and
the outcomes of each feedback post, before its answer.

The row is committed before the client gets its answer, so every response has its exposure (a killed
gateway loses only requests that were never answered). :class:`EventWriter` commits in groups: the
request rows and feedback posts that arrive together are written in one transaction and then their
requests are released, so concurrent requests share a commit instead of queueing for the database's
write lock. On SQLite the group is every event of one event-loop pass, committed in the event loop
itself: a WAL commit without fsync (``synchronous=NORMAL``) takes a fraction of a millisecond, less
than handing the events to a thread and back on a loaded machine; the writer thread then only takes
the groups that would wait (another process holds the write lock: the loop never waits for it) and
the WAL checkpoints (which fsync). On other databases (PostgreSQL: a network round trip per commit)
the writer thread takes every group. Units that are not enrolled (outside every variant's weight) and
requests while the experiment is stopped or killed are served by the control and record no exposure
(see :mod:`harness.ab.assignment` for why).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.store.gateway import UnknownRequestError, insert_outcomes, insert_requests, request_values

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from harness.ab.gateway.routing import Served


def new_request_id() -> str:
    """A fresh request id (``chatcmpl-`` and 32 hex digits), the response's ``id``."""
    return f"chatcmpl-{os.urandom(16).hex()}"  # uuid4's randomness without building a UUID


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
_STOP, _CHECKPOINT = object(), object()
#: Inline SQLite commits between two WAL checkpoints (each commit adds a few pages to the WAL).
CHECKPOINT_EVERY = 200


class _Busy(Exception):
    """Another connection holds SQLite's write lock: the events from ``done`` on go to the writer thread.

    ``results`` are those of the events before them (committed one by one before the lock was lost).
    """

    def __init__(self, results: list[Any] | None = None) -> None:
        super().__init__("database is locked")
        self.results = results or []


class EventWriter:
    """Group commit: :meth:`write` and :meth:`feedback` return once their event is committed.

    Each group is written in one transaction: the request rows first, then the feedback (which may
    name a request of the same group). A failed group is retried event by event, so one bad event
    fails only its own request. ``inline`` (default: on SQLite) commits in the event loop, see the
    module docstring; otherwise, or when SQLite is busy, one writer thread takes every event waiting
    (up to ``max_batch``).
    """

    def __init__(self, engine: Engine, experiment_id: int, *, max_batch: int = 500,
                 inline: bool | None = None) -> None:
        self.engine, self.experiment_id, self.max_batch = engine, experiment_id, max_batch
        self.inline = engine.dialect.name == "sqlite" if inline is None else inline
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, asyncio.AbstractEventLoop, asyncio.Future[Any]]] = []
        self._conn: Connection | None = None  # inline commits: one connection that never waits for the lock
        self._commits = 0

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
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        if self.inline:
            self._pending.append((event, loop, done))
            if len(self._pending) == 1:  # the first of this pass: commit once the pass's other requests joined
                loop.call_soon(self._flush)
        else:
            self._to_thread([(event, loop, done)])
        return await done

    def _to_thread(self, items: list[Any]) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            self.start()
        for item in items:
            self._queue.put(item)

    def _flush(self) -> None:
        """Commit the events of this loop pass in the loop (SQLite); busy: hand them to the thread."""
        batch, self._pending = self._pending, []
        try:
            results = self._process(batch, self._inline_transaction)
        except _Busy as busy:
            results = busy.results
            self._to_thread(batch[len(results):])
        for (_, _, done), result in zip(batch, results, strict=False):
            _settle(done, result)
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._to_thread([_CHECKPOINT])

    @contextmanager
    def _inline_transaction(self) -> Iterator[Connection]:
        if self._conn is None:
            conn = self.engine.connect()
            # fail at once instead of blocking the event loop for the busy timeout, and leave the WAL
            # checkpoints (an fsync) to the writer thread
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
            self._conn = conn
        try:
            with self._conn.begin():
                yield self._conn
        except Exception as exc:
            if _is_busy(exc):
                raise _Busy from exc
            raise

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            if first is _CHECKPOINT:
                self._checkpoint()
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                if item is _CHECKPOINT:
                    continue  # this batch's commit checkpoints by itself when the WAL is long
                batch.append(item)
            results = self._process(batch, self.engine.begin)
            for (_, loop, done), result in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, done, result)

    def _process(self, batch: list[Any], transaction: Callable[[], Any]) -> list[Any]:
        """Commit ``batch`` in one transaction, else event by event; returns each one's result or error.

        Raises :class:`_Busy` (inline only) when SQLite's write lock is taken, with the results so far.
        """
        events = [event for event, _, _ in batch]
        try:
            return self._commit(events, transaction)
        except _Busy:
            raise
        except Exception:  # noqa: BLE001 - retry one by one: only the bad events fail
            results: list[Any] = []
            for event in events:
                try:
                    results.append(self._commit([event], transaction)[0])
                except _Busy:
                    raise _Busy(results) from None
                except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                    log.exception("could not record %s", _describe(event))
                    results.append(exc)
            return results

    def _commit(self, events: list[RequestEvent | FeedbackEvent], transaction: Callable[[], Any]) -> list[Any]:
        """Write ``events`` in one transaction; returns each one's result (None, a count, or an error to raise)."""
        rows = [e.row() for e in events if isinstance(e, RequestEvent)]
        results: list[Any] = [None] * len(events)
        with transaction() as conn:
            insert_requests(conn, request_values(self.experiment_id, rows))
            for i, event in enumerate(events):
                if isinstance(event, FeedbackEvent):
                    try:
                        results[i] = insert_outcomes(conn, self.experiment_id, event.outcomes,
                                                     request_id=event.request_id, unit_id=event.unit_id, ts=event.ts)
                    except UnknownRequestError as exc:  # wrote nothing: the others' transaction goes on
                        results[i] = exc
        return results

    def _checkpoint(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 - the next one will try again; SQLite keeps the WAL meanwhile
            log.exception("WAL checkpoint failed")

    def close(self) -> None:
        """Write what is queued, then stop the writer thread; returns nothing."""
        if self._pending:  # closed before the loop ran the flush: write them now
            self._flush()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()  # its pragmas differ from the pool's: never hand it out again
            conn.close()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout=30)


def _is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (another connection holds the write lock)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database table is locked" in text


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
