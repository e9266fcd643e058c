"""The model registry: one row per trained model (the folder holds the weights and files), and its queries.

Folder ``<workspace>/models/<name>/``: the weights (a peft adapter or full weights, loadable with
``from_pretrained``) and tokenizer, ``train_config.json`` (the resolved training config, sorted),
``metrics.jsonl`` (the curves), ``lineage.json`` (data hashes, git commit, package versions) and
``checkpoints/``. The row (:class:`TrainedModel`) carries the same facts for queries;
:class:`ModelRecord` is its frozen, database-free view.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from harness.store.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class TrainedModel(Base):
    """A trained candidate: where it lives, what it came from and how training went."""

    __tablename__ = "trained_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(Text)
    base_model_path: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    adapter: Mapped[bool] = mapped_column(Boolean)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset_hashes: Mapped[dict[str, Any]] = mapped_column(JSON)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    package_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    trainable_params: Mapped[int] = mapped_column(Integer)
    total_params: Mapped[int] = mapped_column(Integer)
    adapter_size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wall_time_s: Mapped[float] = mapped_column(Float)
    steps: Mapped[int] = mapped_column(Integer)
    final_train_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    final_val_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_val_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    curves_path: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# the registry: records and queries (every function takes the workspace's Engine) -------------------

@dataclass(frozen=True)
class ModelRecord:
    """A registered model, database-free: ``path`` is a peft adapter folder or full weights.

    Load it with :func:`harness.models.load_model` (an adapter loads over ``base_model_path``).
    """

    name: str
    path: str
    base_model: str
    method: str
    adapter: bool
    base_model_path: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    dataset_hashes: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    package_versions: dict[str, Any] = field(default_factory=dict)
    trainable_params: int = 0
    total_params: int = 0
    adapter_size_bytes: int | None = None
    wall_time_s: float = 0.0
    steps: int = 0
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    best_val_loss: float | None = None
    curves_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able data."""
        return asdict(self)


def _record(row: TrainedModel) -> ModelRecord:
    values = {name: getattr(row, name) for name in ModelRecord.__dataclass_fields__ if name != "created_at"}
    created = row.created_at
    if created is not None and created.tzinfo is None:  # SQLite drops the zone; the value is UTC
        created = created.replace(tzinfo=_dt.UTC)
    return ModelRecord(**values, created_at=created.isoformat() if created else None)


def register_model(engine: Engine, record: ModelRecord, *, overwrite: bool = False) -> ModelRecord:
    """Insert ``record`` (replacing a same-named one when ``overwrite``); returns it as stored."""
    from harness.errors import HarnessError

    with Session(engine, expire_on_commit=False) as session, session.begin():
        existing = session.scalars(select(TrainedModel).where(TrainedModel.name == record.name)).first()
        if existing is not None:
            if not overwrite:
                raise HarnessError(f"a model named {record.name!r} is already registered",
                                   hint="choose another `name`, or pass --force to replace it")
            session.delete(existing)
            session.flush()
        row = TrainedModel(**{k: v for k, v in record.to_dict().items() if k != "created_at"})
        session.add(row)
        session.flush()
        return _record(row)


def find_model(engine: Engine, name: str) -> ModelRecord | None:
    """The registered model called ``name``, or None."""
    with Session(engine) as session:
        row = session.scalars(select(TrainedModel).where(TrainedModel.name == name)).first()
        return _record(row) if row is not None else None


def list_models(engine: Engine) -> list[ModelRecord]:
    """Every registered model, newest first."""
    with Session(engine) as session:
        rows = session.scalars(select(TrainedModel).order_by(TrainedModel.created_at.desc())).all()
        return [_record(row) for row in rows]


def remove_model(engine: Engine, name: str) -> bool:
    """Delete the registry row of ``name`` (the folder stays); returns whether one existed."""
    with Session(engine) as session, session.begin():
        row = session.scalars(select(TrainedModel).where(TrainedModel.name == name)).first()
        if row is None:
            return False
        session.delete(row)
        return True
