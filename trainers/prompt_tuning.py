"""Prompt tuning: a few trainable virtual-token embeddings before the input; the base stays frozen.

Generation note (peft 0.21.2 + Llama): ``generate()`` with the KV cache drifts from the plain
forward pass from the second token on, so prompt-tuned models generate with ``use_cache=False``
(set in their generation config by :func:`harness.models.loading.load_for_generation`).
"""

from __future__ import annotations

from trainers.config import PromptTuningSettings, TrainConfig
from trainers.loading import get_peft_model, load_causal_lm
from trainers.methods import training_method


@training_method("prompt_tuning", default_lr=3e-2, is_adapter=True, settings_key="prompt_tuning",
                 settings=PromptTuningSettings, generation_use_cache=False)
def prepare_model(base_path: str, config: TrainConfig, tokenizer):
    """Return the base wrapped with a peft prompt-tuning adapter (only the soft prompt trainable)."""
    from peft import PromptTuningConfig, PromptTuningInit

    settings = config.prompt_tuning
    model = load_causal_lm(base_path)
    model.config.pad_token_id = tokenizer.pad_token_id
    options = {}
    if settings.init_text:
        options = {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": settings.init_text,
                   "tokenizer_name_or_path": base_path}
    peft_config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=settings.num_virtual_tokens, **options)
    return get_peft_model(model, peft_config)
