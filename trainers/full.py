"""Full fine-tuning: every weight of the base model is trained (default lr 2e-5)."""

from __future__ import annotations

from trainers.config import TrainConfig
from trainers.loading import load_causal_lm

IS_ADAPTER = False


def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the base model, all parameters trainable."""
    model = load_causal_lm(base_path)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model
