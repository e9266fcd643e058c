"""Gateway events as an :class:`~harness.ab.collect.EventSource`: requests are the exposures, named
outcomes are metrics, every aggregation runs in SQL.

The gateway (``harness ab serve``) writes one ``ab_requests`` row per request (unit, assigned
variant, fallback, latency, tokens, cost) and one ``ab_outcomes`` row per named outcome posted to
``/v1/feedback`` (``thumbs_up``, ``resolved``, a rating, ...). Here a *column* is either

- a request column: ``latency_s``, ``prompt_tokens``, ``completion_tokens``, ``cost``, ``fallback``
  (1 when the control answered in the candidate's place), ``error`` (1 when the request failed); or
- the name of an outcome (any name in ``ab_outcomes``): ``--metric thumbs_up:proportion`` needs no
  schema change.

Units are the distinct ``unit_id`` of the requests, grouped by their **assigned** variant
(intention-to-treat: a request the control answered after the candidate failed still counts on the
candidate, so fallbacks show up in the candidate's metrics and in its ``fallback_rate`` guardrail).
Outcomes count on the variant the gateway recorded on them (the unit's assigned variant), and only
for units that were exposed (have a request). The per-unit values come from one ``GROUP BY unit``
over the variant's requests, joined to one ``GROUP BY unit`` over its outcomes; only a few sums per
variant leave the database.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from harness.ab.config import MetricSpec
from harness.ab.sql_quantiles import lower_quantiles
from harness.ab.store_source import known_experiment
from harness.ab.sums import Pair, PairSums, SrmPeriod, UnitValue
from harness.errors import DataError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.ab.collect import EventSource

#: Request-level columns of ``ab_requests`` usable as metric columns, as SQL over the row ``r``.
REQUEST_COLUMNS: dict[str, str] = {
    "latency_s": "r.latency_s",
    "prompt_tokens": "r.prompt_tokens",
    "completion_tokens": "r.completion_tokens",
    "cost": "r.cost",
    "fallback": "(CASE WHEN r.fallback THEN 1.0 ELSE 0.0 END)",
    "error": "(CASE WHEN r.status = 'error' THEN 1.0 ELSE 0.0 END)",
}
#: Outcome names preferred as the primary metric of the default metrics, in this order.
PRIMARY_OUTCOMES = ("task_completed", "resolved", "thumbs_up")
#: Seconds after a weight change whose requests the sample-ratio check leaves out (routing may lag).
SRM_GUARD_S = 5.0


def has_gateway_requests(engine: Engine, experiment_id: int) -> bool:
    """Return whether the experiment has requests logged by the gateway (``False`` without the table)."""
    from sqlalchemy import inspect, text

    if not inspect(engine).has_table("ab_requests"):
        return False
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM ab_requests WHERE experiment_id = :e LIMIT 1"),
                            {"e": experiment_id}).first() is not None


def open_event_source(engine: Engine, experiment: str) -> EventSource:
    """Return the experiment's event source: a :class:`GatewaySource` when the gateway logged requests
    for it, else the simulated-events :class:`~harness.ab.store_source.StoreSource`."""
    from harness.ab.store_source import StoreSource

    source = StoreSource(engine, experiment)
    if has_gateway_requests(engine, source.info.id):
        return GatewaySource(engine, experiment)
    return source


def default_metrics_for(source: EventSource) -> tuple[MetricSpec, ...]:
    """Return the default metrics of a source: the gateway's (outcomes + guardrails) or the store's."""
    from harness.ab.config import default_store_metrics

    if isinstance(source, GatewaySource):
        return default_gateway_metrics(source.outcome_names(), has_cost=source.has_values("cost"))
    return default_store_metrics()


def default_gateway_metrics(outcomes: list[str], *, has_cost: bool = False) -> tuple[MetricSpec, ...]:
    """Return the default metrics of a gateway experiment.

    One metric per outcome name: the mean outcome per feedback, clustered by unit (a ratio
    ``sum(outcome) / count(outcome)``); the primary one is ``task_completed``, ``resolved`` or
    ``thumbs_up`` when present, else the first name. Guardrails (lower is better): mean and p95
    latency, completion tokens per request, cost per request (when any request has a cost) and the
    fallback rate (requests answered by the control in the candidate's place).
    """
    primary = next((n for n in PRIMARY_OUTCOMES if n in outcomes), outcomes[0] if outcomes else None)
    metrics = [MetricSpec(n, "ratio", numerator=n, denominator=f"count:{n}",
                          role="primary" if n == primary else "secondary")
               for n in sorted(outcomes, key=lambda n: n != primary)]
    metrics += [
        MetricSpec("latency_mean", "ratio", numerator="latency_s", denominator="requests", role="guardrail",
                   higher_is_better=False, margin=0.05),
        MetricSpec("latency_p95", "quantile", column="latency_s", quantile=0.95, role="guardrail",
                   higher_is_better=False, margin=0.10),
        MetricSpec("completion_tokens", "ratio", numerator="completion_tokens", denominator="requests",
                   role="guardrail", higher_is_better=False, margin=0.10),
    ]
    if has_cost:
        metrics.append(MetricSpec("cost_per_request", "ratio", numerator="cost", denominator="requests",
                                  role="guardrail", higher_is_better=False, margin=0.05))
    metrics.append(MetricSpec("fallback_rate", "ratio", numerator="fallback", denominator="requests",
                              role="guardrail", higher_is_better=False, margin=0.05))
    return tuple(metrics)


class GatewaySource:
    """One experiment's gateway requests and outcomes, aggregated in SQL."""

    def __init__(self, engine: Engine, experiment: str) -> None:
        info = known_experiment(engine, experiment)
        self.engine, self.info, self.name = engine, info, f"experiment {experiment!r} (gateway requests)"
        self.variants = list(info.weights)
        self._outcomes: list[str] | None = None
        self._overview: tuple[dict[str, int], float | None, float | None] | None = None

    # ------------------------------------------------------------------ columns

    def outcome_names(self) -> list[str]:
        """Return the outcome names recorded for the experiment, sorted."""
        from sqlalchemy import text

        if self._outcomes is None:
            with self.engine.connect() as conn:
                self._outcomes = sorted(conn.execute(text(
                    "SELECT DISTINCT name FROM ab_outcomes WHERE experiment_id = :e"), {"e": self.info.id}).scalars())
        return self._outcomes

    def has_values(self, column: str) -> bool:
        """Return whether any request has a value in the request column ``column``."""
        from sqlalchemy import text

        expr = REQUEST_COLUMNS[column]
        with self.engine.connect() as conn:
            return conn.execute(text(f"SELECT 1 FROM ab_requests AS r WHERE r.experiment_id = :e AND {expr} "
                                     "IS NOT NULL LIMIT 1"), {"e": self.info.id}).first() is not None

    def _check(self, column: str | None) -> None:
        if column is None or column in REQUEST_COLUMNS or column in self.outcome_names():
            return
        raise DataError(f"{self.name}: {column!r} is neither a request column nor a recorded outcome",
                        hint=f"request columns: {', '.join(REQUEST_COLUMNS)}; outcomes: "
                             f"{', '.join(self.outcome_names()) or 'none yet (POST /v1/feedback)'}")

    # ------------------------------------------------------------------ sums

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Sums per variant of each pair of per-unit values (one query per variant)."""
        from sqlalchemy import text

        values = {v.key: v for p in pairs for v in (p.a, p.b)}
        for v in values.values():
            self._check(v.column)
        outcomes = sorted({v.column for v in values.values() if v.column and v.column not in REQUEST_COLUMNS})
        inner = ["r.unit_id AS unit_id", "COUNT(*) AS n", "MIN(r.ts) AS t_first", "MAX(r.ts) AS t_last"]
        for name in sorted({v.column for v in values.values() if v.column in REQUEST_COLUMNS}):
            expr = REQUEST_COLUMNS[name]
            inner += [f"SUM({expr}) AS {name}_sum", f"COUNT({expr}) AS {name}_n", f"MAX({expr}) AS {name}_max"]
        alias = {name: f"o{i}" for i, name in enumerate(outcomes)}
        outer_o: list[str] = ["o.unit_id AS unit_id"]
        for a in alias.values():
            val = f"CASE WHEN o.name = :{a} THEN o.value END"
            outer_o += [f"SUM({val}) AS {a}_sum", f"COUNT({val}) AS {a}_n", f"MAX({val}) AS {a}_max"]
        les = [v for v in values.values() if v.agg == "le"]
        le_alias = {v.key: f"le{i}" for i, v in enumerate(les)}
        for v in les:
            if v.column in REQUEST_COLUMNS:
                expr = REQUEST_COLUMNS[v.column]
                inner.append(f"SUM(CASE WHEN {expr} <= :q_{le_alias[v.key]} THEN 1 ELSE 0 END) AS {le_alias[v.key]}")
            else:
                a = alias[v.column]
                outer_o.append(f"SUM(CASE WHEN o.name = :{a} AND o.value <= :q_{le_alias[v.key]} THEN 1 ELSE 0 END) "
                               f"AS {le_alias[v.key]}")

        def unit_expr(v: UnitValue) -> str:
            if v.column is None:
                if v.agg != "count":
                    raise ValueError(f"per-unit {v.agg!r} needs a column")
                return "u.n"
            if v.column in REQUEST_COLUMNS:
                src, base, zero = "u", v.column, ""
            else:
                src, base, zero = "o", alias[v.column], "COALESCE("
            close = ", 0)" if zero else ""
            if v.agg == "count":
                return f"{zero}{src}.{base}_n{close}"
            if v.agg == "sum":
                return f"{zero}{src}.{base}_sum{close}"
            if v.agg == "max":
                return f"{src}.{base}_max"
            if v.agg == "mean":
                return f"(CASE WHEN {zero}{src}.{base}_n{close} > 0 THEN {src}.{base}_sum * 1.0 / {src}.{base}_n END)"
            if v.agg == "le":
                return f"{zero}{src}.{le_alias[v.key]}{close}"
            raise ValueError(f"unknown per-unit aggregate {v.agg!r}")

        outer = ["COUNT(*)", "MIN(u.t_first)", "MAX(u.t_last)"]
        layout = []
        for p in pairs:
            a, b = unit_expr(p.a), unit_expr(p.b)
            both = f"{a} IS NOT NULL AND {b} IS NOT NULL"
            exprs = [f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END)"] + [
                f"COALESCE(SUM(CASE WHEN {both} THEN {x} END), 0)" for x in (a, b, f"{a}*{a}", f"{b}*{b}", f"{a}*{b}")]
            layout.append(list(range(len(outer), len(outer) + 6)))
            outer += exprs
        sql = (f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM ab_requests AS r "
               "WHERE r.experiment_id = :e AND r.variant = :v GROUP BY r.unit_id) AS u")
        if len(outer_o) > 1:
            sql += (f" LEFT JOIN (SELECT {', '.join(outer_o)} FROM ab_outcomes AS o WHERE o.experiment_id = :e "
                    "AND o.variant = :v GROUP BY o.unit_id) AS o ON o.unit_id = u.unit_id")
        out: dict[str, list[PairSums]] = {}
        units: dict[str, int] = {}
        firsts, lasts = [], []
        with self.engine.connect() as conn:
            for variant in self.variants:
                params: dict[str, object] = {"e": self.info.id, "v": variant, **{a: n for n, a in alias.items()}}
                for v in les:
                    q = thresholds.get(v.key, {}).get(variant, math.nan)
                    params[f"q_{le_alias[v.key]}"] = q if math.isfinite(q) else None
                raw = conn.execute(text(sql), params).one()
                if raw[1] is not None:
                    firsts.append(float(raw[1]))
                    lasts.append(float(raw[2]))
                row = [x if x is not None else 0 for x in raw]
                units[variant] = int(row[0])
                sums = [PairSums(int(row[idx[0]]), *(float(row[j]) for j in idx[1:])) for idx in layout]
                for i, p in enumerate(pairs):
                    q = thresholds.get(p.a.key, {}).get(variant, math.nan) if p.a.agg == "le" else 0.0
                    if not math.isfinite(q):  # no threshold: the "at or below" sums are unknown
                        s = sums[i]
                        sums[i] = PairSums(s.n, math.nan, s.sum_b, math.nan, s.sum_bb, math.nan)
                out[variant] = sums
        self._overview = (units, min(firsts, default=None), max(lasts, default=None))
        return out

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Units (distinct exposed unit ids) per variant and the requests' time span."""
        if self._overview is None:
            self.pair_sums([], {})
        assert self._overview is not None
        return self._overview

    def srm_periods(self, variants: list[str]) -> list[SrmPeriod] | None:
        """Units per variant in each constant-weight period, or ``None`` when the weights never changed.

        A unit counts in a period when it has a request recorded in it (on the variant of those
        requests), see :func:`harness.stats.srm.srm_check_periods` for why. Requests in the first
        :data:`SRM_GUARD_S` seconds after a change are left out: a gateway re-reads the weights about
        once a second, so those may have been routed with the old ones. Periods are placed by the
        requests' recorded time (the client's ``X-Harness-Time`` when replay set it).
        """
        import datetime as dt

        from sqlalchemy import text

        from harness.ab.control import weight_periods

        periods = weight_periods(self.info.config, self.info.weights)
        if len(periods) < 2:
            return None
        sql = text("SELECT variant, COUNT(DISTINCT unit_id) FROM ab_requests WHERE experiment_id = :e "
                   "AND ts >= :a AND ts < :b GROUP BY variant")
        out = []
        with self.engine.connect() as conn:
            for start, end, weights in periods:
                a = start + SRM_GUARD_S if math.isfinite(start) else -1e300
                b = end if math.isfinite(end) else 1e300
                counts = {str(v): int(n) for v, n in conn.execute(sql, {"e": self.info.id, "a": a, "b": b})}
                when = "start" if not math.isfinite(start) else \
                    dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                out.append(SrmPeriod(f"from {when}", {v: counts.get(v, 0) for v in variants},
                                     {v: float(weights.get(v, 0.0)) for v in variants}))
        return out

    def quantiles(self, column: str, probs: dict[str, list[float]]) -> dict[str, list[float]]:
        """Lower quantiles per variant of a request column (over requests) or an outcome (over its values)."""
        self._check(column)
        if column in REQUEST_COLUMNS:
            expr = REQUEST_COLUMNS[column]
            frm = f"FROM ab_requests AS r WHERE r.experiment_id = :e AND r.variant = :v AND {expr} IS NOT NULL"
            params: dict[str, object] = {}
        else:
            expr = "o.value"
            frm = ("FROM ab_outcomes AS o WHERE o.experiment_id = :e AND o.variant = :v AND o.name = :n "
                   "AND o.value IS NOT NULL AND o.unit_id IN (SELECT r.unit_id FROM ab_requests AS r "
                   "WHERE r.experiment_id = :e AND r.variant = :v)")
            params = {"n": column}
        with self.engine.connect() as conn:
            return {variant: lower_quantiles(conn, expr, frm, {"e": self.info.id, "v": variant, **params}, ps)
                    for variant, ps in probs.items()}
