"""The A/B event store: experiments (variants and weights) and request-level events.

Python API for the analysis and for the traffic gateway (a later issue):
:func:`create_experiment`, :func:`get_experiment`, :func:`list_experiments`, :func:`log_events`
(bulk insert), :func:`delete_experiment`, and :class:`StoreSource`, whose aggregation queries run in
SQL (per unit, then per variant) so only a few numbers per variant leave the database.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from harness.errors import DataError
from harness.store.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.ab.data import Pair, PairSums

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
    """One request served to a unit (user/session) in a variant, with its measured outcomes."""

    __tablename__ = "ab_events"
    __table_args__ = (Index("ix_ab_events_experiment", "experiment_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str] = mapped_column(String(200))
    ts: Mapped[float] = mapped_column(Float)  # epoch seconds, UTC
    task_completed: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    escalated: Mapped[float | None] = mapped_column(Float)
    latency_s: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    response_tokens: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[float | None] = mapped_column(Float)
    covariate: Mapped[float | None] = mapped_column(Float)


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
        for table in ("ab_events", "ab_variants"):
            conn.execute(text(f"DELETE FROM {table} WHERE experiment_id = :e"), {"e": info.id})
        conn.execute(text("DELETE FROM ab_experiments WHERE id = :e"), {"e": info.id})
    return True


def _row(event: Mapping[str, Any] | Sequence[Any]) -> tuple:
    if isinstance(event, Mapping):
        return tuple(event.get(c) for c in EVENT_COLUMNS)
    return tuple(event)


def log_events(engine: Engine, experiment: str, events: Iterable[Mapping[str, Any] | Sequence[Any]], *,
               batch_size: int = 200_000) -> int:
    """Insert events in one transaction (all or nothing) and return how many were written.

    An event is a mapping with ``unit_id``, ``variant``, ``ts`` (epoch seconds or a datetime) and any of
    :data:`METRIC_COLUMNS`, or a tuple in :data:`EVENT_COLUMNS` order (fastest). Variants must belong to
    the experiment. Uses the DB-API ``executemany`` directly: the ORM would be ~20x slower.
    """
    info = get_experiment(engine, experiment)
    if info is None:
        raise DataError(f"unknown experiment {experiment!r}", hint="create it first (harness ab simulate or create_experiment)")
    known = set(info.weights)
    placeholders = ", ".join(["?"] * (len(EVENT_COLUMNS) + 1))
    sql = f"INSERT INTO ab_events (experiment_id, {', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})"
    total = 0
    with engine.begin() as conn:
        dbapi = conn.connection.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        cursor = dbapi.cursor() if sqlite else None
        batch: list[tuple] = []

        def flush() -> None:
            if not batch:
                return
            if cursor is not None:
                cursor.executemany(sql, batch)
            else:
                from sqlalchemy import insert

                conn.execute(insert(AbEvent), [dict(zip(("experiment_id", *EVENT_COLUMNS), r, strict=True))
                                              for r in batch])
            batch.clear()

        for i, event in enumerate(events):
            row = _row(event)
            if len(row) != len(EVENT_COLUMNS) or row[1] not in known:
                what = f"variant {row[1]!r} is not one of {sorted(known)}" if len(row) == len(EVENT_COLUMNS) \
                    else f"expected {len(EVENT_COLUMNS)} fields {EVENT_COLUMNS}"
                raise DataError(f"event {i} for experiment {experiment!r}: {what}")
            if isinstance(row[2], _dt.datetime):
                row = (row[0], row[1], row[2].timestamp(), *row[3:])
            batch.append((info.id, str(row[0]), *row[1:]))
            if len(batch) >= batch_size:
                flush()
                total += batch_size
        total += len(batch)
        flush()
    return total


def _sql_value(v: Any) -> str:
    return v.agg + "_" + "".join(ch if ch.isalnum() else "_" for ch in (v.column or "all")) + (
        f"_q{int(round(v.p * 10000))}" if v.p is not None else "")


class StoreSource:
    """An :class:`~harness.ab.collect.EventSource` over one experiment's events, aggregated in SQL."""

    def __init__(self, engine: Engine, experiment: str) -> None:
        info = get_experiment(engine, experiment)
        if info is None:
            names = [e.name for e in list_experiments(engine)]
            raise DataError(f"unknown experiment {experiment!r}",
                            hint=f"experiments in this workspace: {', '.join(names) or 'none'}")
        self.engine, self.info, self.name = engine, info, f"experiment {experiment!r}"
        self._overview: tuple[dict[str, int], float | None, float | None] | None = None

    def _check(self, column: str | None) -> None:
        if column is not None and column not in METRIC_COLUMNS:
            raise DataError(f"{self.name}: metric column {column!r} is not in the event store",
                            hint=f"store columns: {', '.join(METRIC_COLUMNS)}")

    def _expr(self, v: Any, thresholds: dict[str, dict[str, float]], params: dict[str, Any]) -> str:
        self._check(v.column)
        if v.agg == "count":
            return "COUNT(*)" if v.column is None else f"COUNT({v.column})"
        if v.agg == "sum":
            return f"COALESCE(SUM({v.column}), 0)"
        if v.agg in ("mean", "max"):
            return f"{'AVG' if v.agg == 'mean' else 'MAX'}({v.column})"
        cases = []
        for variant, q in thresholds[v.key].items():
            name = f"v{len(params)}"
            params[name] = variant
            cases.append(f"WHEN :{name} THEN {float(q)!r}" if math.isfinite(q) else f"WHEN :{name} THEN NULL")
        return f"SUM(CASE WHEN {v.column} <= (CASE variant {' '.join(cases)} END) THEN 1 ELSE 0 END)"

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """One SQL statement: per-unit values grouped by unit, then sums grouped by variant."""
        from sqlalchemy import text

        from harness.ab.data import PairSums

        params: dict[str, Any] = {"e": self.info.id}
        values = {}
        for p in pairs:
            for v in (p.a, p.b):
                values.setdefault(v.key, (v, _sql_value(v)))
        inner = ", ".join(f"{self._expr(v, thresholds, params)} AS {alias}" for v, alias in values.values())
        outer = ["COUNT(*)", "MIN(t0)", "MAX(t1)"]
        for p in pairs:
            a, b = values[p.a.key][1], values[p.b.key][1]
            both = f"{a} IS NOT NULL AND {b} IS NOT NULL"
            outer += [f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END)"] + [
                f"COALESCE(SUM(CASE WHEN {both} THEN {x} END), 0)" for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
        sql = (f"SELECT variant, {', '.join(outer)} FROM (SELECT variant, MIN(ts) AS t0, MAX(ts) AS t1, {inner} "
               f"FROM ab_events WHERE experiment_id = :e GROUP BY unit_id, variant) GROUP BY variant")
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        out: dict[str, list[PairSums]] = {}
        units: dict[str, int] = {}
        t0 = t1 = None
        for row in rows:
            units[row[0]] = int(row[1])
            t0 = row[2] if t0 is None else min(t0, row[2])
            t1 = row[3] if t1 is None else max(t1, row[3])
            out[row[0]] = [PairSums(int(row[4 + 6 * i]), *(float(x) for x in row[5 + 6 * i: 10 + 6 * i]))
                           for i in range(len(pairs))]
        ordered = {v: units[v] for v in self.info.weights if v in units}
        ordered.update({v: n for v, n in units.items() if v not in ordered})
        self._overview = (ordered, t0, t1)
        return out

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Units per variant and time span (computed by :meth:`pair_sums`, or by a query of its own)."""
        if self._overview is None:
            self.pair_sums([], {})
        assert self._overview is not None
        return self._overview

    def histogram(self, column: str) -> dict[str, tuple[list[float], list[int]]]:
        """Per-variant histogram of ``column`` rounded to 4 decimals (quantiles without sorting rows)."""
        from sqlalchemy import text

        self._check(column)
        sql = (f"SELECT variant, ROUND({column}, 4) AS b, COUNT(*) FROM ab_events WHERE experiment_id = :e "
               f"AND {column} IS NOT NULL GROUP BY variant, b ORDER BY variant, b")
        out: dict[str, tuple[list[float], list[int]]] = {}
        with self.engine.connect() as conn:
            for variant, b, c in conn.execute(text(sql), {"e": self.info.id}):
                vals, cnts = out.setdefault(variant, ([], []))
                vals.append(float(b))
                cnts.append(int(c))
        return out
