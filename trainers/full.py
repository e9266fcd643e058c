"""Full fine-tuning: every weight of the base model is trained (default lr 2e-5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainers.loading import load_causal_lm
from trainers.methods import training_method

if TYPE_CHECKING:
    from trainers.config import TrainConfig


@training_method("full", default_lr=2e-5, is_adapter=False)
def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the base model, all parameters trainable."""
    model = load_causal_lm(base_path)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model
