"""Gateway traffic: one row per request served (``ab_requests``) and named outcomes (``ab_outcomes``).

``ab_requests`` is the exposure log of a gateway experiment: the assigned ``variant`` (the unit's
arm, intention-to-treat), the variant that actually answered (``served_by``: the control after a
fallback), latency, tokens and cost from the backend's own figures. ``ab_outcomes`` holds feedback
as named numbers (``thumbs_up``, ``resolved``, a 1-5 ``rating`` ...), so any outcome can be analysed
without a schema change.

Attribution rule: an outcome counts on the unit's **assigned** variant (intention-to-treat), also
when a fallback answered; feedback by ``request_id`` takes that request's assigned variant, feedback
by ``unit_id`` the variant of the unit's latest request. The same feedback twice counts once
(unique on experiment, request, unit, name; a repeat is ignored).

Queries: :func:`log_request`, :func:`log_outcomes`, :func:`requests`, :func:`outcome_names`,
:func:`request_count`; :func:`insert_requests` and :func:`insert_outcomes` write on a caller's
connection (the gateway commits many requests and feedback posts in one transaction). Those two run
on every gateway request, so they send fixed SQL strings with row tuples straight to the driver
(``exec_driver_sql``: no statement to build, compile or look up in a cache), written once per DBAPI
parameter style: about half the cost of an SQLAlchemy ``insert()`` per row.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.errors import DataError, HarnessError
from harness.store.base import Base

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


class UnknownRequestError(HarnessError):
    """Feedback named a request id (or unit id) the experiment never served (a 404 for the gateway)."""


class AbRequest(Base):
    """One request the gateway served (see the module docstring)."""

    __tablename__ = "ab_requests"
    __table_args__ = (Index("ix_ab_requests_unit", "experiment_id", "unit_id"),)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str] = mapped_column(String(200))  # assigned
    served_by: Mapped[str | None] = mapped_column(String(200))  # answered (NULL when nothing answered)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_reason: Mapped[str | None] = mapped_column(String(500))
    ts: Mapped[float] = mapped_column(Float)  # epoch seconds, UTC
    latency_s: Mapped[float | None] = mapped_column(Float)  # end to end, as the client saw it (fallback included)
    backend_latency_s: Mapped[float | None] = mapped_column(Float)  # the answering backend's own figure
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # "ok" | "error"
    model: Mapped[str | None] = mapped_column(String(500))  # the model name that answered


class AbOutcome(Base):
    """One named numeric outcome of a request or unit (feedback), counted once."""

    __tablename__ = "ab_outcomes"
    __table_args__ = (UniqueConstraint("experiment_id", "request_id", "unit_id", "name"),
                      Index("ix_ab_outcomes_name", "experiment_id", "name"))
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"))
    # "" (not NULL) when the feedback came by unit id, so the unique key also holds for those rows
    request_id: Mapped[str] = mapped_column(String(64), default="")
    unit_id: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    ts: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class RequestRow:
    """A stored request (the columns of :class:`AbRequest`)."""

    request_id: str
    unit_id: str
    variant: str
    served_by: str | None
    fallback: bool
    fallback_reason: str | None
    ts: float
    latency_s: float | None
    backend_latency_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    status: str
    model: str | None


_REQUEST_FIELDS = tuple(RequestRow.__dataclass_fields__)
_REQUEST_FIELD_SET = frozenset(_REQUEST_FIELDS)
_REQUEST_COLUMNS = ("experiment_id", *_REQUEST_FIELDS)  # the order of insert_requests' row tuples
_request_tuple = operator.itemgetter(*_REQUEST_COLUMNS)

# The hot-path statements, with ``{}`` for each parameter (in order): see _sql for the driver's markers.
_HOT_SQL = {
    "insert_request": f"INSERT INTO ab_requests ({', '.join(_REQUEST_COLUMNS)}) "
                      f"VALUES ({', '.join(['{}'] * len(_REQUEST_COLUMNS))})",
    # feedback by request id: the request's unit and assigned variant, in the insert itself, so a new
    # outcome costs one statement; 0 rows written is a repeat or an unknown request (see insert_outcomes)
    "outcome_by_request": "INSERT INTO ab_outcomes (experiment_id, request_id, unit_id, variant, name, value, ts) "
                          "SELECT experiment_id, request_id, unit_id, variant, {}, {}, {} FROM ab_requests "
                          "WHERE request_id = {} AND experiment_id = {} "
                          "ON CONFLICT (experiment_id, request_id, unit_id, name) DO NOTHING",
    # feedback by unit id: the variant of the unit's latest request
    "outcome_by_unit": "INSERT INTO ab_outcomes (experiment_id, request_id, unit_id, variant, name, value, ts) "
                       "SELECT experiment_id, '', unit_id, variant, {}, {}, {} FROM ab_requests "
                       "WHERE experiment_id = {} AND unit_id = {} ORDER BY ts DESC LIMIT 1 "
                       "ON CONFLICT (experiment_id, request_id, unit_id, name) DO NOTHING",
    "request_exists": "SELECT 1 FROM ab_requests WHERE request_id = {} AND experiment_id = {}",
    "unit_exists": "SELECT 1 FROM ab_requests WHERE experiment_id = {} AND unit_id = {} LIMIT 1",
}
_SQL_CACHE: dict[tuple[str, str], str] = {}


def _sql(conn: Connection, name: str) -> tuple[str, bool]:
    """Return the hot-path statement ``name`` in the driver's parameter style, and whether it takes a dict.

    Positional styles (``qmark`` for SQLite, ``pyformat``/``format`` for the PostgreSQL drivers,
    ``numeric``) take a row tuple; ``named`` takes ``{"p0": ..., "p1": ...}``.
    """
    style = conn.dialect.paramstyle
    sql = _SQL_CACHE.get((name, style))
    if sql is None:
        template = _HOT_SQL[name]
        count = template.count("{}")
        if style == "qmark":
            markers = ["?"] * count
        elif style in ("format", "pyformat"):
            markers = ["%s"] * count
        elif style == "numeric":
            markers = [f":{i + 1}" for i in range(count)]
        else:  # named
            markers = [f":p{i}" for i in range(count)]
        sql = _SQL_CACHE[(name, style)] = template.format(*markers)
    return sql, style == "named"


def _execute(conn: Connection, name: str, params: tuple[Any, ...] | list[tuple[Any, ...]]) -> Any:
    """Run hot-path statement ``name`` with one row tuple (or a list: executemany); returns the result."""
    sql, named = _sql(conn, name)
    if named:
        params = ([{f"p{i}": v for i, v in enumerate(row)} for row in params] if isinstance(params, list)
                  else {f"p{i}": v for i, v in enumerate(params)})  # type: ignore[assignment]
    return conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]


def experiment_id(engine: Engine, experiment: str) -> int:
    """The id of ``experiment``; raises :class:`DataError` when it does not exist."""
    from sqlalchemy import text

    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM ab_experiments WHERE name = :n"), {"n": experiment}).scalar()
    if found is None:
        raise DataError(f"unknown experiment {experiment!r}", hint="start the gateway on it or create it first")
    return int(found)


def log_request(engine: Engine, experiment: str | int, *, request_id: str, unit_id: str, variant: str,
                served_by: str | None, ts: float, **fields: Any) -> None:
    """Insert one request row (its own transaction, committed on return); returns nothing.

    ``experiment`` is a name or an experiment id; ``fields`` are the optional columns of
    :class:`AbRequest` (``fallback``, ``fallback_reason``, ``latency_s``, ``prompt_tokens`` ...).
    """
    log_requests(engine, experiment, [{"request_id": request_id, "unit_id": unit_id, "variant": variant,
                                       "served_by": served_by, "ts": ts, **fields}])


def log_requests(engine: Engine, experiment: str | int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert request rows in one transaction (all or nothing); returns how many were written.

    Each row has ``request_id``, ``unit_id``, ``variant``, ``served_by``, ``ts`` and any optional column
    of :class:`AbRequest`; unknown keys and a bad ``status`` raise :class:`DataError`.
    """
    exp_id = experiment if isinstance(experiment, int) else experiment_id(engine, experiment)
    values = request_values(exp_id, rows)
    if values:
        with engine.begin() as conn:
            insert_requests(conn, values)
    return len(values)


def request_values(exp_id: int, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the checked ``ab_requests`` values of ``rows`` (see :func:`log_requests`) for :func:`insert_requests`."""
    values = []
    for row in rows:
        if not _REQUEST_FIELD_SET.issuperset(row):
            unknown = sorted(set(row) - _REQUEST_FIELD_SET)
            raise DataError(f"request {row.get('request_id')}: unknown column {unknown[0]!r}",
                            hint=f"columns: {', '.join(_REQUEST_FIELDS)}")
        status = row.get("status") or "ok"
        if status not in ("ok", "error"):
            raise DataError(f"request {row.get('request_id')}: status must be 'ok' or 'error', got {status!r}")
        reason, model = row.get("fallback_reason"), row.get("model")
        values.append({**dict.fromkeys(_REQUEST_FIELDS), **row, "experiment_id": exp_id,
                       "unit_id": str(row["unit_id"]), "ts": float(row["ts"]), "status": status,
                       "fallback": bool(row.get("fallback")), "fallback_reason": reason[:500] if reason else None,
                       "model": model[:500] if model else None})
    return values


def insert_requests(conn: Connection, values: Sequence[Mapping[str, Any]]) -> None:
    """Insert :func:`request_values` rows on ``conn`` (the caller's transaction); returns nothing."""
    if values:
        rows = [_request_tuple(v) for v in values]
        _execute(conn, "insert_request", rows if len(rows) > 1 else rows[0])


def check_outcomes(outcomes: Any) -> dict[str, float]:
    """Return the outcomes as ``{name: float}``; raises :class:`DataError` for a bad name, value or none at all."""
    import math

    if not isinstance(outcomes, Mapping) or not outcomes:
        raise DataError("feedback has no outcomes", hint='send e.g. {"outcomes": {"thumbs_up": 1}}')
    clean: dict[str, float] = {}
    for name, value in outcomes.items():
        if not isinstance(name, str) or not name or len(name) > 100:
            raise DataError(f"outcome name {name!r}: use a non-empty name of at most 100 characters")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataError(f"outcome {name!r}: value must be a finite number, got {value!r}")
        clean[name] = float(value)
    return clean


def log_outcomes(engine: Engine, experiment: str | int, outcomes: Mapping[str, float], *,
                 request_id: str | None = None, unit_id: str | None = None, ts: float | None = None) -> int:
    """Record named outcomes for a request (or a unit); returns how many were new (repeats count 0).

    Exactly one of ``request_id``/``unit_id``. Raises :class:`UnknownRequestError` when the experiment
    never served that request (or unit), :class:`DataError` for a bad name or value.
    """
    import time

    if (request_id is None) == (unit_id is None):
        raise DataError("feedback needs exactly one of request_id or unit_id")
    clean = check_outcomes(outcomes)
    exp_id = experiment if isinstance(experiment, int) else experiment_id(engine, experiment)
    with engine.begin() as conn:
        return insert_outcomes(conn, exp_id, clean, request_id=request_id, unit_id=unit_id,
                               ts=time.time() if ts is None else float(ts))


def insert_outcomes(conn: Connection, exp_id: int, outcomes: Mapping[str, float], *, request_id: str | None,
                    unit_id: str | None, ts: float) -> int:
    """Insert :func:`check_outcomes` values on ``conn`` (the caller's transaction); returns how many were new.

    Exactly one of ``request_id``/``unit_id``; raises :class:`UnknownRequestError` (having written nothing)
    when the experiment never served it.
    """
    written = 0
    for name, value in outcomes.items():  # one statement per outcome: rowcount says whether it was new
        if request_id is not None:
            result = _execute(conn, "outcome_by_request", (name, value, ts, request_id, exp_id))
        else:
            result = _execute(conn, "outcome_by_unit", (name, value, ts, exp_id, str(unit_id)))
        written += max(0, result.rowcount or 0)
    if written == 0:  # nothing new: a repeat, or a request (unit) never served: the latter is an error
        if request_id is not None:
            if _execute(conn, "request_exists", (request_id, exp_id)).first() is None:
                raise UnknownRequestError(f"unknown request id {request_id!r}",
                                          hint="use the id of a gateway response (its 'id' or X-Harness-Request)")
        elif _execute(conn, "unit_exists", (exp_id, str(unit_id))).first() is None:
            raise UnknownRequestError(f"unknown unit id {unit_id!r}: it sent no request in this experiment",
                                      hint="send feedback for units the gateway has served")
    return written


def requests(engine: Engine, experiment: str) -> list[RequestRow]:
    """Every request of ``experiment``, oldest first."""
    from sqlalchemy import text

    exp_id = experiment_id(engine, experiment)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(_REQUEST_FIELDS)} FROM ab_requests WHERE experiment_id = :e "
                                 "ORDER BY ts, request_id"), {"e": exp_id}).all()
    return [RequestRow(**dict(zip(_REQUEST_FIELDS, (*r[:4], bool(r[4]), *r[5:]), strict=True))) for r in rows]


def request_count(engine: Engine, experiment: str) -> int:
    """How many requests ``experiment`` has logged."""
    from sqlalchemy import text

    exp_id = experiment_id(engine, experiment)
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM ab_requests WHERE experiment_id = :e"),
                                {"e": exp_id}).scalar_one())


def outcome_names(engine: Engine, experiment: str) -> list[str]:
    """The distinct outcome names recorded for ``experiment``, sorted."""
    from sqlalchemy import text

    exp_id = experiment_id(engine, experiment)
    with engine.connect() as conn:
        return sorted(str(n) for n in conn.execute(text("SELECT DISTINCT name FROM ab_outcomes "
                                                        "WHERE experiment_id = :e"), {"e": exp_id}).scalars())


def outcomes(engine: Engine, experiment: str) -> list[dict[str, Any]]:
    """Every outcome row of ``experiment`` as dicts (request_id, unit_id, variant, name, value, ts)."""
    from sqlalchemy import text

    exp_id = experiment_id(engine, experiment)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT request_id, unit_id, variant, name, value, ts FROM ab_outcomes "
                                 "WHERE experiment_id = :e ORDER BY id"), {"e": exp_id}).mappings().all()
    return [dict(r) for r in rows]
