"""The shared training loop: transformers ``Trainer`` with our arguments, metrics log and warnings.

Every method builds its model, then calls :func:`run_trainer`. Evaluation and checkpoints happen
every ``eval_steps``; the best checkpoint by validation loss is restored at the end; early stopping
watches the validation loss with ``early_stopping_patience``. :class:`MetricsLogger` appends one
JSON line per log event to ``metrics.jsonl`` (train loss, val loss, lr, grad norm, tokens/s, peak
memory) and warns when validation loss rises while training loss falls, by the one overfitting rule
(:func:`harness.stats.overfitting.overfitting_signal`, also used by ``harness compare``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainers.config import TrainConfig

log = logging.getLogger("trainers")


def peak_memory_mb() -> float:
    """Peak memory of this process in MB: CUDA max allocated on a GPU, else the peak resident set size."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB on Linux


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


def make_metrics_logger(path: Path, *, append: bool, warn=None):
    """Return a ``TrainerCallback`` writing ``metrics.jsonl`` at ``path`` (see :class:`MetricsLogger`)."""

    class MetricsLogger(_callback_base()):
        """Appends per-step metrics to ``metrics.jsonl`` and flags overfitting (main process only)."""

        def __init__(self) -> None:
            self.path = path
            self.append = append
            self.warn = warn or log.warning
            self.history: list[dict[str, Any]] = []
            self.overfitting_warned = False  # the overfitting rule's call on the whole log (harness compare's call)
            self._last_time: float | None = None
            self._last_tokens = 0
            self._log_rows: list[dict[str, Any]] = []  # every row of metrics.jsonl, earlier runs' too when resuming
            self._warning_shown = False

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.append:
                    self.path.write_text("", encoding="utf-8")
                elif self.path.exists():
                    self._log_rows = read_log_rows(self.path)
            self._last_time = time.perf_counter()
            self._last_tokens = state.num_input_tokens_seen or 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            now = time.perf_counter()
            row: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
            if "loss" in logs:
                row["train_loss"] = float(logs["loss"])
                tokens = state.num_input_tokens_seen or 0
                elapsed = now - (self._last_time or now)
                if elapsed > 0 and tokens > self._last_tokens:
                    row["tokens_per_s"] = round((tokens - self._last_tokens) / elapsed, 1)
                self._last_time, self._last_tokens = now, tokens
            for source, target in (("eval_loss", "val_loss"), ("learning_rate", "lr"), ("grad_norm", "grad_norm")):
                if source in logs and logs[source] is not None:
                    row[target] = float(logs[source])
            if "val_loss" in row:
                self._check_overfitting(row)
            if not any(k in row for k in ("train_loss", "val_loss")):
                return  # the closing summary log: train_runtime etc. are recorded elsewhere
            row["peak_memory_mb"] = round(peak_memory_mb(), 1)
            row["time"] = round(time.time(), 3)
            self.history.append(row)
            self._log_rows.append(row)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.overfitting_warned = self._overfitting(self._log_rows).flagged

        def _overfitting(self, rows: list[dict[str, Any]]):
            from harness.stats.overfitting import overfitting_signal, training_points

            return overfitting_signal(*training_points(enumerate(rows, start=1)))

        def _check_overfitting(self, row: dict[str, Any]) -> None:
            # The one rule (harness.stats.overfitting) on the log so far, this evaluation included.
            result = self._overfitting([*self._log_rows, row])
            self.overfitting_warned = result.flagged
            if not result.flagged:
                return
            row["warning"] = "overfitting"
            if not self._warning_shown:
                self.warn(f"possible overfitting at step {row['step']}: validation loss rose "
                          f"{result.best_val_loss:.4f} -> {result.last_val_loss:.4f} "
                          f"({100 * result.val_rise:+.1f}%) since step {result.best_step:g} while training loss "
                          f"changed {result.train_change:+.4f}; the step {result.best_step:g} checkpoint is the best")
                self._warning_shown = True

    return MetricsLogger()


def read_log_rows(path: Path) -> list[dict[str, Any]]:
    """Return the JSON object rows of an existing ``metrics.jsonl``; a torn last line from a killed run
    (or any line that is not a JSON object) is skipped. Also the reader of the app's training page."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _quiet_progress():
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        """tqdm bar with ETA; shows train/val loss as the postfix rather than printing every log."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and self.training_bar is not None and logs:
                shown = {k: f"{v:.4f}" for k, v in logs.items() if k in ("loss", "eval_loss")}
                if shown:
                    self.training_bar.set_postfix(shown, refresh=False)

    return QuietProgress()


@dataclass
class TrainOutcome:
    """What a finished training run reports back."""

    global_step: int
    wall_time_s: float
    final_train_loss: float | None
    final_val_loss: float | None
    best_val_loss: float | None
    best_checkpoint: str | None
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    overfitting_warned: bool = False


def gradient_accumulation(config: TrainConfig, world_size: int) -> int:
    """Steps to accumulate so that ``batch_size * world_size * steps`` reaches the effective batch."""
    return max(1, math.ceil(config.effective_batch_size / (config.batch_size * max(1, world_size))))


def training_arguments(config: TrainConfig, checkpoints: Path):
    """Return the ``TrainingArguments`` for ``config`` (transformers 5 names: eval_strategy, use_cpu)."""
    import os

    import torch
    from transformers import TrainingArguments

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision in {"bf16", "fp16"} and not cuda:
        from harness.errors import DependencyError

        raise DependencyError(f"precision={precision} needs a CUDA GPU", hint="use precision=fp32 (or auto) on CPU")
    return TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=gradient_accumulation(config, world_size),
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        lr_scheduler_type=config.lr_scheduler,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps or config.eval_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=1,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not cuda,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        report_to="none",
        disable_tqdm=not config.progress,
        remove_unused_columns=False,
        prediction_loss_only=True,  # validation needs the loss only: no logits kept per batch
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )


def latest_checkpoint(checkpoints: Path) -> str | None:
    """Return the newest ``checkpoint-N`` folder under ``checkpoints``, or None."""
    found = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])
                   if p.name.rsplit("-", 1)[-1].isdigit() else -1)
    return str(found[-1]) if found else None


def _shared_prefix(inputs: dict, keep) -> int:
    """Length of the token prefix that every row of the batch shares (0 when not worth sharing).

    Rows of a chat dataset usually open with the same system prompt and template tokens. The prefix
    ends before the first position whose logits the loss needs, so the loss is unchanged.
    """
    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    if ids.shape[0] < 2 or set(inputs) - {"input_ids", "attention_mask"}:
        return 0
    same = (ids == ids[:1]).all(dim=0)
    if mask is not None:
        same &= mask.bool().all(dim=0)
    length = int(same.int().cumprod(dim=0).sum())
    length = min(length, int(keep.min()) if keep.numel() else 0, ids.shape[1] - 1)
    return length if length >= 8 else 0


def _forward_with_shared_prefix(model, inputs: dict, prefix: int, keep, *, cache_argument: str):
    """Run the shared prefix once (batch of one), then every row's remainder over its cached keys/values.

    Gradients flow through the cache into the prefix pass, so loss and gradients equal those of the
    full batch (checked in tests/trainers/test_loop.py); the prefix tokens are computed once instead
    of once per row (on the demo's ``extract`` set: 45 of ~108 tokens, a ~1.4x faster step).
    ``cache_argument`` is the forward argument that takes the cache (see :func:`_cache_argument`).
    """
    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    head = model(input_ids=ids[:1, :prefix], attention_mask=None if mask is None else mask[:1, :prefix],
                 use_cache=True, logits_to_keep=1)
    cache = getattr(head, "cache", None) or getattr(head, "past_key_values", None)
    if not hasattr(cache, "batch_repeat_interleave"):  # a model without a transformers Cache: no sharing
        return model(**inputs, logits_to_keep=keep)
    cache.batch_repeat_interleave(ids.shape[0])
    return model(input_ids=ids[:, prefix:], attention_mask=mask, use_cache=True, logits_to_keep=keep - prefix,
                 **{cache_argument: cache})


def _forward_accepts(model, name: str) -> bool:
    """Whether the (peft-wrapped) model's own ``forward`` takes the argument ``name``."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def _cache_argument(model) -> str:
    """The forward argument that takes a KV cache: ``cache`` from transformers 5.2x on, ``past_key_values`` before."""
    return "cache" if _forward_accepts(model, "cache") else "past_key_values"


def _assistant_trainer_class(shared_prefix: bool = True, plus_ratio: float | None = None):
    """A ``Trainer`` whose loss projects onto the vocabulary only where the loss mask needs it.

    The default causal-LM loss computes logits for every position, and with a 49k vocabulary the
    ``lm_head`` is ~20% of a training step; here only the positions that predict an assistant token
    (their union over the batch, passed as ``logits_to_keep``) are projected. The loss is the same
    (token-mean cross entropy, or the sum over ``num_items_in_batch`` under gradient accumulation),
    checked against the default in tests/trainers/test_loop.py. Models or adapters that cannot slice
    (prompt learning prepends virtual tokens; models without ``logits_to_keep``) take the default.
    With ``shared_prefix``, a prompt prefix common to the whole batch is computed once per batch
    (see :func:`_forward_with_shared_prefix`). With ``plus_ratio`` (LoRA+), the optimizer trains the
    LoRA B matrices at ``plus_ratio`` x lr (built in ``create_optimizer``, so accelerate wraps it as
    it wraps the default one).
    """
    import torch
    from transformers import Trainer

    class AssistantLossTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.sliced_loss = self.model_accepts_loss_kwargs and _can_slice_logits(self.model)
            # One process on one device only: DDP hooks expect one forward per backward (this makes
            # two), and DataParallel cannot scatter a cache object.
            self.shared_prefix = bool(shared_prefix and self.sliced_loss and self.args.world_size == 1
                                      and self.args.n_gpu <= 1)
            self.cache_argument = _cache_argument(self.model)

        def create_optimizer(self, model=None):
            if plus_ratio is None or self.optimizer is not None:
                return super().create_optimizer(model)
            from peft.optimizers import create_loraplus_optimizer

            opt_model = self.model if model is None else model
            optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)  # args.optim's choice
            kwargs = dict(kwargs)
            lr = kwargs.pop("lr", self.args.learning_rate)
            self.optimizer = create_loraplus_optimizer(opt_model, optimizer_cls, lr=lr, loraplus_lr_ratio=plus_ratio,
                                                       weight_decay=self.args.weight_decay,
                                                       loraplus_weight_decay=self.args.weight_decay, **kwargs)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.get("labels")
            if not self.sliced_loss or labels is None or self.label_smoother is not None:
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            targets = labels[:, 1:]
            keep = (targets != -100).any(dim=0).nonzero().flatten()
            rest = {k: v for k, v in inputs.items() if k != "labels"}
            prefix = _shared_prefix(rest, keep) if self.shared_prefix else 0
            if prefix:
                outputs = _forward_with_shared_prefix(model, rest, prefix, keep, cache_argument=self.cache_argument)
            else:
                outputs = model(**rest, logits_to_keep=keep)
            picked = targets[:, keep]
            logits = outputs.logits.float()
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), picked.reshape(-1),
                                                     ignore_index=-100, reduction="sum")
            if num_items_in_batch is None:
                loss = loss / (picked != -100).sum().clamp(min=1)
            else:
                loss = loss / num_items_in_batch
                if self.args.average_tokens_across_devices:  # as Trainer.compute_loss scales it
                    loss = loss * (self.accelerator.num_processes if self.args.n_gpu <= 1 else self.args.n_gpu)
            return (loss, outputs) if return_outputs else loss

    def _can_slice_logits(model) -> bool:
        peft_config = getattr(model, "active_peft_config", None)
        if peft_config is not None and peft_config.is_prompt_learning:
            return False
        return _forward_accepts(model, "logits_to_keep")

    return AssistantLossTrainer


def run_trainer(model, tokenizer, train_features, val_features, config: TrainConfig, folder: Path,
                *, warn=None) -> tuple[Any, TrainOutcome]:
    """Train ``model`` with the Trainer; returns (trainer, outcome). Resumes when ``config.resume``."""
    from transformers import EarlyStoppingCallback

    from trainers.data import PaddingCollator

    checkpoints = folder / "checkpoints"
    resume_from = latest_checkpoint(checkpoints) if config.resume else None
    metrics = make_metrics_logger(folder / "metrics.jsonl", append=resume_from is not None, warn=warn)
    callbacks = [metrics]
    if config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience,
                                               early_stopping_threshold=config.early_stopping_threshold))
    settings = config.settings_for_method()
    plus_ratio = getattr(settings, "plus_ratio", None)  # LoRA+ for the methods with LoRA settings
    # Gradient checkpointing recomputes layers without a cache: the shared prefix does not apply.
    trainer = _assistant_trainer_class(config.shared_prefix and not config.gradient_checkpointing, plus_ratio)(
        model=model,
        args=training_arguments(config, checkpoints),
        train_dataset=train_features,
        eval_dataset=val_features,
        data_collator=PaddingCollator(pad_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    # stdout belongs to the command's output (--json): no printed log dicts; metrics go to metrics.jsonl.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if config.progress:  # the bar (stderr) with ETA, showing the latest losses
        trainer.add_callback(_quiet_progress())
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    wall = time.perf_counter() - started
    history = metrics.history
    if resume_from is not None and (folder / "metrics.jsonl").exists():  # the whole curve, resumed or not
        history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    state = trainer.state
    # The Trainer's own log history is the same on every rank (our metrics log lives on the main one),
    # so decisions taken from it (e.g. "evaluate once more") keep the ranks' collectives in step.
    train_losses = [float(e["loss"]) for e in state.log_history if "loss" in e]
    val_losses = [float(e["eval_loss"]) for e in state.log_history if "eval_loss" in e]
    final_val = val_losses[-1] if val_losses else None
    stop_planned = state.max_steps
    stopped_early = bool(config.early_stopping_patience) and state.global_step < stop_planned
    outcome = TrainOutcome(
        global_step=state.global_step,
        wall_time_s=round(wall, 2),
        final_train_loss=train_losses[-1] if train_losses else None,
        final_val_loss=final_val,
        best_val_loss=min(val_losses) if val_losses else None,
        best_checkpoint=state.best_model_checkpoint,
        stopped_early=stopped_early,
        history=history,
        overfitting_warned=metrics.overfitting_warned,
    )
    return trainer, outcome
