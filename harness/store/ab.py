"""The A/B event store: experiments (variants and weights), request-level events, per-unit rollup.

Python API for the analysis and for the traffic gateway (a later issue):
:func:`create_experiment`, :func:`get_experiment`, :func:`list_experiments`, :func:`delete_experiment`,
:func:`log_events` (rows) and :func:`log_event_columns` (column arrays, fastest) for bulk inserts in one
transaction, and :func:`rebuild_rollup`. Write events through ``log_events``/``log_event_columns``:
they keep the per-unit rollup ``ab_units`` in step, which the analysis
(:class:`harness.ab.store_source.StoreSource`) aggregates in SQL.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.errors import DataError
from harness.store.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


#: Metric columns of an event (NULL when not measured). ``covariate`` is a pre-period value of the
#: unit (e.g. its task-completion rate before the experiment) for CUPED, repeated on its events.
METRIC_COLUMNS = ("task_completed", "satisfaction", "escalated", "latency_s", "cost", "response_tokens",
                  "prompt_tokens", "covariate")
EVENT_COLUMNS = ("unit_id", "variant", "ts", *METRIC_COLUMNS)


class AbExperiment(Base):
    """An experiment: a name, its control variant, a description and an optional analysis config."""

    __tablename__ = "ab_experiments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    control: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)  # also hands out event sequence numbers
    created_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)


class AbVariant(Base):
    """A variant of an experiment with its traffic weight."""

    __tablename__ = "ab_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float)


class AbEvent(Base):
    """One request served to a unit (user/session) in a variant, with its measured outcomes.

    The primary key starts with (experiment, unit, variant) and, on SQLite, the table is clustered on
    it (WITHOUT ROWID): an experiment's events sit together and come out grouped by unit, so the
    per-unit aggregation streams without a sort. ``seq`` numbers the experiment's events. The index
    on (experiment, variant, latency) serves latency quantiles (p95) without sorting the events.
    """

    __tablename__ = "ab_events"
    __table_args__ = (Index("ix_ab_events_latency", "experiment_id", "variant", "latency_s"),
                      {"sqlite_with_rowid": False})
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    variant: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Float)  # epoch seconds, UTC
    task_completed: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    escalated: Mapped[float | None] = mapped_column(Float)
    latency_s: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    response_tokens: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[float | None] = mapped_column(Float)
    covariate: Mapped[float | None] = mapped_column(Float)


class AbUnit(Base):
    """Per-unit rollup of the events, kept in step by :func:`log_events` in the same transaction.

    For each metric column: the sum and count of non-NULL values and the maximum. The analysis reads
    one row per unit instead of every event (10 million events are ~3 million units), so no per-unit
    GROUP BY over the events is needed; :func:`rebuild_rollup` recomputes it from the events.
    """

    __tablename__ = "ab_units"
    __table_args__ = ({"sqlite_with_rowid": False},)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    variant: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    t_first: Mapped[float] = mapped_column(Float)
    t_last: Mapped[float] = mapped_column(Float)
    task_completed_sum: Mapped[float] = mapped_column(Float, default=0.0)
    task_completed_n: Mapped[int] = mapped_column(BigInteger, default=0)
    task_completed_max: Mapped[float | None] = mapped_column(Float)
    satisfaction_sum: Mapped[float] = mapped_column(Float, default=0.0)
    satisfaction_n: Mapped[int] = mapped_column(BigInteger, default=0)
    satisfaction_max: Mapped[float | None] = mapped_column(Float)
    escalated_sum: Mapped[float] = mapped_column(Float, default=0.0)
    escalated_n: Mapped[int] = mapped_column(BigInteger, default=0)
    escalated_max: Mapped[float | None] = mapped_column(Float)
    latency_s_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s_n: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_s_max: Mapped[float | None] = mapped_column(Float)
    cost_sum: Mapped[float] = mapped_column(Float, default=0.0)
    cost_n: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_max: Mapped[float | None] = mapped_column(Float)
    response_tokens_sum: Mapped[float] = mapped_column(Float, default=0.0)
    response_tokens_n: Mapped[int] = mapped_column(BigInteger, default=0)
    response_tokens_max: Mapped[float | None] = mapped_column(Float)
    prompt_tokens_sum: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_tokens_n: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens_max: Mapped[float | None] = mapped_column(Float)
    covariate_sum: Mapped[float] = mapped_column(Float, default=0.0)
    covariate_n: Mapped[int] = mapped_column(BigInteger, default=0)
    covariate_max: Mapped[float | None] = mapped_column(Float)


@dataclass(frozen=True)
class ExperimentInfo:
    """An experiment as stored: id, name, control, weights per variant, config and description."""

    id: int
    name: str
    control: str
    weights: dict[str, float]
    config: dict[str, Any]
    description: str = ""


def create_experiment(engine: Engine, name: str, weights: Mapping[str, float], *, control: str | None = None,
                      description: str = "", config: Mapping[str, Any] | None = None,
                      exist_ok: bool = False) -> ExperimentInfo:
    """Create an experiment with its variants and weights; returns it (the existing one with ``exist_ok``)."""
    from sqlalchemy.orm import Session

    if len(weights) < 2 or any(not w > 0 for w in weights.values()):
        raise DataError(f"experiment {name!r} needs at least two variants with positive weights, got {dict(weights)}")
    control = control or next(iter(weights))
    if control not in weights:
        raise DataError(f"experiment {name!r}: control {control!r} is not one of the variants {list(weights)}")
    existing = get_experiment(engine, name)
    if existing is not None:
        if exist_ok:
            return existing
        raise DataError(f"experiment {name!r} already exists", hint="choose another name or delete it first")
    with Session(engine) as session, session.begin():
        exp = AbExperiment(name=name, control=control, description=description,
                           config_json=json.dumps(dict(config or {}), sort_keys=True))
        session.add(exp)
        session.flush()
        for variant, weight in weights.items():
            session.add(AbVariant(experiment_id=exp.id, name=variant, weight=float(weight)))
    info = get_experiment(engine, name)
    assert info is not None
    return info


def get_experiment(engine: Engine, name: str) -> ExperimentInfo | None:
    """Return the experiment called ``name``, or ``None``."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        exp = session.scalars(select(AbExperiment).where(AbExperiment.name == name)).first()
        if exp is None:
            return None
        variants = session.scalars(select(AbVariant).where(AbVariant.experiment_id == exp.id)
                                   .order_by(AbVariant.id)).all()
        return ExperimentInfo(exp.id, exp.name, exp.control, {v.name: v.weight for v in variants},
                              json.loads(exp.config_json or "{}"), exp.description)


def list_experiments(engine: Engine) -> list[ExperimentInfo]:
    """Return every experiment, oldest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        names = session.scalars(select(AbExperiment.name).order_by(AbExperiment.id)).all()
    return [info for n in names if (info := get_experiment(engine, n)) is not None]


def delete_experiment(engine: Engine, name: str) -> bool:
    """Delete an experiment with its variants and events; returns whether it existed."""
    from sqlalchemy import text

    info = get_experiment(engine, name)
    if info is None:
        return False
    with engine.begin() as conn:
        for table in ("ab_looks", "ab_plans", "ab_events", "ab_units", "ab_variants"):
            conn.execute(text(f"DELETE FROM {table} WHERE experiment_id = :e"), {"e": info.id})
        conn.execute(text("DELETE FROM ab_experiments WHERE id = :e"), {"e": info.id})
    return True


#: Columns with an index that makes their quantiles cheap (an ordered walk instead of a sort).
INDEXED_QUANTILE_COLUMNS = ("latency_s",)


def log_events(engine: Engine, experiment: str, events: Iterable[Mapping[str, Any] | Sequence[Any]], *,
               batch_size: int = 200_000) -> int:
    """Insert events in one transaction (all or nothing) and return how many were written.

    An event is a mapping with ``unit_id``, ``variant``, ``ts`` (epoch seconds or a datetime) and any of
    :data:`METRIC_COLUMNS`, or a tuple in :data:`EVENT_COLUMNS` order. For millions of events,
    :func:`log_event_columns` (column arrays) is much faster.
    """
    info = _require(engine, experiment)
    total = 0
    with engine.begin() as conn:
        batch: list[Sequence[Any]] = []
        for i, event in enumerate(events):
            if isinstance(event, Mapping):
                event = tuple(event.get(c) for c in EVENT_COLUMNS)
            if len(event) != len(EVENT_COLUMNS):
                raise DataError(f"event {i} for experiment {experiment!r}: expected {len(EVENT_COLUMNS)} fields "
                                f"{EVENT_COLUMNS}, got {len(event)}")
            batch.append(event)
            if len(batch) >= batch_size:
                total += _insert(conn, info, dict(zip(EVENT_COLUMNS, zip(*batch, strict=True), strict=True)), total)
                batch = []
        if batch:
            total += _insert(conn, info, dict(zip(EVENT_COLUMNS, zip(*batch, strict=True), strict=True)), total)
    return total


def log_event_columns(engine: Engine, experiment: str, columns: Mapping[str, Sequence[Any]]) -> int:
    """Insert events given column by column (lists or numpy arrays of equal length) in one transaction.

    ``unit_id``, ``variant`` and ``ts`` are required; absent metric columns are stored as NULL (so are
    NaN values). Returns the number of events written.
    """
    info = _require(engine, experiment)
    with engine.begin() as conn:
        return _insert(conn, info, columns, 0)


def _require(engine: Engine, experiment: str) -> ExperimentInfo:
    info = get_experiment(engine, experiment)
    if info is None:
        raise DataError(f"unknown experiment {experiment!r}", hint="create it first (harness ab simulate or create_experiment)")
    return info


def _dtype_kind(values: Any) -> str:
    dtype = getattr(values, "dtype", None)
    return dtype.kind if dtype is not None else ""


def _as_list(values: Any) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _insert(conn: Any, info: ExperimentInfo, columns: Mapping[str, Sequence[Any]], offset: int) -> int:
    """Validate and insert one batch of column data; event ``offset + i`` is named in errors."""
    from itertools import repeat

    from sqlalchemy import text

    missing = [c for c in ("unit_id", "variant", "ts") if c not in columns]
    unknown = sorted(set(columns) - set(EVENT_COLUMNS))
    if missing or unknown:
        what = f"missing column {missing[0]!r}" if missing else f"unknown column {unknown[0]!r}"
        raise DataError(f"events for experiment {info.name!r}: {what}", hint=f"columns: {', '.join(EVENT_COLUMNS)}")
    n = len(columns["unit_id"])
    cols = {c: _as_list(columns[c]) for c in columns}
    for c, values in cols.items():
        if len(values) != n:
            raise DataError(f"events for experiment {info.name!r}: column {c!r} has {len(values)} values, "
                            f"unit_id has {n}")
    if n == 0:
        return 0
    bad = set(cols["variant"]) - set(info.weights)
    if bad:
        first = next(i for i, v in enumerate(cols["variant"]) if v in bad)
        raise DataError(f"event {offset + first} for experiment {info.name!r}: variant {cols['variant'][first]!r} "
                        f"is not one of {sorted(info.weights)}")
    if _dtype_kind(columns["ts"]) not in ("f", "i", "u"):
        cols["ts"] = [t.timestamp() if isinstance(t, _dt.datetime) else t for t in cols["ts"]]
    if _dtype_kind(columns["unit_id"]) != "U":
        cols["unit_id"] = [str(u) for u in cols["unit_id"]]
    sqlite = conn.dialect.name == "sqlite"
    if not sqlite:  # SQLite stores NaN as NULL by itself; other databases need it spelled out
        for c in METRIC_COLUMNS:
            if c in cols:
                cols[c] = [None if isinstance(x, float) and math.isnan(x) else x for x in cols[c]]
    conn.execute(text("UPDATE ab_experiments SET event_count = event_count + :n WHERE id = :e"),
                 {"n": n, "e": info.id})
    end = conn.execute(text("SELECT event_count FROM ab_experiments WHERE id = :e"), {"e": info.id}).scalar_one()
    seqs = range(end - n, end)
    names = ["experiment_id", "seq", *EVENT_COLUMNS]
    values = [repeat(info.id, n), seqs, *(cols[c] if c in cols else repeat(None, n) for c in EVENT_COLUMNS)]
    if sqlite:  # the DB-API executemany directly: the ORM would be ~20x slower for millions of rows
        sql = f"INSERT INTO ab_events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.connection.driver_connection.cursor().executemany(sql, zip(*values, strict=False))
    else:
        from sqlalchemy import insert

        conn.execute(insert(AbEvent), [dict(zip(names, row, strict=True)) for row in zip(*values, strict=False)])
    _upsert_units(conn, info.id, cols, n)
    return n


def _upsert_units(conn: Any, experiment_id: int, cols: dict[str, list], n: int) -> None:
    """Fold one batch of events into the per-unit rollup (numpy group-by, then one upsert per unit)."""
    import numpy as np
    from sqlalchemy import text

    keys = np.char.add(np.char.add(np.asarray(cols["unit_id"], dtype=str), "\x1f"), np.asarray(cols["variant"], dtype=str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    m = len(uniq)
    ts = np.asarray(cols["ts"], dtype=float)
    first = np.full(m, np.inf)
    last = np.full(m, -np.inf)
    np.minimum.at(first, inverse, ts)
    np.maximum.at(last, inverse, ts)
    out: list[Any] = [np.bincount(inverse, minlength=m).tolist(), first.tolist(), last.tolist()]
    for c in METRIC_COLUMNS:
        if c not in cols:
            out += [[0.0] * m, [0] * m, [None] * m]
            continue
        x = np.asarray(cols[c], dtype=float)
        ok = ~np.isnan(x)
        mx = np.full(m, -np.inf)
        np.fmax.at(mx, inverse, np.where(ok, x, -np.inf))
        out += [np.bincount(inverse, weights=np.where(ok, x, 0.0), minlength=m).tolist(),
                np.bincount(inverse, weights=ok, minlength=m).astype(int).tolist(),
                [None if v == -np.inf else v for v in mx.tolist()]]
    units, variants = zip(*(k.split("\x1f", 1) for k in uniq.tolist()), strict=True)
    metric_names = [f"{c}_{s}" for c in METRIC_COLUMNS for s in ("sum", "n", "max")]
    names = ["experiment_id", "unit_id", "variant", "n", "t_first", "t_last", *metric_names]

    def keep(a: str, b: str, op: str) -> str:  # NULL-safe min/max that works in SQLite and PostgreSQL
        return f"CASE WHEN {a} IS NULL OR ({b} IS NOT NULL AND {b} {op} {a}) THEN {b} ELSE {a} END"

    updates = ["n = ab_units.n + excluded.n", f"t_first = {keep('ab_units.t_first', 'excluded.t_first', '<')}",
               f"t_last = {keep('ab_units.t_last', 'excluded.t_last', '>')}"]
    for c in METRIC_COLUMNS:
        updates += [f"{c}_sum = ab_units.{c}_sum + excluded.{c}_sum", f"{c}_n = ab_units.{c}_n + excluded.{c}_n",
                    f"{c}_max = {keep(f'ab_units.{c}_max', f'excluded.{c}_max', '>')}"]
    sql = (f"INSERT INTO ab_units ({', '.join(names)}) VALUES ({', '.join(':' + x for x in names)}) "
           f"ON CONFLICT (experiment_id, unit_id, variant) DO UPDATE SET {', '.join(updates)}")
    rows = zip([experiment_id] * m, units, variants, *out, strict=True)
    if conn.dialect.name == "sqlite":
        qmarks = sql.replace(f"({', '.join(':' + x for x in names)})", f"({', '.join('?' * len(names))})")
        conn.connection.driver_connection.cursor().executemany(qmarks, rows)
    else:
        conn.execute(text(sql), [dict(zip(names, r, strict=True)) for r in rows])


def rebuild_rollup(engine: Engine, experiment: str) -> int:
    """Recompute the per-unit rollup of ``experiment`` from its events (after writing events directly).

    Returns the number of units.
    """
    from sqlalchemy import text

    info = _require(engine, experiment)
    metric = ", ".join(f"COALESCE(SUM({c}), 0), COUNT({c}), MAX({c})" for c in METRIC_COLUMNS)
    names = ", ".join(f"{c}_sum, {c}_n, {c}_max" for c in METRIC_COLUMNS)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ab_units WHERE experiment_id = :e"), {"e": info.id})
        conn.execute(text(f"INSERT INTO ab_units (experiment_id, unit_id, variant, n, t_first, t_last, {names}) "
                          f"SELECT experiment_id, unit_id, variant, COUNT(*), MIN(ts), MAX(ts), {metric} "
                          "FROM ab_events WHERE experiment_id = :e GROUP BY experiment_id, unit_id, variant"),
                     {"e": info.id})
        return int(conn.execute(text("SELECT COUNT(*) FROM ab_units WHERE experiment_id = :e"),
                                {"e": info.id}).scalar_one())
