"""Review-queue tables and their transactional queries (every function takes the workspace's Engine).

``review_batches`` (one per batch: run, dataset, kind, overlap, rubric), ``review_items`` (the items
shown to reviewers, with the candidates' outputs and automatic scores), ``review_assignments``
(who claimed, skipped or submitted what; one row per item and reviewer) and ``review_labels``
(the answers; one per item and reviewer). :mod:`harness.review.queue` is the Python API over them.

Concurrency: every write runs in :func:`write_transaction`, which serialises writers of a batch
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` of the batch row on PostgreSQL) and then
re-checks the item's occupancy; unique constraints on (item, reviewer) back it up. Lease expiry is
stored as epoch seconds so that comparisons are plain numbers on every database.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from harness.errors import HarnessError
from harness.store.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: Assignment states: a live or expired claim, an answer given, an item passed over.
CLAIMED, SUBMITTED, SKIPPED = "claimed", "submitted", "skipped"


class ReviewBatch(Base):
    """A batch of items drawn from one run's predictions, reviewed by ``overlap`` reviewers each."""

    __tablename__ = "review_batches"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    dataset: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(200))
    overlap: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[list[str]] = mapped_column(JSON)
    rubric: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    n_items: Mapped[int] = mapped_column(Integer)
    lease_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewItem(Base):
    """One item of a batch: an input, its reference and the output(s) to judge (candidates as shown)."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("batch_id", "position", name="uq_review_item_position"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("review_batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    example_id: Mapped[str] = mapped_column(String(400))
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(Text)
    candidates: Mapped[list[str]] = mapped_column(JSON)
    outputs: Mapped[list[str]] = mapped_column(JSON)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)


class ReviewAssignment(Base):
    """A reviewer's hold on an item: claimed until ``expires_ts`` (epoch s), then submitted or skipped."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_review_assignment"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("review_batches.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_ts: Mapped[float] = mapped_column(Float)


class ReviewLabel(Base):
    """A reviewer's answer for an item (from the queue or imported), at most one per item and reviewer."""

    __tablename__ = "review_labels"
    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_review_label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("review_batches.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    candidate: Mapped[str | None] = mapped_column(String(200), nullable=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    winner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


# errors: each changes nothing (raised inside the transaction, which rolls back) ---------------------

class ReviewError(HarnessError):
    """A review-queue request that cannot be served; nothing was changed."""


class UnknownBatchError(ReviewError):
    """No batch with that id."""


class UnknownItemError(ReviewError):
    """No item with that id."""


class NotClaimedError(ReviewError):
    """The reviewer holds no claim on the item (never claimed, skipped, or claimed by someone else)."""


class LeaseExpiredError(ReviewError):
    """The reviewer's claim on the item ran out before the answer came."""


# transactions --------------------------------------------------------------------------------------

@contextlib.contextmanager
def write_transaction(engine: Engine, batch_id: str | None = None) -> Iterator[Session]:
    """A session whose transaction excludes other writers of ``batch_id`` until it ends (commit or rollback).

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock up front (a deferred transaction that
    reads and then writes could not be re-checked safely). PostgreSQL: the batch row is locked
    ``FOR UPDATE``. Raises :class:`UnknownBatchError` when ``batch_id`` does not exist.
    """
    with Session(engine, expire_on_commit=False) as session:
        connection = session.connection()
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            if batch_id is not None:
                query = select(ReviewBatch.id).where(ReviewBatch.id == batch_id)
                if engine.dialect.name != "sqlite":
                    query = query.with_for_update()
                if session.execute(query).first() is None:
                    raise unknown_batch(session, batch_id)
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


def unknown_batch(session: Session, batch_id: str) -> UnknownBatchError:
    """The error for a batch id that is not stored, listing the newest known batches."""
    known = session.scalars(select(ReviewBatch.id).order_by(ReviewBatch.created_at.desc()).limit(8)).all()
    hint = (f"known batches: {', '.join(known)} (see `harness review status`)" if known
            else "create one with `harness review enqueue RUN_ID`")
    return UnknownBatchError(f"no review batch {batch_id!r}", hint=hint)


def as_utc(value: _dt.datetime) -> _dt.datetime:
    """``value`` with its zone set to UTC when the database dropped it (SQLite stores naive UTC)."""
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value


# reads ---------------------------------------------------------------------------------------------

def batch_rows(engine: Engine, batch_id: str | None = None) -> list[ReviewBatch]:
    """Every batch (oldest first), or the one ``batch_id`` (raises :class:`UnknownBatchError` if absent)."""
    with Session(engine, expire_on_commit=False) as session:
        query = select(ReviewBatch).order_by(ReviewBatch.created_at, ReviewBatch.id)
        if batch_id is not None:
            query = query.where(ReviewBatch.id == batch_id)
        rows = list(session.scalars(query).all())
        if batch_id is not None and not rows:
            raise unknown_batch(session, batch_id)
        return rows


def item_rows(engine: Engine, batch_id: str) -> list[ReviewItem]:
    """The items of ``batch_id`` in position order."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(ReviewItem).where(ReviewItem.batch_id == batch_id)
                                    .order_by(ReviewItem.position)).all())


def label_rows(engine: Engine, batch_id: str) -> list[tuple[ReviewLabel, int]]:
    """The labels of ``batch_id`` with their item's position, by position, then time, then reviewer."""
    with Session(engine, expire_on_commit=False) as session:
        query = (select(ReviewLabel, ReviewItem.position).join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
                 .where(ReviewLabel.batch_id == batch_id)
                 .order_by(ReviewItem.position, ReviewLabel.submitted_at, ReviewLabel.reviewer))
        return [(label, position) for label, position in session.execute(query).all()]


def assignment_rows(engine: Engine, batch_id: str) -> list[ReviewAssignment]:
    """Every assignment row of ``batch_id``."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(ReviewAssignment).where(ReviewAssignment.batch_id == batch_id)).all())


# writes --------------------------------------------------------------------------------------------

def insert_batch(engine: Engine, batch: dict[str, Any], items: Sequence[dict[str, Any]]) -> ReviewBatch:
    """Store a batch and its items in one transaction; returns the batch row."""
    with write_transaction(engine) as session:
        row = ReviewBatch(**batch)
        session.add(row)
        session.flush()
        session.add_all(ReviewItem(batch_id=row.id, **item) for item in items)
        return row


def _item_and_batch(session: Session, item_id: str) -> tuple[ReviewItem, ReviewBatch]:
    item = session.get(ReviewItem, item_id)
    if item is None:
        batch_id = item_id.rsplit("-", 1)[0] if item_id.count("-") >= 2 else None
        hint = "item ids look like rb-1a2b3c4d-0; get one with `harness review next BATCH --reviewer NAME`"
        if batch_id and session.get(ReviewBatch, batch_id) is not None:
            n = session.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.batch_id == batch_id))
            hint = f"batch {batch_id} has items {batch_id}-0 to {batch_id}-{(n or 1) - 1}"
        raise UnknownItemError(f"no review item {item_id!r}", hint=hint)
    batch = session.get(ReviewBatch, item.batch_id)
    assert batch is not None
    return item, batch


def _batch_of_item(engine: Engine, item_id: str) -> str:
    with Session(engine) as session:
        item, _batch = _item_and_batch(session, item_id)
        return item.batch_id


def claim_next(engine: Engine, batch_id: str, reviewer: str, now_ts: float,
               claimed_at: _dt.datetime) -> tuple[ReviewItem, ReviewBatch, float] | None:
    """Claim the next item of ``batch_id`` for ``reviewer``; returns ``(item, batch, lease expiry)`` or None.

    The reviewer's own live claim is returned again (calling next twice does not claim two items).
    Otherwise the lowest-position item that this reviewer has not submitted, skipped or labelled and
    whose submitted labels plus live claims are below the overlap is claimed; the reviewer's own
    expired claim on an item may be renewed. None when no such item is left.
    """
    with write_transaction(engine, batch_id) as session:
        batch = session.get(ReviewBatch, batch_id)
        assert batch is not None
        mine = {a.item_id: a for a in session.scalars(select(ReviewAssignment).where(
            ReviewAssignment.batch_id == batch_id, ReviewAssignment.reviewer == reviewer))}
        live = [a for a in mine.values() if a.status == CLAIMED and a.expires_ts > now_ts]
        if live:
            claim = min(live, key=lambda a: a.expires_ts)
            item = session.get(ReviewItem, claim.item_id)
            assert item is not None
            return item, batch, claim.expires_ts
        labelled = set(session.scalars(select(ReviewLabel.item_id).where(
            ReviewLabel.batch_id == batch_id, ReviewLabel.reviewer == reviewer)))
        done_by_me = labelled | {i for i, a in mine.items() if a.status in (SUBMITTED, SKIPPED)}
        occupancy: dict[str, int] = {}
        for item_id, n in session.execute(select(ReviewLabel.item_id, func.count()).where(
                ReviewLabel.batch_id == batch_id).group_by(ReviewLabel.item_id)):
            occupancy[item_id] = occupancy.get(item_id, 0) + n
        held = select(ReviewAssignment.item_id, func.count()).where(
            ReviewAssignment.batch_id == batch_id, ReviewAssignment.status == CLAIMED,
            ReviewAssignment.expires_ts > now_ts).group_by(ReviewAssignment.item_id)
        for item_id, n in session.execute(held):
            occupancy[item_id] = occupancy.get(item_id, 0) + n
        positions = session.execute(select(ReviewItem.id).where(ReviewItem.batch_id == batch_id)
                                    .order_by(ReviewItem.position)).scalars()
        chosen = next((i for i in positions if i not in done_by_me and occupancy.get(i, 0) < batch.overlap), None)
        if chosen is None:
            return None
        expires = now_ts + batch.lease_s
        claim = mine.get(chosen)
        if claim is None:
            session.add(ReviewAssignment(batch_id=batch_id, item_id=chosen, reviewer=reviewer, status=CLAIMED,
                                         claimed_at=claimed_at, expires_ts=expires))
        else:  # the reviewer's own expired claim, renewed
            claim.claimed_at, claim.expires_ts = claimed_at, expires
        item = session.get(ReviewItem, chosen)
        assert item is not None
        return item, batch, expires


#: Builds a label's ``(values, candidate, winner)`` from the batch and item; raises when the answer is invalid.
LabelBuilder = Callable[[ReviewBatch, ReviewItem], tuple[dict[str, Any], "str | None", "str | None"]]


def submit_label(engine: Engine, item_id: str, reviewer: str, now_ts: float, submitted_at: _dt.datetime,
                 build: LabelBuilder) -> tuple[ReviewLabel, bool]:
    """Store ``reviewer``'s answer for ``item_id``; returns ``(label, created)``.

    A label already stored for this item and reviewer is returned unchanged with ``created`` False
    (a retried submit counts once). Raises :class:`UnknownItemError`, :class:`NotClaimedError`,
    :class:`LeaseExpiredError`, or whatever ``build`` raises, with nothing changed.
    """
    with write_transaction(engine, _batch_of_item(engine, item_id)) as session:
        item, batch = _item_and_batch(session, item_id)
        existing = session.scalars(select(ReviewLabel).where(ReviewLabel.item_id == item_id,
                                                             ReviewLabel.reviewer == reviewer)).first()
        if existing is not None:
            return existing, False
        claim = session.scalars(select(ReviewAssignment).where(ReviewAssignment.item_id == item_id,
                                                               ReviewAssignment.reviewer == reviewer)).first()
        if claim is None or claim.status != CLAIMED:
            state = "skipped it" if claim is not None and claim.status == SKIPPED else "has not claimed it"
            raise NotClaimedError(f"reviewer {reviewer!r} cannot submit item {item_id!r}: the reviewer {state}",
                                  hint=f"claim an item first with `harness review next {batch.id} --reviewer "
                                       f"{reviewer}` and submit the item it returns")
        if claim.expires_ts <= now_ts:
            expired = _dt.datetime.fromtimestamp(claim.expires_ts, _dt.UTC).isoformat(timespec="seconds")
            raise LeaseExpiredError(
                f"reviewer {reviewer!r}'s claim on item {item_id!r} expired at {expired} "
                f"(leases last {batch.lease_s} s); the answer was not stored",
                hint=f"run `harness review next {batch.id} --reviewer {reviewer}` to claim it again "
                     "(if no one else took it) and submit again")
        values, candidate, winner = build(batch, item)
        label = ReviewLabel(batch_id=batch.id, item_id=item_id, reviewer=reviewer, kind=batch.kind,
                            candidate=candidate, values=values, winner=winner, source="queue",
                            submitted_at=submitted_at)
        session.add(label)
        claim.status = SUBMITTED
        session.flush()
        return label, True


def skip_claim(engine: Engine, item_id: str, reviewer: str) -> None:
    """Mark ``reviewer``'s claim on ``item_id`` skipped (released; never offered to them again).

    Skipping an item already skipped does nothing. Raises :class:`UnknownItemError` or
    :class:`NotClaimedError` (never claimed, or already answered) with nothing changed.
    """
    with write_transaction(engine, _batch_of_item(engine, item_id)) as session:
        item, batch = _item_and_batch(session, item_id)
        claim = session.scalars(select(ReviewAssignment).where(ReviewAssignment.item_id == item_id,
                                                               ReviewAssignment.reviewer == reviewer)).first()
        if claim is not None and claim.status == SKIPPED:
            return
        if claim is None or claim.status != CLAIMED:
            state = "already submitted it" if claim is not None else "has not claimed it"
            raise NotClaimedError(f"reviewer {reviewer!r} cannot skip item {item_id!r}: the reviewer {state}",
                                  hint=f"skip the item `harness review next {batch.id} --reviewer {reviewer}` "
                                       "returned to you")
        claim.status = SKIPPED


def insert_labels(engine: Engine, batch_id: str, build: Callable[[Session, ReviewBatch], list[ReviewLabel]]) -> int:
    """Insert the labels ``build`` makes from the locked batch in one transaction (all or nothing); returns how many."""
    with write_transaction(engine, batch_id) as session:
        batch = session.get(ReviewBatch, batch_id)
        assert batch is not None
        labels = build(session, batch)
        session.add_all(labels)
        return len(labels)
