"""The one model loader: base models for training, models and adapters for generation, merging.

Every part of the harness that loads weights or a tokenizer comes here, so the rules live once:

- **where the tokenizer comes from**: the model or adapter folder when it holds tokenizer files,
  else the base model (and a GGUF-only folder's ``.gguf`` file) — :func:`tokenizer_source`;
- **the pad token**: the tokenizer's own, else its EOS token — :func:`ensure_pad_token`;
- **generation**: :func:`load_for_generation` (eval mode, left padding, pad id on the generation
  config; prompt-learning adapters decode with ``use_cache=False`` because peft 0.21.2's KV-cache
  path drifts from the plain forward pass for them — :func:`needs_no_cache`);
- **training**: :func:`load_causal_lm` and :func:`load_tokenizer` (``require_chat_template``);
- **merging**: :func:`merge_adapter`, built on :func:`load_for_generation` with ``merge=True``.

What a model *name* means (path, alias, registry record) is :mod:`harness.models.names`; this
module takes folders and hub ids.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError

NO_CACHE_PEFT_TYPES = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
LOAD_HINT = ("pass a registered model name, a model/adapter folder, an alias (smollm2-135m-instruct, tiny) "
             "or a hub id on a machine that can reach the hub")


@contextlib.contextmanager
def quiet_peft_wrapping() -> Iterator[None]:
    """Silence the FutureWarning peft 0.21 triggers on transformers 5.2x when it wraps a model.

    peft reads ``model.is_gradient_checkpointing``, a property transformers 5.2x deprecated: a warning
    about code that is not ours, printed on every training run and every adapter load.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def adapter_config(folder: Path | str) -> dict[str, Any] | None:
    """The parsed ``adapter_config.json`` of a peft adapter folder, or None for anything else."""
    file = Path(str(folder)) / "adapter_config.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def gguf_file(model: str) -> str | None:
    """The ``.gguf`` file name of a folder that has no ``config.json`` (a GGUF-only model), else None."""
    folder = Path(model)
    if not folder.is_dir() or (folder / "config.json").exists():
        return None
    found = sorted(folder.glob("*.gguf"))
    return found[0].name if found else None


def has_tokenizer(folder: Path | str) -> bool:
    """True when ``folder`` holds tokenizer files of its own."""
    path = Path(str(folder))
    return path.is_dir() and any((path / name).exists() for name in TOKENIZER_FILES)


def tokenizer_source(model: Path | str, base: str | None = None) -> tuple[str, dict[str, Any]]:
    """``(name_or_path, from_pretrained kwargs)`` of the tokenizer that goes with ``model``.

    The model or adapter folder's own tokenizer when it has one; else the base's (``base`` or the
    model itself), reading a GGUF-only folder's tokenizer from its ``.gguf`` file.
    """
    if has_tokenizer(model) or base is None:
        source = str(model)
    else:
        source = str(base)
    gguf = gguf_file(source)
    return source, ({"gguf_file": gguf} if gguf else {})


def ensure_pad_token(tokenizer: Any) -> Any:
    """Give ``tokenizer`` a pad token (its EOS token when it has none); returns it."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(model: Path | str, *, base: str | None = None, require_chat_template: bool = False) -> Any:
    """The tokenizer of ``model`` (see :func:`tokenizer_source`) with a pad token set.

    ``require_chat_template`` (training): a tokenizer without a chat template is a :class:`ConfigError`,
    because the loss mask is built from the rendered conversation.
    """
    from transformers import AutoTokenizer

    source, kwargs = tokenizer_source(model, base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot load the tokenizer of {str(model)!r}: {_first_line(exc)}", hint=LOAD_HINT) from None
    if require_chat_template and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"the tokenizer of {model} has no chat template",
                          hint="train from an instruct/chat model, or set tokenizer.chat_template and save it")
    return ensure_pad_token(tokenizer)


def load_causal_lm(path: str, *, dtype: Any = "float32", **kwargs: Any) -> Any:
    """``AutoModelForCausalLM.from_pretrained(path)`` in ``dtype`` (fp32 by default, for CPU).

    A GGUF-only folder loads through transformers' GGUF reader; a failure is a :class:`HarnessError`.
    """
    from transformers import AutoModelForCausalLM

    gguf = gguf_file(str(path))
    if gguf:
        kwargs.setdefault("gguf_file", gguf)
    try:
        return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot load base model {str(path)!r}: {_first_line(exc)}", hint=LOAD_HINT) from None


def needs_no_cache(model: Any) -> bool:
    """True when ``model`` must generate with ``use_cache=False`` (peft prompt-learning adapters)."""
    config = getattr(model, "peft_config", None)
    if not config:
        return False
    return any(str(getattr(c, "peft_type", "")).split(".")[-1] in NO_CACHE_PEFT_TYPES for c in config.values())


def folder_disables_cache(folder: Path | str) -> bool:
    """True when a model or adapter folder's ``generation_config.json`` says ``use_cache: false``.

    The trainer writes it for methods registered with ``generation_use_cache=False``, so a new
    method of that kind needs no change here.
    """
    file = Path(str(folder)) / "generation_config.json"
    try:
        return file.is_file() and json.loads(file.read_text(encoding="utf-8")).get("use_cache") is False
    except (OSError, ValueError):
        return False


def load_for_generation(model: Path | str, *, base: str | None = None, device: str | None = None,
                        dtype: Any = "float32", merge: bool = False) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` ready for ``generate()`` from a model folder, adapter folder or hub id.

    - an adapter folder loads over ``base`` (default: the adapter's ``base_model_name_or_path``);
      ``merge=True`` folds a LoRA into the base weights (decodes at base-model speed, same outputs);
    - a folder holding only a ``.gguf`` file loads through transformers' GGUF reader;
    - the tokenizer follows :func:`tokenizer_source`, the pad token :func:`ensure_pad_token`;
    - prompt-learning adapters generate with ``use_cache=False`` (see :func:`needs_no_cache`);
      ``model.harness_use_cache`` tells backends that run their own decoding loop.

    Resolve a user's model name first with :func:`harness.models.names.resolve_model`.
    """
    target = Path(str(model)).expanduser()
    adapter = adapter_config(target)
    base_name = str(base) if base else (adapter["base_model_name_or_path"] if adapter else str(model))
    try:
        loaded = load_causal_lm(base_name, dtype=dtype)
        if adapter is not None:
            from peft import PeftModel

            with quiet_peft_wrapping():
                loaded = PeftModel.from_pretrained(loaded, str(target))
        tokenizer = load_tokenizer(target if target.exists() else base_name, base=base_name)
    except HarnessError as exc:
        raise HarnessError(f"cannot load model {str(model)!r}: {exc.message.split(': ', 1)[-1]}",
                           hint=LOAD_HINT) from None
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot load model {str(model)!r}: {_first_line(exc)}", hint=LOAD_HINT) from None
    no_cache = needs_no_cache(loaded) or (adapter is not None and folder_disables_cache(target))
    if merge and adapter is not None and not no_cache:
        loaded = loaded.merge_and_unload()
    tokenizer.padding_side = "left"
    loaded.generation_config.pad_token_id = tokenizer.pad_token_id
    if no_cache:
        loaded.generation_config.use_cache = False
    loaded.harness_use_cache = not no_cache  # read by backends that run their own decoding loop
    if device:
        loaded.to(device)
    loaded.eval()
    return loaded, tokenizer


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None) -> Path:
    """Merge the LoRA adapter in ``adapter_dir`` into its full-precision base; returns ``out_dir``.

    Loads with :func:`load_for_generation` (``merge=True``) and saves weights and tokenizer into a
    staging folder that replaces ``out_dir`` only when complete. Refuses a quantized base (4-bit/8-bit
    weights cannot hold the merged update exactly) and non-LoRA adapters (nothing to merge).
    """
    from transformers import AutoConfig

    adapter_dir = Path(adapter_dir)
    config = adapter_config(adapter_dir)
    if config is None:
        raise HarnessError(f"{adapter_dir} holds no peft adapter (adapter_config.json)",
                           hint="merge applies to LoRA candidates; full fine-tunes are already full models")
    if config.get("peft_type") != "LORA":
        raise HarnessError(f"{adapter_dir}: a {config.get('peft_type')} adapter cannot be merged into weights",
                           hint="only LoRA adapters merge; use the adapter as it is")
    base_path = str(base) if base else config["base_model_name_or_path"]
    if not gguf_file(base_path):
        quantization = getattr(AutoConfig.from_pretrained(base_path), "quantization_config", None)
        if quantization:
            method = quantization.get("quant_method") if isinstance(quantization, dict) else \
                getattr(quantization, "quant_method", "quantized")
            raise HarnessError(
                f"refusing to merge into {base_path}: its weights are quantized ({method}); adding the LoRA "
                "update to rounded low-bit weights loses it (the merged model would not match the adapter)",
                hint="merge into the full-precision base with --base PATH (e.g. the original fp16/fp32 model)")
    from transformers import AutoTokenizer

    merged, _ = load_for_generation(adapter_dir, base=base_path, merge=True)
    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.merging")
    if staging.exists():
        shutil.rmtree(staging)
    merged.save_pretrained(staging)
    source, kwargs = tokenizer_source(adapter_dir, base_path)
    AutoTokenizer.from_pretrained(source, **kwargs).save_pretrained(staging)  # as shipped, not padded for generation
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
