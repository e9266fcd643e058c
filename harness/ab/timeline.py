"""An experiment analysed as of successive times: the cumulative effect day by day.

The store's event sources aggregate everything logged so far (the simulated events through the
per-unit rollup ``ab_units``, the gateway's requests and outcomes in SQL) and take no time limit.
To analyse "as of" a cutoff with exactly the same code, :func:`analyze_over_time` copies the
experiment's rows into a scratch SQLite store in time order and, at each cutoff, runs
:func:`harness.ab.api.analyze_experiment` there (always-valid intervals by default: looking every
day is what they allow). The last point therefore *is* the analysis of all the data.

When a row counts: an event or a gateway request at its timestamp; a gateway outcome at the time of
the request it is about (feedback arrives after the response, often days later: counting it at
arrival would leave the recent days without outcomes), or at its own time when it was sent by unit id.
The copy is linear in the experiment's rows; the analyses are one per cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from harness.ab.analysis import AnalysisResult
    from harness.ab.config import AnalysisConfig
    from harness.ab.decision import Decision

SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class TimelinePoint:
    """The analysis of the data logged up to ``cutoff`` (epoch seconds), ``days`` after the first row.

    ``result``/``decision`` are ``None`` when the data so far cannot be analysed (``error`` says why,
    e.g. a variant without units yet).
    """

    cutoff: float
    days: float
    result: AnalysisResult | None
    decision: Decision | None
    error: str | None = None


def timeline_cutoffs(first: float, last: float, *, max_points: int = 60) -> list[float]:
    """Return the cutoffs (epoch seconds) of a timeline from ``first`` to ``last``, ending at ``last``.

    One per day after ``first`` when the span is at least two days, else one per hour (at least two
    hours), else twelve equal steps; the step widens by whole multiples to keep at most ``max_points``.
    """
    span = last - first
    if not span > 0:
        return [last]
    step = SECONDS_PER_DAY if span >= 2 * SECONDS_PER_DAY else (
        SECONDS_PER_HOUR if span >= 2 * SECONDS_PER_HOUR else span / 12)
    count = math.ceil(span / step - 1e-9)
    if count > max_points:
        step *= math.ceil(count / max_points)
    cutoffs = []
    k = 1
    while first + k * step < last - 1e-6:
        cutoffs.append(first + k * step)
        k += 1
    return [*cutoffs, last]


def _store_events(engine: Engine, experiment_id: int) -> pd.DataFrame:
    """The experiment's simulated events (``ab_events``), oldest first."""
    import pandas as pd
    from sqlalchemy import text

    from harness.store.ab import EVENT_COLUMNS

    with engine.connect() as conn:
        df = pd.read_sql(text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM ab_events WHERE experiment_id = :e"),
                         conn, params={"e": experiment_id})
    df["_t"] = df["ts"].astype(float)
    return df.sort_values("_t", kind="stable").reset_index(drop=True)


def _table_rows(engine: Engine, table: str, experiment_id: int) -> pd.DataFrame:
    """Every column of ``table``'s rows for the experiment (the scratch store has the same schema)."""
    import pandas as pd
    from sqlalchemy import text

    with engine.connect() as conn:
        return pd.read_sql(text(f"SELECT * FROM {table} WHERE experiment_id = :e"), conn,
                           params={"e": experiment_id})


def _gateway_rows(engine: Engine, experiment_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gateway's requests and outcomes, each with ``_t``: when it counts (see the module docstring)."""
    requests = _table_rows(engine, "ab_requests", experiment_id)
    outcomes = _table_rows(engine, "ab_outcomes", experiment_id).drop(columns=["id"], errors="ignore")
    requests["_t"] = requests["ts"].astype(float)
    when = outcomes["request_id"].map(requests.set_index("request_id")["_t"])
    outcomes["_t"] = when.fillna(outcomes["ts"]).astype(float)
    return (requests.sort_values("_t", kind="stable").reset_index(drop=True),
            outcomes.sort_values("_t", kind="stable").reset_index(drop=True))


class _ScratchCopy:
    """A scratch SQLite store holding a copy of one experiment, filled in time order."""

    def __init__(self, engine: Engine, name: str, folder: str) -> None:
        from harness.ab.gateway_source import has_gateway_requests
        from harness.ab.store_source import known_experiment
        from harness.store import create_engine_for
        from harness.store.ab import create_experiment

        info = known_experiment(engine, name)
        self.name = name
        self.gateway = has_gateway_requests(engine, info.id)
        if self.gateway:
            self.requests, self.outcomes = _gateway_rows(engine, info.id)
            frames = [self.requests, self.outcomes]
        else:
            self.events = _store_events(engine, info.id)
            frames = [self.events]
        times = [f["_t"] for f in frames if len(f)]
        self.first = min((float(t.min()) for t in times), default=None)
        self.last = max((float(t.max()) for t in times), default=None)
        self.engine = create_engine_for(f"sqlite:///{folder}/scratch.db")
        self.id = create_experiment(self.engine, name, info.weights, control=info.control,
                                    description=info.description, config=info.config).id
        self._done = 0.0 if self.first is None else self.first - 1.0

    def advance(self, cutoff: float) -> None:
        """Copy the rows that count after the previous cutoff and at or before ``cutoff``."""
        from sqlalchemy import text

        from harness.store.ab import EVENT_COLUMNS, log_event_columns

        def new(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[(frame["_t"] > self._done) & (frame["_t"] <= cutoff)]

        if self.gateway:
            with self.engine.begin() as conn:
                for table, frame in (("ab_requests", self.requests), ("ab_outcomes", self.outcomes)):
                    rows = new(frame).drop(columns=["_t"]).assign(experiment_id=self.id)
                    if len(rows):
                        cols = list(rows.columns)
                        conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                          f"({', '.join(':' + c for c in cols)})"),
                                     rows.astype(object).where(rows.notna(), None).to_dict("records"))
        else:
            rows = new(self.events)
            if len(rows):
                log_event_columns(self.engine, self.name, {c: rows[c].to_numpy() for c in EVENT_COLUMNS})
        self._done = cutoff

    def close(self) -> None:
        """Release the scratch database."""
        self.engine.dispose()


def analyze_over_time(engine: Engine, name: str, config: AnalysisConfig | None = None, *,
                      cutoffs: Sequence[float] | None = None, max_points: int = 60) -> list[TimelinePoint]:
    """Return the experiment analysed at each cutoff (default :func:`timeline_cutoffs`), oldest first.

    ``config`` is passed to :func:`~harness.ab.api.analyze_experiment` at every cutoff (no plan is
    used and nothing is recorded in ``engine``, which is only read). A cutoff whose data cannot be
    analysed yet gives a point with ``error`` set. No rows: an empty list.
    """
    import tempfile

    from harness.ab.api import analyze_experiment

    with tempfile.TemporaryDirectory(prefix="harness-timeline-") as folder:
        copy = _ScratchCopy(engine, name, folder)
        try:
            if copy.first is None or copy.last is None:
                return []
            points = []
            for cutoff in sorted(cutoffs) if cutoffs is not None else timeline_cutoffs(
                    copy.first, copy.last, max_points=max_points):
                copy.advance(cutoff)
                days = (cutoff - copy.first) / SECONDS_PER_DAY
                try:
                    result, decision = analyze_experiment(copy.engine, name, config, use_plan=False)
                except (HarnessError, ValueError, ZeroDivisionError) as exc:
                    points.append(TimelinePoint(cutoff, days, None, None, str(exc)))
                    continue
                points.append(TimelinePoint(cutoff, days, result, decision))
            return points
        finally:
            copy.close()
