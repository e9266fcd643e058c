"""Training view: a registered model's loss curves, early-stopping point, overfitting call, lineage, data files.

Reads the registry (:mod:`harness.store.models`) and the model folder (``metrics.jsonl``, ``lineage.json``,
``train_config.json``). The overfitting call is the one rule the trainer and ``harness compare`` use
(:func:`harness.stats.overfitting.overfitting_signal`), applied to the whole log.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.stats.overfitting import OverfittingResult, overfitting_signal, training_points

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from harness.store.models import ModelRecord

#: The command that registers a model (``harness train CONFIG.yaml``), with the bundled example config.
TRAIN_COMMAND = "harness train trainers/configs/lora-extract.yaml"

Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TrainingCurve:
    """A model's training log: ``(step, loss)`` points, the best validation step and where training stopped."""

    model: str
    log_path: str
    train: Points
    val: Points
    best_step: float | None  # lowest validation loss: the early-stopping point, the checkpoint kept
    best_val_loss: float | None
    stop_step: float | None  # the last step logged: where training stopped
    planned_steps: int | None  # max_steps from the config (None when training ran by epochs)
    stopped_early: bool | None  # as the trainer recorded it (None when unknown)
    overfitting: OverfittingResult

    @property
    def empty(self) -> bool:
        """Whether the log had no loss at all (missing or empty ``metrics.jsonl``)."""
        return not self.train and not self.val

    def frame(self) -> pd.DataFrame:
        """The points as a long table: ``step``, ``split`` ("train" | "validation"), ``loss``."""
        import pandas as pd

        rows = [{"step": s, "split": "train", "loss": v} for s, v in self.train]
        rows += [{"step": s, "split": "validation", "loss": v} for s, v in self.val]
        return pd.DataFrame(rows, columns=["step", "split", "loss"])

    def stopping(self) -> str:
        """A sentence on where training stopped and which step was best."""
        if self.stop_step is None:
            return "no training steps logged"
        end = f"training stopped at step {self.stop_step:g}"
        if self.planned_steps:
            end += f" of {self.planned_steps}"
        if self.stopped_early:
            end += " (early stopping: validation loss stopped improving)"
        if self.best_step is None:
            return end + "; no validation loss logged"
        return end + f"; best validation loss {self.best_val_loss:.4f} at step {self.best_step:g}"


def read_curve(path: str | Path, *, model: str = "", planned_steps: int | None = None,
               stopped_early: bool | None = None) -> TrainingCurve:
    """Read a trainer ``metrics.jsonl`` into a :class:`TrainingCurve` (a missing file gives an empty one).

    A torn last line (a run killed mid-write) is skipped, as the trainer's own reader does.
    """
    from trainers.loop import read_log_rows

    path = Path(path)
    rows = read_log_rows(path) if path.is_file() else []
    train, val = training_points(enumerate(rows, start=1))
    train, val = sorted(train), sorted(val)
    result = overfitting_signal(train, val)
    best_step, best_loss = _best(val, result)
    steps = [s for s, _ in train] + [s for s, _ in val]
    return TrainingCurve(model=model, log_path=str(path), train=tuple(train), val=tuple(val),
                         best_step=best_step, best_val_loss=best_loss,
                         stop_step=max(steps) if steps else None, planned_steps=planned_steps,
                         stopped_early=stopped_early, overfitting=result)


def _best(val: list[tuple[float, float]], result: OverfittingResult) -> tuple[float | None, float | None]:
    if result.error is None:  # the rule's own best step
        return result.best_step, result.best_val_loss
    if not val:
        return None, None
    step, loss = min(val, key=lambda point: point[1])  # one evaluation: the rule did not run
    return step, loss


def model_curve(record: ModelRecord) -> TrainingCurve:
    """The :class:`TrainingCurve` of a registered model (its ``metrics.jsonl``, the config's ``max_steps``)."""
    path = record.curves_path or str(Path(record.path) / "metrics.jsonl")
    max_steps = _config(record).get("max_steps")
    planned = int(max_steps) if isinstance(max_steps, int | float) and max_steps > 0 else None
    stopped = record.extra.get("stopped_early")
    return read_curve(path, model=record.name, planned_steps=planned,
                      stopped_early=stopped if isinstance(stopped, bool) else None)


def model_names(engine: Engine) -> list[str]:
    """The names of the registered models, newest first."""
    from harness.store.models import list_models

    return [record.name for record in list_models(engine)]


def model_record(engine: Engine, name: str) -> ModelRecord:
    """The registered model ``name``; raises :class:`~harness.errors.HarnessError` when there is none."""
    from harness.errors import HarnessError
    from harness.store.models import find_model

    record = find_model(engine, name)
    if record is None:
        raise HarnessError(f"no registered model named {name!r}", hint="`harness models list` shows them")
    return record


# lineage ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lineage:
    """Where a model came from: ``items`` are ``(section, field, value)`` rows; the full config and versions."""

    model: str
    items: tuple[tuple[str, str, str], ...]
    config: dict[str, Any] = field(default_factory=dict)
    package_versions: dict[str, Any] = field(default_factory=dict)
    lineage_path: str = ""
    lineage_found: bool = False

    def frame(self) -> pd.DataFrame:
        """The items as a table: ``section``, ``field``, ``value``."""
        import pandas as pd

        return pd.DataFrame(list(self.items), columns=["section", "field", "value"])

    def value(self, name: str) -> str | None:
        """The value of the field ``name`` (first match), or None."""
        return next((value for _, key, value in self.items if key == name), None)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _config(record: ModelRecord) -> dict[str, Any]:
    return record.config or _read_json(Path(record.path) / "train_config.json")


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _hyperparameters(config: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("lr", "epochs", "max_steps", "batch_size", "effective_batch_size", "warmup_steps", "lr_scheduler",
            "weight_decay", "max_length", "eval_steps", "early_stopping_patience", "seed")
    rows = [(key, config[key]) for key in keys if key in config]
    method = config.get("method")
    section = config.get(method) if isinstance(method, str) else None
    if isinstance(section, dict):  # the method's own settings (lora.r, lora.alpha, ...)
        rows += [(f"{method}.{key}", value) for key, value in section.items() if value is not None]
    mix = config.get("mix")
    if isinstance(mix, dict) and mix.get("fraction"):
        rows += [("mix.fraction", mix["fraction"]), ("mix.file", mix.get("file"))]
    return rows


def model_lineage(record: ModelRecord) -> Lineage:
    """The :class:`Lineage` of a registered model: the registry row, ``lineage.json`` and ``train_config.json``."""
    folder = Path(record.path)
    lineage_path = folder / "lineage.json"
    lineage = _read_json(lineage_path)
    config = _config(record)
    items: list[tuple[str, str, str]] = [
        ("model", "name", record.name), ("model", "method", record.method),
        ("model", "kind", "adapter" if record.adapter else "full weights"), ("model", "folder", record.path),
        ("model", "base model", record.base_model),
        ("model", "base model path", record.base_model_path or str(lineage.get("base_model_path", "-"))),
        ("model", "registered", record.created_at or "-"),
        ("code", "git commit", record.git_commit or str(lineage.get("git_commit") or "-")),
    ]
    hashes = record.dataset_hashes or lineage.get("dataset_hashes") or {}
    for file in training_data_files(record):
        items.append(("data", file.role, file.path or "-"))
        items.append(("data", f"{file.role} sha256", hashes.get(file.role, "-")))
    data = lineage.get("data") or record.extra.get("data") or {}
    if "train_examples" in data:
        used = _number(data["train_examples"])
        in_file = data.get("train_examples_in_file")
        items.append(("data", "train examples used", used + (f" of {_number(in_file)}" if in_file else "")))
    if "val_examples" in data:
        items.append(("data", "val examples used", _number(data["val_examples"])))
    items += [("config", key, _number(value)) for key, value in _hyperparameters(config)]
    extra = record.extra
    items += [(section, key, _number(value)) for section, key, value in (
        ("metrics", "steps", record.steps),
        ("metrics", "final train loss", record.final_train_loss),
        ("metrics", "final val loss", record.final_val_loss),
        ("metrics", "best val loss", record.best_val_loss),
        ("metrics", "stopped early", extra.get("stopped_early")),
        ("metrics", "best checkpoint", extra.get("best_checkpoint")),
        ("metrics", "overfitting warned", extra.get("overfitting_warned")),
        ("metrics", "wall time (s)", record.wall_time_s),
        ("metrics", "trainable params", record.trainable_params),
        ("metrics", "total params", record.total_params),
        ("metrics", "adapter size (bytes)", record.adapter_size_bytes),
        ("metrics", "median tokens/s", extra.get("median_tokens_per_s")),
        ("metrics", "device", extra.get("device")),
        ("metrics", "precision", extra.get("precision")),
    ) if value is not None]
    versions = record.package_versions or lineage.get("package_versions") or {}
    return Lineage(model=record.name, items=tuple((s, k, str(v)) for s, k, v in items), config=dict(config),
                   package_versions=dict(versions), lineage_path=str(lineage_path),
                   lineage_found=lineage_path.is_file())


# the training data files -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataFile:
    """A data file a model was trained on: its recorded path and hash, and whether it is still here, unchanged."""

    role: str  # the config field: "train_file" | "val_file" | "mix.file"
    path: str
    recorded_hash: str | None
    exists: bool
    current_hash: str | None = None

    @property
    def unchanged(self) -> bool | None:
        """Whether the file's SHA-256 equals the recorded one (None when either is unknown)."""
        if not self.exists or not self.recorded_hash or not self.current_hash:
            return None
        return self.current_hash == self.recorded_hash

    def describe(self) -> str:
        """A sentence on the file's state."""
        if not self.path:
            return f"{self.role}: no path recorded"
        if not self.exists:
            recorded = f" (sha256 {self.recorded_hash[:12]}...)" if self.recorded_hash else ""
            return f"{self.role} was {self.path}{recorded}; that file is not here any more"
        if self.unchanged is False:
            return f"{self.path} has changed since training (sha256 differs from the one recorded)"
        if self.unchanged:
            return f"{self.path}: the file the model was trained on (sha256 matches)"
        return f"{self.path}: no hash recorded, so it may differ from what the model saw"


def training_data_files(record: ModelRecord, *, check_hashes: bool = False) -> tuple[DataFile, ...]:
    """The data files the model's config names (train, val, mix-in), with the hashes its lineage recorded.

    With ``check_hashes`` the files still present are hashed again to tell whether they changed.
    """
    from harness.io import file_sha256

    config = _config(record)
    hashes = record.dataset_hashes or {}
    paths: dict[str, str] = {}
    for role in ("train_file", "val_file"):
        if isinstance(config.get(role), str):
            paths[role] = config[role]
    mix = config.get("mix")
    if isinstance(mix, dict) and mix.get("fraction") and isinstance(mix.get("file"), str):
        paths["mix.file"] = mix["file"]
    for role in hashes:
        paths.setdefault(role, "")
    files = []
    for role, path in paths.items():
        exists = bool(path) and Path(path).is_file()
        current = file_sha256(path) if exists and check_hashes else None
        files.append(DataFile(role, path, hashes.get(role), exists, current))
    return tuple(files)
