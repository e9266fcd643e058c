"""The model registry table: one row per trained model (the folder holds the weights and files)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from harness.store.base import Base, utcnow


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
