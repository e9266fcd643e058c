"""LoRA: low-rank adapters on the chosen projections of a full-precision base (default lr 2e-4)."""

from __future__ import annotations

from trainers.config import LoraSettings, TrainConfig
from trainers.loading import get_peft_model, load_causal_lm
from trainers.methods import training_method


def lora_config(config: TrainConfig, model):
    """Return the peft ``LoraConfig`` for ``config.lora`` on ``model`` (which resolves ``lora.top_layers``)."""
    from peft import LoraConfig

    settings = config.lora
    targets = settings.target_modules
    layers = None
    if settings.top_layers is not None:
        depth = _depth(model)
        if settings.top_layers > depth:
            from harness.errors import ConfigError

            raise ConfigError(f"config field `lora.top_layers`: {settings.top_layers} is more than the "
                              f"{depth} layers of the base model", hint=f"use at most lora.top_layers={depth}")
        layers = list(range(depth - settings.top_layers, depth))
        if targets == "all-linear":  # peft takes a layer subset only with named modules
            targets = _linear_names(model)
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )


def _depth(model) -> int:
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    return int(config.num_hidden_layers)


def _linear_names(model) -> list[str]:
    """Names of the linear projections inside the transformer blocks (what "all-linear" means)."""
    import torch

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and ".layers." in f".{name}"}
    return sorted(names)


@training_method("lora", default_lr=2e-4, is_adapter=True, settings_key="lora", settings=LoraSettings)
def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the base wrapped as a ``PeftModel`` with only the LoRA weights trainable."""
    from harness.errors import ConfigError

    model = load_causal_lm(base_path)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    try:
        return get_peft_model(model, lora_config(config, model))
    except ValueError as exc:
        raise ConfigError(f"config field `lora.target_modules`: {exc}",
                          hint="name modules that exist in the base (e.g. q_proj, v_proj) or use \"all-linear\"") from None
