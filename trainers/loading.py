"""Training-side model helpers: peft wrapping and parameter counts.

Loading itself is the model layer's (:mod:`harness.models.loading`: one loader, one pad-token rule,
one tokenizer-file rule); ``load_causal_lm`` and ``load_tokenizer`` are re-exported here for the
method modules.
"""

from __future__ import annotations

from harness.models.loading import load_causal_lm, load_tokenizer, quiet_peft_wrapping

__all__ = ["count_parameters", "get_peft_model", "load_causal_lm", "load_tokenizer"]


def get_peft_model(model, peft_config):
    """``peft.get_peft_model`` under :func:`harness.models.loading.quiet_peft_wrapping`."""
    from peft import get_peft_model as wrap

    with quiet_peft_wrapping():
        return wrap(model, peft_config)


def count_parameters(model) -> tuple[int, int]:
    """Return (trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
