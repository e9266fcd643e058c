"""The review queue's Python API: batches, claims with leases, submissions, skips, progress, import.

Every function takes the workspace's Engine first. Rules: an item is handed out to at most
``overlap`` distinct reviewers (submitted labels plus live claims); an expired claim goes back to the
pool; a reviewer never gets an item twice (whatever they did with it) and never sees others'
answers; a retried submit returns the stored label (no double count). Errors are
:class:`harness.errors.HarnessError` subclasses and change nothing. Storage and locking live in
:mod:`harness.store.review`.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import DataError, HarnessError
from harness.review.rubric import Rubric
from harness.store import review as store
from harness.store.review import (
    LeaseExpiredError,
    NotClaimedError,
    ReviewError,
    UnknownBatchError,
    UnknownItemError,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

__all__ = [
    "KINDS", "CHOICES", "PAIRWISE_GUIDELINE", "BatchInfo", "ItemRecord", "ReviewTask", "LabelRecord",
    "ReviewError", "UnknownBatchError", "UnknownItemError", "NotClaimedError", "LeaseExpiredError",
    "create_batch", "get_batch", "list_batches", "next_item", "submit", "skip", "batch_status", "items",
    "labels", "import_labels",
]

KINDS = ("rubric", "pairwise")
CHOICES = ("left", "right", "tie")
DEFAULT_LEASE_S = 900
PAIRWISE_GUIDELINE = ("Read the conversation and the reference answer, then choose the better reply: left, right, "
                      "or tie when neither is better. The replies come from different models, shown in random "
                      "order without their names.")


@dataclass(frozen=True)
class BatchInfo:
    """A stored batch: where its items come from, how they are reviewed and by how many reviewers."""

    id: str
    run_id: str
    dataset: str
    kind: Literal["rubric", "pairwise"]
    strategy: str
    overlap: int
    candidates: tuple[str, ...]
    rubric: Rubric | None
    n_items: int
    lease_s: int
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """The batch as JSON-able data (the rubric as :meth:`Rubric.to_dict`)."""
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        data["rubric"] = self.rubric.to_dict() if self.rubric is not None else None
        return data


@dataclass(frozen=True)
class ItemRecord:
    """What the store keeps per item (not shown to reviewers as is: it names the candidates)."""

    id: str
    batch_id: str
    position: int
    example_id: str
    messages: tuple[dict, ...]
    reference: str
    candidates: tuple[str, ...]
    outputs: tuple[str, ...]
    metadata: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewTask:
    """What a reviewer sees: no candidate names for pairwise items and no other reviewer's labels."""

    item_id: str
    batch_id: str
    kind: str
    messages: tuple[dict, ...]
    reference: str | None
    outputs: tuple[str, ...]
    rubric: Rubric | None
    guideline: str
    lease_expires_at: str
    position: int
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-able data (for ``harness review next --json`` and the app)."""
        data = asdict(self)
        data["messages"], data["outputs"] = list(self.messages), list(self.outputs)
        data["rubric"] = self.rubric.to_dict() if self.rubric is not None else None
        return data


@dataclass(frozen=True)
class LabelRecord:
    """A reviewer's answer: rubric values for one candidate, or a pairwise choice and its winner."""

    item_id: str
    batch_id: str
    reviewer: str
    kind: str
    candidate: str | None
    values: dict
    winner: str | None
    submitted_at: str
    source: str = "queue"

    def to_dict(self) -> dict[str, Any]:
        """The label as JSON-able data."""
        return asdict(self)


# conversions ---------------------------------------------------------------------------------------

def _iso(value: _dt.datetime | None) -> str:
    return store.as_utc(value).isoformat() if value is not None else ""


def _now(now: _dt.datetime | None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.UTC)
    return now.replace(tzinfo=_dt.UTC) if now.tzinfo is None else now


def _batch_info(row: store.ReviewBatch) -> BatchInfo:
    rubric = Rubric.from_dict(row.rubric, source=f"batch {row.id} rubric") if row.rubric else None
    return BatchInfo(id=row.id, run_id=row.run_id, dataset=row.dataset, kind=row.kind,  # type: ignore[arg-type]
                     strategy=row.strategy, overlap=row.overlap, candidates=tuple(row.candidates), rubric=rubric,
                     n_items=row.n_items, lease_s=row.lease_s, created_at=_iso(row.created_at))


def _item_record(row: store.ReviewItem) -> ItemRecord:
    return ItemRecord(id=row.id, batch_id=row.batch_id, position=row.position, example_id=row.example_id,
                      messages=tuple(row.messages), reference=row.reference, candidates=tuple(row.candidates),
                      outputs=tuple(row.outputs), metadata=dict(row.metadata_json), scores=dict(row.scores))


def _label_record(row: store.ReviewLabel) -> LabelRecord:
    return LabelRecord(item_id=row.item_id, batch_id=row.batch_id, reviewer=row.reviewer, kind=row.kind,
                       candidate=row.candidate, values=dict(row.values), winner=row.winner,
                       submitted_at=_iso(row.submitted_at), source=row.source)


def _check_reviewer(reviewer: str) -> str:
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise HarnessError(f"reviewer name {reviewer!r} is empty", hint="pass --reviewer NAME (any non-empty name)")
    if len(reviewer) > 200:
        raise HarnessError(f"reviewer name {reviewer[:40]!r}... is longer than 200 characters",
                           hint="use a shorter reviewer name")
    return reviewer.strip()


# batches -------------------------------------------------------------------------------------------

def _item_field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def create_batch(engine: Engine, *, run_id: str, dataset: str, kind: str, strategy: str, overlap: int,
                 candidates: Sequence[str], rubric: Rubric | None, items: Sequence[Mapping[str, Any] | ItemRecord],
                 lease_s: int = DEFAULT_LEASE_S) -> BatchInfo:
    """Store a new batch with its items (ids ``<batch>-<position>``, in the order given); returns it.

    ``items`` are :class:`ItemRecord` objects or dicts with ``example_id``, ``messages``, ``reference``,
    ``candidates``, ``outputs``, ``metadata`` and ``scores``. Raises :class:`HarnessError` for a bad
    kind, overlap, lease, candidate list or item.
    """
    if kind not in KINDS:
        raise HarnessError(f"unknown review kind {kind!r}", hint=f"--kind must be one of {', '.join(KINDS)}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
        raise HarnessError(f"--overlap must be a whole number of reviewers of at least 1 (got {overlap!r})")
    if isinstance(lease_s, bool) or not isinstance(lease_s, int) or lease_s < 1:
        raise HarnessError(f"the lease must be at least 1 second (got {lease_s!r})", hint="e.g. lease_s=900")
    candidates = tuple(candidates)
    if kind == "pairwise" and (len(candidates) != 2 or candidates[0] == candidates[1]):
        raise HarnessError(f"a pairwise batch compares exactly two different candidates, got {list(candidates)}",
                           hint="pass --candidates a,b")
    if kind == "rubric" and not candidates:
        raise HarnessError("a rubric batch needs at least one candidate", hint="pass --candidates a[,b...]")
    if kind == "rubric" and rubric is None:
        raise HarnessError("a rubric batch needs a rubric", hint="pass rubric=DEFAULT_RUBRIC or --rubric FILE")
    if not items:
        raise HarnessError(f"no items to review in run {run_id} dataset {dataset}",
                           hint="check the run has predictions for the chosen candidates and dataset")
    batch_id = f"rb-{uuid.uuid4().hex[:8]}"
    rows = []
    for position, item in enumerate(items):
        item_candidates = list(_item_field(item, "candidates", ()))
        outputs = list(_item_field(item, "outputs", ()))
        where = f"item {position} (example {_item_field(item, 'example_id')!r})"
        expected = 2 if kind == "pairwise" else 1
        if len(item_candidates) != expected or len(outputs) != expected:
            raise HarnessError(f"{where}: a {kind} item shows {expected} candidate output(s), got "
                               f"{len(item_candidates)} candidates and {len(outputs)} outputs")
        unknown = [c for c in item_candidates if c not in candidates]
        if unknown:
            raise HarnessError(f"{where}: candidate {unknown[0]!r} is not one of the batch's {list(candidates)}")
        rows.append({"id": f"{batch_id}-{position}", "position": position,
                     "example_id": str(_item_field(item, "example_id")),
                     "messages": [dict(m) for m in _item_field(item, "messages", ()) or ()],
                     "reference": str(_item_field(item, "reference", "") or ""),
                     "candidates": item_candidates, "outputs": [str(o) for o in outputs],
                     "metadata_json": dict(_item_field(item, "metadata", {}) or {}),
                     "scores": dict(_item_field(item, "scores", {}) or {})})
    from harness.io import json_safe

    rows = json_safe(rows)
    row = store.insert_batch(engine, {
        "id": batch_id, "run_id": run_id, "dataset": dataset, "kind": kind, "strategy": strategy,
        "overlap": overlap, "candidates": list(candidates),
        "rubric": rubric.to_dict() if kind == "rubric" and rubric is not None else None,
        "n_items": len(rows), "lease_s": lease_s}, rows)
    return _batch_info(row)


def get_batch(engine: Engine, batch_id: str) -> BatchInfo:
    """The batch ``batch_id``; raises :class:`UnknownBatchError` listing the known batches."""
    return _batch_info(store.batch_rows(engine, batch_id)[0])


def list_batches(engine: Engine) -> list[BatchInfo]:
    """Every batch, oldest first."""
    return [_batch_info(row) for row in store.batch_rows(engine)]


def items(engine: Engine, batch_id: str) -> list[ItemRecord]:
    """The items of ``batch_id`` in position order (raises :class:`UnknownBatchError`)."""
    store.batch_rows(engine, batch_id)
    return [_item_record(row) for row in store.item_rows(engine, batch_id)]


def labels(engine: Engine, batch_id: str) -> list[LabelRecord]:
    """Every label of ``batch_id``, by item position, then submission time, then reviewer."""
    store.batch_rows(engine, batch_id)
    return [_label_record(row) for row, _position in store.label_rows(engine, batch_id)]


# reviewing -----------------------------------------------------------------------------------------

def next_item(engine: Engine, batch_id: str, reviewer: str, *, now: _dt.datetime | None = None) -> ReviewTask | None:
    """Claim the next item for ``reviewer`` with a lease of the batch's ``lease_s``; returns the task or None.

    A reviewer who already holds a live claim gets that item again. None when nothing is left for
    this reviewer (everything done, skipped by them, or held by ``overlap`` others).
    """
    reviewer = _check_reviewer(reviewer)
    moment = _now(now)
    claimed = store.claim_next(engine, batch_id, reviewer, moment.timestamp(), moment)
    if claimed is None:
        return None
    item, batch, expires = claimed
    info = _batch_info(batch)
    expires_at = _dt.datetime.fromtimestamp(expires, _dt.UTC).isoformat()
    guideline = info.rubric.guideline if info.rubric is not None else PAIRWISE_GUIDELINE
    return ReviewTask(item_id=item.id, batch_id=batch.id, kind=batch.kind,
                      messages=tuple(dict(m) for m in item.messages), reference=item.reference,
                      outputs=tuple(item.outputs), rubric=info.rubric, guideline=guideline,
                      lease_expires_at=expires_at, position=item.position, n_items=batch.n_items)


def _answer(batch: store.ReviewBatch, item: store.ReviewItem, values: Mapping[str, Any] | None,
            choice: str | None, where: str) -> tuple[dict[str, Any], str | None, str | None]:
    """``(values, candidate, winner)`` of an answer for ``item``; raises :class:`DataError` when invalid."""
    if batch.kind == "pairwise":
        if choice is None and values is not None:
            choice = values.get("choice")
        extra = sorted(set(values or {}) - {"choice"})
        if extra:
            raise DataError(f"{where}: a pairwise answer has only a choice, got field {extra[0]!r}",
                            hint="give choice=left, right or tie")
        normal = str(choice).strip().lower() if choice is not None else None
        if normal not in CHOICES:
            raise DataError(f"{where}: choice {choice!r} is not one of {', '.join(CHOICES)}",
                            hint="left or right names the better reply as shown; tie when neither is better")
        winner = {"left": item.candidates[0], "right": item.candidates[1], "tie": None}[normal]
        return {"choice": normal}, None, winner
    if choice is not None:
        raise DataError(f"{where}: a rubric item takes rubric values, not a choice",
                        hint="pass the rubric's fields, e.g. {'helpfulness': 4, ...}")
    rubric = Rubric.from_dict(batch.rubric, source=f"batch {batch.id} rubric")
    return rubric.validate(values or {}, where=where), item.candidates[0], None


def submit(engine: Engine, item_id: str, reviewer: str, values: Mapping[str, Any] | None = None, *,
           choice: str | None = None, now: _dt.datetime | None = None) -> LabelRecord:
    """Store ``reviewer``'s answer for the item they claimed; returns the stored label.

    Rubric items take ``values`` (validated against the batch's rubric); pairwise items take
    ``choice`` (left, right or tie). Idempotent: submitting an item again returns the label stored the
    first time, unchanged. Raises, with nothing changed: :class:`UnknownItemError`,
    :class:`NotClaimedError`, :class:`LeaseExpiredError`, or :class:`DataError` for an invalid answer.
    """
    reviewer = _check_reviewer(reviewer)
    moment = _now(now)
    where = f"item {item_id} (reviewer {reviewer})"
    label, _created = store.submit_label(engine, item_id, reviewer, moment.timestamp(), moment,
                                         lambda batch, item: _answer(batch, item, values, choice, where))
    return _label_record(label)


def skip(engine: Engine, item_id: str, reviewer: str, *, now: _dt.datetime | None = None) -> None:
    """Release ``reviewer``'s claim on ``item_id``; the item is not offered to them again. Returns None.

    ``now`` is accepted for symmetry with :func:`submit`; a skip is allowed after the lease ran out.
    """
    store.skip_claim(engine, item_id, _check_reviewer(reviewer))


def batch_status(engine: Engine, batch_id: str | None = None, *, now: _dt.datetime | None = None) -> list[dict]:
    """Progress per batch (all batches, or ``batch_id``): one dict each, oldest batch first.

    ``{batch_id, run_id, kind, n_items, overlap, labels, needed, done, in_progress, remaining,
    reviewers: {name: {submitted, skipped, claimed}}}``: ``done`` items have ``overlap`` labels,
    ``in_progress`` items have some labels or live claims, ``remaining`` the others; ``claimed``
    counts live claims only.
    """
    now_ts = _now(now).timestamp()
    report = []
    for batch in store.batch_rows(engine, batch_id):
        per_item: dict[str, int] = {}
        reviewers: dict[str, dict[str, int]] = {}
        label_list = store.label_rows(engine, batch.id)
        for label, _position in label_list:
            per_item[label.item_id] = per_item.get(label.item_id, 0) + 1
            _tally(reviewers, label.reviewer)["submitted"] += 1
        held: set[str] = set()
        for claim in store.assignment_rows(engine, batch.id):
            if claim.status == store.SKIPPED:
                _tally(reviewers, claim.reviewer)["skipped"] += 1
            elif claim.status == store.CLAIMED and claim.expires_ts > now_ts:
                _tally(reviewers, claim.reviewer)["claimed"] += 1
                held.add(claim.item_id)
        finished = {i for i, n in per_item.items() if n >= batch.overlap}
        done = len(finished)
        started = (set(per_item) | held) - finished
        report.append({"batch_id": batch.id, "run_id": batch.run_id, "kind": batch.kind, "n_items": batch.n_items,
                       "overlap": batch.overlap, "labels": len(label_list), "needed": batch.n_items * batch.overlap,
                       "done": done, "in_progress": len(started), "remaining": batch.n_items - done - len(started),
                       "reviewers": dict(sorted(reviewers.items()))})
    return report


def _tally(reviewers: dict[str, dict[str, int]], name: str) -> dict[str, int]:
    return reviewers.setdefault(name, {"submitted": 0, "skipped": 0, "claimed": 0})


# import --------------------------------------------------------------------------------------------

def _row_values(row: Mapping[str, Any], rubric: Rubric | None, where: str) -> dict[str, Any] | None:
    values = row.get("values")
    if isinstance(values, str) and values.strip().startswith("{"):
        import json

        try:
            values = json.loads(values)
        except (ValueError, RecursionError):
            raise DataError(f"{where}: field 'values' is not a JSON object: {values[:80]!r}",
                            hint='write values as {"field": value, ...}, or one column per rubric field') from None
    if isinstance(values, Mapping):
        return dict(values)
    if rubric is None:
        return None
    return {f.name: row[f.name] for f in rubric.fields if f.name in row}


def _import_choice(row: Mapping[str, Any], item: store.ReviewItem, values: Mapping[str, Any] | None) -> Any:
    choice = row.get("choice") if row.get("choice") not in (None, "") else (values or {}).get("choice")
    if choice in (None, "") and "winner" in row:
        winner = row.get("winner")
        if winner in (None, "", "tie"):
            return "tie"
        sides = {name: side for name, side in zip(item.candidates, ("left", "right"), strict=True)}
        if not isinstance(winner, str) or winner not in sides:
            return f"winner {winner}"  # rejected by the answer check, naming the value
        return sides[winner]
    return choice


def import_labels(engine: Engine, batch_id: str, rows: Iterable[Mapping[str, Any]], *,
                  now: _dt.datetime | None = None) -> int:
    """Store labels made elsewhere in ``batch_id``, all or nothing; returns how many were added.

    A row names its item by ``item_id`` (or ``example_id``, plus ``candidate`` when a rubric batch
    rates several) and its ``reviewer``; rubric rows carry ``values`` (a mapping) or one column per
    rubric field, pairwise rows a ``choice`` (or the ``winner``'s name, empty for a tie). Each row is
    validated against the rubric. A row equal to a label already stored is left out (re-importing an
    export adds nothing); a different answer by the same reviewer for the same item is an error.
    Raises :class:`DataError` naming the row and field; nothing is stored then.
    """
    rows = list(rows)
    moment = _now(now)

    def build(session: Session, batch: store.ReviewBatch) -> list[store.ReviewLabel]:
        from sqlalchemy import select

        rubric = Rubric.from_dict(batch.rubric, source=f"batch {batch.id} rubric") if batch.rubric else None
        by_id = {item.id: item for item in session.scalars(select(store.ReviewItem).where(
            store.ReviewItem.batch_id == batch.id))}
        by_example: dict[tuple[str, str | None], list[store.ReviewItem]] = {}
        for item in by_id.values():
            by_example.setdefault((item.example_id, None), []).append(item)
            if batch.kind == "rubric":
                by_example.setdefault((item.example_id, item.candidates[0]), []).append(item)
        stored = {(label.item_id, label.reviewer): label for label in session.scalars(select(store.ReviewLabel)
                                                                                       .where(store.ReviewLabel.batch_id == batch.id))}
        new: dict[tuple[str, str], store.ReviewLabel] = {}
        for number, row in enumerate(rows, start=1):
            where = f"import row {number}"
            if not isinstance(row, Mapping):
                raise DataError(f"{where}: expected an object with item_id, reviewer and values, got {row!r}")
            item = _import_item(row, batch, by_id, by_example, where)
            reviewer = row.get("reviewer")
            if not isinstance(reviewer, str) or not reviewer.strip():
                raise DataError(f"{where}: field 'reviewer' is missing or empty", hint="every row names its reviewer")
            reviewer = reviewer.strip()
            where = f"{where} (item {item.id}, reviewer {reviewer})"
            given = row.get("candidate")
            if batch.kind == "rubric" and given not in (None, "") and given != item.candidates[0]:
                raise DataError(f"{where}: candidate {given!r} is not the candidate rated in this item "
                                f"({item.candidates[0]!r})", hint="fix the row's candidate or item_id")
            values = _row_values(row, rubric, where)
            if batch.kind == "pairwise":
                answer = _answer(batch, item, None, _import_choice(row, item, values), where)
            else:
                answer = _answer(batch, item, values or {}, None, where)
            label = store.ReviewLabel(batch_id=batch.id, item_id=item.id, reviewer=reviewer, kind=batch.kind,
                                      candidate=answer[1], values=answer[0], winner=answer[2], source="import",
                                      submitted_at=moment)
            key = (item.id, reviewer)
            if key in new:
                raise DataError(f"{where}: a second label by the same reviewer for the same item",
                                hint="keep one row per item and reviewer")
            old = stored.get(key)
            if old is not None:
                if (old.values, old.candidate, old.winner) == (label.values, label.candidate, label.winner):
                    continue
                raise DataError(f"{where}: the reviewer already labelled this item with {old.values}",
                                hint="import under another reviewer name, or leave the row out")
            new[key] = label
        return list(new.values())

    return store.insert_labels(engine, batch_id, build)


def _import_item(row: Mapping[str, Any], batch: store.ReviewBatch, by_id: dict[str, store.ReviewItem],
                 by_example: dict[tuple[str, str | None], list[store.ReviewItem]], where: str) -> store.ReviewItem:
    item_id = row.get("item_id") or row.get("item")
    if item_id not in (None, ""):
        if not isinstance(item_id, str) or item_id not in by_id:
            raise UnknownItemError(f"{where}: no item {item_id!r} in batch {batch.id}",
                                   hint=f"items are {batch.id}-0 to {batch.id}-{batch.n_items - 1}")
        return by_id[str(item_id)]
    example = row.get("example_id")
    if example in (None, ""):
        raise DataError(f"{where}: the row names no item", hint="give item_id (or example_id and candidate)")
    candidate = row.get("candidate") if batch.kind == "rubric" and row.get("candidate") not in (None, "") else None
    if candidate is not None and not isinstance(candidate, str):
        raise DataError(f"{where}: field 'candidate' must be a candidate name, got {candidate!r}",
                        hint="give item_id, or example_id with the rated candidate")
    found = by_example.get((str(example), candidate), [])
    if len(found) != 1:
        what = "no item" if not found else f"{len(found)} items"
        raise DataError(f"{where}: {what} in batch {batch.id} for example {example!r}"
                        + (f" and candidate {candidate!r}" if candidate else ""),
                        hint="give item_id, or example_id with the rated candidate")
    return found[0]
