"""QLoRA: LoRA adapters over a 4-bit (NF4) base loaded by bitsandbytes. Needs a CUDA GPU."""

from __future__ import annotations

from trainers.config import LoraSettings, TrainConfig
from trainers.methods import training_method


def check_available() -> None:
    """Raise :class:`DependencyError` unless a CUDA GPU and bitsandbytes are present."""
    import torch

    from harness.errors import DependencyError

    if not torch.cuda.is_available():
        raise DependencyError("method `qlora` needs a CUDA GPU: bitsandbytes 4-bit weights do not run on CPU",
                              hint="use method=lora on CPU, or run on a machine with an NVIDIA GPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise DependencyError("method `qlora` needs the bitsandbytes package",
                              hint="pip install 'harness[gpu]' (or pip install bitsandbytes)") from None


@training_method("qlora", default_lr=2e-4, is_adapter=True, settings_key="lora", settings=LoraSettings,
                 check_available=check_available)
def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the 4-bit base prepared for k-bit training and wrapped with LoRA adapters."""
    check_available()
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    from trainers.loading import get_peft_model, load_causal_lm
    from trainers.lora import lora_config

    compute_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)
    model = load_causal_lm(base_path, dtype=compute_dtype, quantization_config=quantization, device_map={"": 0})
    model.config.pad_token_id = tokenizer.pad_token_id
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    return get_peft_model(model, lora_config(config, model))
