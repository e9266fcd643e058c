"""Tables and queries for evaluation runs: runs, the generation cache and per-example rows.

The generation cache is keyed by (model fingerprint, prompt hash, settings hash), so re-running
a suite or adding a metric never generates again. Generations are committed in small
transactions as they finish; a killed run loses at most the batch in flight. Every query takes the
workspace's ``Engine`` as its first argument.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
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
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from harness.store.base import Base, transaction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class EvalRun(Base):
    """One ``harness eval`` run (its folder is ``<workspace>/runs/<id>``)."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    suite_name: Mapped[str] = mapped_column(String(200), index=True)
    suite_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed | failed
    run_dir: Mapped[str] = mapped_column(Text)
    suite_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary_json: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[_dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CachedGeneration(Base):
    """One generated answer, shared by every run that asks the same model the same prompt."""

    __tablename__ = "generations"
    __table_args__ = (UniqueConstraint("fingerprint", "prompt_hash", "settings_hash", name="uq_generation_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    settings_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    model: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunExample(Base):
    """A scored example of a run: candidate x dataset x example id, with its metric values."""

    __tablename__ = "run_examples"
    __table_args__ = (UniqueConstraint("run_id", "candidate", "dataset", "example_id", name="uq_run_example"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    candidate: Mapped[str] = mapped_column(String(200))
    dataset: Mapped[str] = mapped_column(String(200))
    example_id: Mapped[str] = mapped_column(String(400))
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"), nullable=True)
    prediction: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# queries -----------------------------------------------------------------------------------


def lookup_generations(engine: Engine, fingerprint: str, settings_hash: str,
                       prompt_hashes: Iterable[str]) -> dict[str, CachedGeneration]:
    """Cached generations by prompt hash for one model and settings (missing hashes are absent)."""
    wanted = list(dict.fromkeys(prompt_hashes))
    found: dict[str, CachedGeneration] = {}
    with transaction(engine) as session:
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start:start + 500]
            rows = session.scalars(select(CachedGeneration).where(
                CachedGeneration.fingerprint == fingerprint,
                CachedGeneration.settings_hash == settings_hash,
                CachedGeneration.prompt_hash.in_(chunk)))
            found.update({row.prompt_hash: row for row in rows})
    return found


def store_generations(engine: Engine, fingerprint: str, settings_hash: str,
                      items: Sequence[tuple[str, Any]]) -> None:
    """Insert ``(prompt_hash, Generation)`` pairs in one transaction; existing keys are kept."""
    if not items:
        return
    rows = [{
        "fingerprint": fingerprint, "prompt_hash": prompt, "settings_hash": settings_hash,
        "text": gen.text, "latency_s": gen.latency_s, "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens, "finish_reason": gen.finish_reason,
        "model": gen.model, "created_at": utcnow(),
    } for prompt, gen in items]
    dialect = engine.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - other databases: plain insert, duplicates are prevented by lookup first
        from sqlalchemy import insert  # type: ignore[assignment]
    statement = insert(CachedGeneration).values(rows)
    if dialect in ("sqlite", "postgresql"):
        statement = statement.on_conflict_do_nothing(index_elements=["fingerprint", "prompt_hash", "settings_hash"])
    with transaction(engine) as session:
        session.execute(statement)


def count_generations(engine: Engine) -> int:
    """Number of cached generations in the workspace."""
    from sqlalchemy import func

    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(CachedGeneration)) or 0)


def create_run(engine: Engine, run_id: str, suite_name: str, suite_hash: str, run_dir: str,
               suite_json: dict[str, Any]) -> None:
    """Record a new run as ``running``."""
    with transaction(engine) as session:
        session.add(EvalRun(id=run_id, suite_name=suite_name, suite_hash=suite_hash, run_dir=run_dir,
                            suite_json=suite_json, status="running"))


def find_resumable_run(engine: Engine, suite_name: str) -> EvalRun | None:
    """The newest run of ``suite_name`` that did not complete, if any."""
    with transaction(engine) as session:
        return session.scalars(select(EvalRun).where(EvalRun.suite_name == suite_name, EvalRun.status != "completed")
                               .order_by(EvalRun.started_at.desc(), EvalRun.id.desc()).limit(1)).first()


def get_run(engine: Engine, run_id: str) -> EvalRun | None:
    """The run ``run_id`` (``latest`` = the most recently started run), or None."""
    with transaction(engine) as session:
        if run_id == "latest":
            # By start time: ids order by the second only (runs made within one second tie on it).
            return session.scalars(select(EvalRun).order_by(EvalRun.started_at.desc(), EvalRun.id.desc())
                                   .limit(1)).first()
        return session.get(EvalRun, run_id)


def list_runs(engine: Engine) -> list[EvalRun]:
    """All runs, newest first."""
    with transaction(engine) as session:
        return list(session.scalars(select(EvalRun).order_by(EvalRun.started_at.desc(), EvalRun.id.desc())))


def set_run_status(engine: Engine, run_id: str, status: str, *, summary: dict[str, Any] | None = None) -> None:
    """Update a run's status (and summary); ``completed``/``failed`` also set ``finished_at``."""
    with transaction(engine) as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            return
        run.status = status
        if summary is not None:
            run.summary_json = json.loads(json.dumps(summary))
        if status in ("completed", "failed"):
            run.finished_at = utcnow()


def replace_run_examples(engine: Engine, run_id: str, candidate: str, dataset: str,
                         rows: Sequence[dict[str, Any]]) -> None:
    """Replace the per-example rows of (run, candidate, dataset) in one transaction."""
    with transaction(engine) as session:
        session.execute(delete(RunExample).where(RunExample.run_id == run_id, RunExample.candidate == candidate,
                                                 RunExample.dataset == dataset))
        session.add_all(RunExample(run_id=run_id, candidate=candidate, dataset=dataset, **row) for row in rows)


def run_examples(engine: Engine, run_id: str) -> list[RunExample]:
    """Per-example rows of a run, ordered by candidate, dataset and insertion."""
    with transaction(engine) as session:
        return list(session.scalars(select(RunExample).where(RunExample.run_id == run_id)
                                    .order_by(RunExample.candidate, RunExample.dataset, RunExample.id)))
