"""Plans and looks of A/B experiments: what ``harness ab plan --experiment`` records, what each analysis took.

A plan fixes the horizon of a group-sequential analysis: the planned units (across all variants),
the planned days, how often one looks (``daily`` or a number of looks), alpha, the spending
function, the primary metric and its MDE. Each ``harness ab analyze --experiment`` under a plan is a
*look*: its index, units so far, information fraction and the boundary used are stored, so that a
later analysis computes the boundary over the same looks (re-running the same look adds none).

Queries: :func:`save_plan`, :func:`get_plan`, :func:`delete_plan` (with its looks), :func:`list_looks`,
:func:`add_look`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from harness.errors import DataError
from harness.store.ab import get_experiment
from harness.store.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class AbPlan(Base):
    """The plan of one experiment (at most one): its horizon and the settings of its boundary."""

    __tablename__ = "ab_plans"
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), primary_key=True)
    planned_units: Mapped[int] = mapped_column(BigInteger)
    planned_days: Mapped[float | None] = mapped_column(Float)
    units_per_day: Mapped[float | None] = mapped_column(Float)
    looks: Mapped[str] = mapped_column(String(32), default="daily")  # "daily" or a number of looks
    alpha: Mapped[float] = mapped_column(Float)
    spending: Mapped[str] = mapped_column(String(32))
    primary_metric: Mapped[str | None] = mapped_column(String(200))
    mde: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AbLook(Base):
    """One look taken under a plan: when, on how many units, at which information fraction and boundary."""

    __tablename__ = "ab_looks"
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), primary_key=True)
    look_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 1, 2, ...
    analysed_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    units: Mapped[int] = mapped_column(BigInteger)
    fraction: Mapped[float] = mapped_column(Float)
    z_boundary: Mapped[float | None] = mapped_column(Float)  # NULL when infinite (no alpha left)


@dataclass(frozen=True)
class PlanInfo:
    """A stored plan (see :class:`AbPlan`)."""

    experiment: str
    planned_units: int
    planned_days: float | None
    units_per_day: float | None
    looks: str
    alpha: float
    spending: str
    primary_metric: str | None
    mde: float | None
    created_at: _dt.datetime

    def to_dict(self) -> dict:
        """The plan as JSON-ready values (``created_at`` in ISO format)."""
        return {"experiment": self.experiment, "planned_units": self.planned_units,
                "planned_days": self.planned_days, "units_per_day": self.units_per_day, "looks": self.looks,
                "alpha": self.alpha, "spending": self.spending, "primary_metric": self.primary_metric,
                "mde": self.mde, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class LookInfo:
    """A stored look (see :class:`AbLook`); ``z_boundary`` is ``None`` when no alpha was left."""

    index: int
    analysed_at: _dt.datetime
    units: int
    fraction: float
    z_boundary: float | None


def _experiment_id(engine: Engine, experiment: str) -> int:
    info = get_experiment(engine, experiment)
    if info is None:
        raise DataError(f"unknown experiment {experiment!r}",
                        hint="create it first (harness ab simulate, or the gateway), then plan it")
    return info.id


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)  # SQLite drops the zone


def get_plan(engine: Engine, experiment: str) -> PlanInfo | None:
    """Return the plan of ``experiment`` (``None`` when it has none; a DataError when it does not exist)."""
    from sqlalchemy.orm import Session

    exp_id = _experiment_id(engine, experiment)
    with Session(engine) as session:
        row = session.get(AbPlan, exp_id)
        if row is None:
            return None
        return PlanInfo(experiment, row.planned_units, row.planned_days, row.units_per_day, row.looks, row.alpha,
                        row.spending, row.primary_metric, row.mde, _aware(row.created_at))


def save_plan(engine: Engine, experiment: str, *, planned_units: int, alpha: float, spending: str,
              planned_days: float | None = None, units_per_day: float | None = None, looks: str = "daily",
              primary_metric: str | None = None, mde: float | None = None, replace: bool = False) -> PlanInfo:
    """Record the plan of ``experiment`` and return it.

    A plan without looks is replaced freely. Once a look has been taken the plan is fixed (changing the
    horizon mid-experiment changes every boundary): a DataError, unless ``replace`` deletes the plan
    and its looks first.
    """
    from sqlalchemy.orm import Session

    if not planned_units > 0:
        raise DataError(f"experiment {experiment!r}: planned units must be > 0, got {planned_units}")
    exp_id = _experiment_id(engine, experiment)
    taken = list_looks(engine, experiment)
    if taken and not replace:
        raise DataError(f"experiment {experiment!r} already has a plan with {len(taken)} look(s) taken; "
                        "changing the plan mid-experiment changes every boundary",
                        hint="pass --replace-plan to discard the plan and its looks (the analysis restarts at look 1)")
    with Session(engine) as session, session.begin():
        session.query(AbLook).filter(AbLook.experiment_id == exp_id).delete()
        session.query(AbPlan).filter(AbPlan.experiment_id == exp_id).delete()
        session.add(AbPlan(experiment_id=exp_id, planned_units=int(planned_units), planned_days=planned_days,
                           units_per_day=units_per_day, looks=str(looks), alpha=float(alpha), spending=spending,
                           primary_metric=primary_metric, mde=mde))
    plan = get_plan(engine, experiment)
    assert plan is not None
    return plan


def delete_plan(engine: Engine, experiment: str) -> bool:
    """Delete the plan of ``experiment`` and its looks; returns whether there was a plan."""
    from sqlalchemy.orm import Session

    exp_id = _experiment_id(engine, experiment)
    with Session(engine) as session, session.begin():
        session.query(AbLook).filter(AbLook.experiment_id == exp_id).delete()
        return session.query(AbPlan).filter(AbPlan.experiment_id == exp_id).delete() > 0


def list_looks(engine: Engine, experiment: str) -> list[LookInfo]:
    """Return the looks taken on ``experiment``, first look first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    exp_id = _experiment_id(engine, experiment)
    with Session(engine) as session:
        rows = session.scalars(select(AbLook).where(AbLook.experiment_id == exp_id).order_by(AbLook.look_index)).all()
        return [LookInfo(r.look_index, _aware(r.analysed_at), r.units, r.fraction, r.z_boundary) for r in rows]


def add_look(engine: Engine, experiment: str, *, index: int, units: int, fraction: float,
             z_boundary: float | None) -> LookInfo:
    """Record look ``index`` (the next one: 1 + the looks taken) and return it.

    Two analyses racing for the same index: the second fails on the primary key (a DataError saying to
    run the analysis again, which then finds the look taken).
    """
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    exp_id = _experiment_id(engine, experiment)
    try:
        with Session(engine) as session, session.begin():
            session.add(AbLook(experiment_id=exp_id, look_index=index, units=int(units), fraction=float(fraction),
                               z_boundary=z_boundary))
    except IntegrityError:
        raise DataError(f"experiment {experiment!r}: look {index} was recorded by another analysis at the same time",
                        hint="run the analysis again") from None
    return next(look for look in list_looks(engine, experiment) if look.index == index)
