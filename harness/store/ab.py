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

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    return n


def _sql_value(v: Any) -> str:
    return v.agg + "_" + "".join(ch if ch.isalnum() else "_" for ch in (v.column or "all")) + (
        f"_q{int(round(v.p * 10000))}" if v.p is not None else "")


class StoreSource:
    """An :class:`~harness.ab.collect.EventSource` over one experiment's events, aggregated in SQL."""

    def __init__(self, engine: Engine, experiment: str, *, workers: int | None = None) -> None:
        info = get_experiment(engine, experiment)
        if info is None:
            names = [e.name for e in list_experiments(engine)]
            raise DataError(f"unknown experiment {experiment!r}",
                            hint=f"experiments in this workspace: {', '.join(names) or 'none'}")
        self.engine, self.info, self.name = engine, info, f"experiment {experiment!r}"
        self.variants = list(info.weights)
        self.workers = workers
        self._overview: tuple[dict[str, int], float | None, float | None] | None = None

    def _workers(self) -> int:
        """Parallel parts for the aggregation: up to 4 on SQLite for large experiments, else 1."""
        import os

        if self.engine.dialect.name != "sqlite" or self.workers == 1:
            return 1
        from sqlalchemy import text

        with self.engine.connect() as conn:
            n = conn.execute(text("SELECT event_count FROM ab_experiments WHERE id = :e"), {"e": self.info.id}).scalar_one()
        return self.workers or (min(4, os.cpu_count() or 1) if n >= 200_000 else 1)

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
        inner = "".join(f", {self._expr(v, thresholds, params)} AS {alias}" for v, alias in values.values())
        outer = ["COUNT(*)", "MIN(t0)", "MAX(t1)"]
        slots: dict[str, int] = {"COUNT(*)": 0}

        def slot(expr: str) -> int:  # each distinct sum is computed once, however many pairs share it
            if expr not in slots:
                slots[expr] = len(outer)
                outer.append(expr)
            return slots[expr]

        layout = []
        for p in pairs:
            a, b = values[p.a.key][1], values[p.b.key][1]
            # sums, counts and le-counts are never NULL; only per-unit means and maxima can be
            if {p.a.agg, p.b.agg} & {"mean", "max"}:
                both = f"{a} IS NOT NULL AND {b} IS NOT NULL"
                exprs = [f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END)"] + [
                    f"COALESCE(SUM(CASE WHEN {both} THEN {x} END), 0)" for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
            else:
                exprs = ["COUNT(*)"] + [f"TOTAL({x})" for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
            layout.append([slot(e) for e in exprs])
        workers = self._workers()
        part = " AND unicode(substr(unit_id, -1)) % :k = :part" if workers > 1 else ""
        sql = text(f"SELECT variant, {', '.join(outer)} FROM (SELECT variant, MIN(ts) AS t0, MAX(ts) AS t1{inner} "
                   f"FROM ab_events WHERE experiment_id = :e{part} GROUP BY unit_id, variant) GROUP BY variant")

        def run(index: int) -> list:
            with self.engine.connect() as conn:
                return conn.execute(sql, {**params, "k": workers, "part": index}).all()

        if workers > 1:
            # units are split by a function of their id, so each unit's events stay in one part and the
            # parts' sums simply add up; sqlite3 releases the GIL, so the parts run on separate cores
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                results = [row for rows in pool.map(run, range(workers)) for row in rows]
        else:
            results = run(0)
        totals: dict[str, list] = {}
        for row in results:
            acc = totals.get(row[0])
            if acc is None:
                totals[row[0]] = list(row)
                continue
            acc[1] += row[1]
            acc[2], acc[3] = min(acc[2], row[2]), max(acc[3], row[3])
            for j in range(4, len(row)):
                acc[j] += row[j]
        out: dict[str, list[PairSums]] = {}
        units: dict[str, int] = {}
        t0 = t1 = None
        for row in totals.values():
            units[row[0]] = int(row[1])
            t0 = row[2] if t0 is None else min(t0, row[2])
            t1 = row[3] if t1 is None else max(t1, row[3])
            out[row[0]] = [PairSums(int(row[idx[0] + 1]), *(float(row[j + 1]) for j in idx[1:])) for idx in layout]
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

    def quantiles(self, column: str, probs: dict[str, list[float]]) -> dict[str, list[float]]:
        """Lower quantiles per variant by walking ``column`` in order (``LIMIT 1 OFFSET k``).

        For indexed columns (:data:`INDEXED_QUANTILE_COLUMNS`) the walk runs on the index from the nearer
        end, so a p95 visits 5% of the entries; other columns make the database sort the variant's values.
        """
        from sqlalchemy import text

        from harness.ab.data import order_statistic_index

        self._check(column)
        where = f"experiment_id = :e AND variant = :v AND {column} IS NOT NULL"
        out: dict[str, list[float]] = {}
        with self.engine.connect() as conn:
            for variant, ps in probs.items():
                params = {"e": self.info.id, "v": variant}
                n = conn.execute(text(f"SELECT COUNT(*) FROM ab_events WHERE {where}"), params).scalar_one()
                values = []
                for p in ps:
                    if n == 0:
                        values.append(math.nan)
                        continue
                    k = order_statistic_index(p, n)
                    order, offset = ("ASC", k) if k < n / 2 else ("DESC", n - 1 - k)
                    values.append(float(conn.execute(text(
                        f"SELECT {column} FROM ab_events WHERE {where} ORDER BY {column} {order} LIMIT 1 OFFSET :k"),
                        {**params, "k": offset}).scalar_one()))
                out[variant] = values
        return out
