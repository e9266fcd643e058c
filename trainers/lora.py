"""LoRA: low-rank adapters on the chosen projections of a full-precision base (default lr 2e-4)."""

from __future__ import annotations

from trainers.config import TrainConfig
from trainers.loading import load_causal_lm

IS_ADAPTER = True


def lora_config(config: TrainConfig):
    """Return the peft ``LoraConfig`` for ``config.lora``."""
    from peft import LoraConfig

    settings = config.lora
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the base wrapped as a ``PeftModel`` with only the LoRA weights trainable."""
    from peft import get_peft_model

    from harness.errors import ConfigError

    model = load_causal_lm(base_path)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    try:
        return get_peft_model(model, lora_config(config))
    except ValueError as exc:
        raise ConfigError(f"config field `lora.target_modules`: {exc}",
                          hint="name modules that exist in the base (e.g. q_proj, v_proj) or use \"all-linear\"") from None
