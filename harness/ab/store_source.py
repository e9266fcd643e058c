"""The event store as an :class:`~harness.ab.collect.EventSource`: every aggregation runs in SQL.

Per-unit values come from the rollup table ``ab_units`` (one row per unit, kept in step with the
events by :func:`harness.store.ab.log_events`), then one ``GROUP BY variant`` query turns them into
sums, so only a few numbers per variant leave the database. Quantiles walk the latency index, and a
quantile's per-unit "events at or below q" counts come from the index too (only the events above q
are read).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from harness.ab.sql_quantiles import lower_quantiles
from harness.ab.sums import Pair, PairSums, UnitValue
from harness.errors import DataError
from harness.store.ab import METRIC_COLUMNS, get_experiment, list_experiments

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

def known_experiment(engine: Engine, name: str) -> Any:
    """The stored experiment ``name`` (:class:`harness.store.ab.ExperimentInfo`); a :class:`DataError` listing
    the workspace's experiments when there is none."""
    info = get_experiment(engine, name)
    if info is None:
        names = [e.name for e in list_experiments(engine)]
        raise DataError(f"unknown experiment {name!r}",
                        hint=f"experiments in this workspace: {', '.join(names) or 'none'}")
    return info


class StoreSource:
    """One experiment's events, aggregated in SQL."""

    def __init__(self, engine: Engine, experiment: str, *, workers: int | None = None) -> None:
        info = known_experiment(engine, experiment)
        self.engine, self.info, self.name = engine, info, f"experiment {experiment!r}"
        self.variants = list(info.weights)
        self.workers = workers
        self._overview: tuple[dict[str, int], float | None, float | None] | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def _check(self, column: str | None) -> None:
        if column is not None and column not in METRIC_COLUMNS:
            raise DataError(f"{self.name}: metric column {column!r} is not in the event store",
                            hint=f"store columns: {', '.join(METRIC_COLUMNS)}")

    def _unit_expr(self, v: UnitValue) -> str:
        """The per-unit value as an expression over the rollup row."""
        self._check(v.column)
        if v.agg == "count":
            return "n" if v.column is None else f"{v.column}_n"
        if v.agg == "sum":
            return f"{v.column}_sum"
        if v.agg == "max":
            return f"{v.column}_max"
        if v.agg == "mean":
            return f"(CASE WHEN {v.column}_n > 0 THEN {v.column}_sum * 1.0 / {v.column}_n END)"
        if v.agg == "le":  # patched afterwards from the index: start from the unit's count of values
            return f"{v.column}_n"
        raise ValueError(f"unknown per-unit aggregate {v.agg!r}")

    def _workers(self, tasks: int) -> int:
        if self.engine.dialect.name != "sqlite":
            return 1
        return max(1, min(self.workers or 4, os.cpu_count() or 1, tasks))

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Sums per variant of each pair of per-unit values (one query over the rollup, maybe in parts)."""
        from sqlalchemy import text

        outer = ["COUNT(*)", "MIN(t_first)", "MAX(t_last)"]
        slots: dict[str, int] = {"COUNT(*)": 0}

        def slot(expr: str) -> int:  # each distinct sum is computed once, however many pairs share it
            if expr not in slots:
                slots[expr] = len(outer)
                outer.append(expr)
            return slots[expr]

        # SQLite's TOTAL() is a float sum that is 0 on no rows: ~25% faster than COALESCE(SUM(x), 0)
        total = "TOTAL({})" if self.engine.dialect.name == "sqlite" else "COALESCE(SUM({}), 0)"
        layout = []
        for p in pairs:
            a, b = self._unit_expr(p.a), self._unit_expr(p.b)
            if {p.a.agg, p.b.agg} & {"mean", "max"}:  # only these can be NULL for a unit
                both = f"{a} IS NOT NULL AND {b} IS NOT NULL"
                exprs = [f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END)"] + [
                    f"COALESCE(SUM(CASE WHEN {both} THEN {x} END), 0)" for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
            else:
                exprs = ["COUNT(*)"] + [total.format(x) for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
            layout.append([slot(e) for e in exprs])
        # one query per variant, not GROUP BY variant: a GROUP BY would sort every unit row first
        # (4x slower on SQLite); the variants' queries run in parallel threads (sqlite3 releases the GIL)
        sql = text(f"SELECT {', '.join(outer)} FROM ab_units WHERE experiment_id = :e AND variant = :v")

        def run(variant: str) -> list:
            with self.engine.connect() as conn:
                return [variant, *conn.execute(sql, {"e": self.info.id, "v": variant}).one()]

        workers = self._workers(len(self.variants))
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                rows = list(pool.map(run, self.variants))
        else:
            rows = [run(v) for v in self.variants]
        totals = {row[0]: [x if x is not None else 0 for x in row] for row in rows}
        first = min((r[2] for r in rows if r[2] is not None), default=None)
        last = max((r[3] for r in rows if r[3] is not None), default=None)
        out: dict[str, list[PairSums]] = {}
        units: dict[str, int] = {}
        for variant, row in totals.items():
            units[variant] = int(row[1])
            out[variant] = [PairSums(int(row[idx[0] + 1]), *(float(row[j + 1]) for j in idx[1:])) for idx in layout]
        for i, p in enumerate(pairs):
            if p.a.agg == "le":
                for variant, sums in out.items():
                    q = thresholds[p.a.key].get(variant, math.nan)
                    sums[i] = self._le_sums(p.a.column, variant, q, sums[i])
        self._overview = (units, first, last)
        return out

    def _le_sums(self, column: str, variant: str, q: float, counts: PairSums) -> PairSums:
        """Sums of (events <= q, events with a value) per unit, from the events above q only.

        ``counts`` holds the sums of the per-unit count ``c`` with itself; with ``a`` the count above q,
        ``le = c - a``: sum(le) = S(c) - S(a), sum(le^2) = S(c^2) - 2 S(ac) + S(a^2), sum(le c) = S(c^2) - S(ac).
        """
        from sqlalchemy import text

        if not math.isfinite(q):
            return PairSums(counts.n, math.nan, counts.sum_b, math.nan, counts.sum_bb, math.nan)
        sql = text(f"SELECT COALESCE(SUM(x.a), 0), COALESCE(SUM(x.a * x.a), 0), COALESCE(SUM(x.a * u.{column}_n), 0) "
                   f"FROM (SELECT unit_id, COUNT(*) AS a FROM ab_events WHERE experiment_id = :e AND variant = :v "
                   f"AND {column} > :q GROUP BY unit_id) AS x JOIN ab_units AS u ON u.experiment_id = :e "
                   "AND u.variant = :v AND u.unit_id = x.unit_id")
        with self.engine.connect() as conn:
            s_a, s_aa, s_ac = conn.execute(sql, {"e": self.info.id, "v": variant, "q": q}).one()
        s_c, s_cc = counts.sum_b, counts.sum_bb
        return PairSums(counts.n, s_c - s_a, s_c, s_cc - 2 * s_ac + s_aa, s_cc, s_cc - s_ac)

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Units per variant and time span (computed by :meth:`pair_sums`)."""
        if self._overview is None:
            self.pair_sums([], {})
        assert self._overview is not None
        return self._overview

    def _count(self, conn: Any, column: str, variant: str) -> int:
        from sqlalchemy import text

        key = (column, variant)
        if key not in self._counts:
            self._counts[key] = int(conn.execute(text(
                f"SELECT COALESCE(SUM({column}_n), 0) FROM ab_units WHERE experiment_id = :e AND variant = :v"),
                {"e": self.info.id, "v": variant}).scalar_one())
        return self._counts[key]

    def quantiles(self, column: str, probs: dict[str, list[float]]) -> dict[str, list[float]]:
        """Lower quantiles per variant by walking ``column`` in order (``LIMIT 1 OFFSET k``).

        Latency has an index (experiment, variant, latency), so the walk runs on it from the nearer end
        and a p95 visits 5% of the entries; other columns make the database sort the variant's values.
        """
        self._check(column)
        frm = f"FROM ab_events WHERE experiment_id = :e AND variant = :v AND {column} IS NOT NULL"
        with self.engine.connect() as conn:
            return {variant: lower_quantiles(conn, column, frm, {"e": self.info.id, "v": variant}, ps,
                                             n=self._count(conn, column, variant))
                    for variant, ps in probs.items()}
