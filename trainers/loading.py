"""Loading base models and tokenizers for training (one place for dtype and padding choices)."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any


def load_tokenizer(path: str):
    """Return the tokenizer of ``path`` with a pad token set (EOS when the model has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        from harness.errors import ConfigError

        raise ConfigError(f"the tokenizer of {path} has no chat template",
                          hint="train from an instruct/chat model, or set tokenizer.chat_template and save it")
    return tokenizer


def load_causal_lm(path: str, *, dtype: str = "float32", **kwargs: Any):
    """Return ``AutoModelForCausalLM.from_pretrained(path)`` in ``dtype`` (fp32 by default, for CPU)."""
    from transformers import AutoModelForCausalLM

    from harness.errors import HarnessError

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except OSError as exc:
        raise HarnessError(f"cannot load base model {path!r}: {str(exc).splitlines()[0]}",
                           hint="pass a local model folder, an alias (smollm2-135m-instruct, tiny), "
                           "or a hub id on a machine that can reach the hub") from None


@contextlib.contextmanager
def quiet_peft_wrapping():
    """Silence the FutureWarning peft 0.21 triggers on transformers 5.2x when it wraps a model.

    peft reads ``model.is_gradient_checkpointing``, a property transformers 5.2x deprecated: a warning
    about code that is not ours, printed on every training run and every adapter load.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def get_peft_model(model, peft_config):
    """``peft.get_peft_model`` under :func:`quiet_peft_wrapping`."""
    from peft import get_peft_model as wrap

    with quiet_peft_wrapping():
        return wrap(model, peft_config)


def count_parameters(model) -> tuple[int, int]:
    """Return (trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
