"""Loading trained models for generation, and merging LoRA adapters into their base.

:func:`load_for_generation` takes a registry record, a model folder (full weights or a peft
adapter), an alias or a hub id, and returns ``(model, tokenizer)`` ready for ``generate()``:
eval mode, left padding, pad token set. Prompt-tuned models get ``generation_config.use_cache =
False`` (peft 0.21.2's KV-cache path drifts from the forward pass for prompt tuning), so a plain
``model.generate(...)`` is correct; :func:`needs_no_cache` tells callers that build their own loop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from trainers.loading import quiet_peft_wrapping

NO_CACHE_PEFT_TYPES = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"}


def _adapter_config(path: Path) -> dict[str, Any] | None:
    file = path / "adapter_config.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else None


def _resolve_path(path_or_record: Any, workspace=None) -> Path | str:
    from trainers.base_models import resolve_base_model

    if hasattr(path_or_record, "path") and hasattr(path_or_record, "method"):
        return Path(path_or_record.path)
    text = str(path_or_record)
    if Path(text).expanduser().exists():
        return Path(text).expanduser()
    if workspace is not None or "/" not in text:
        from trainers.registry import find_model

        try:
            record = find_model(workspace, text)
        except Exception:  # no workspace database here: fall through to aliases / hub ids
            record = None
        if record is not None:
            return Path(record.path)
    resolved = resolve_base_model(text)
    return Path(resolved) if Path(resolved).exists() else resolved


def needs_no_cache(model) -> bool:
    """True when ``model`` must generate with ``use_cache=False`` (peft prompt-learning adapters)."""
    config = getattr(model, "peft_config", None)
    if not config:
        return False
    return any(str(getattr(c, "peft_type", "")).split(".")[-1] in NO_CACHE_PEFT_TYPES for c in config.values())


def load_for_generation(path_or_record: Any, *, workspace=None, device: str | None = None,
                        dtype: Any = "float32", base: str | None = None, merge: bool = False,
                        resolve: bool = True):
    """Return ``(model, tokenizer)`` for a record, model folder, adapter folder, registry name or hub id.

    The one loader for generation, used by :func:`trainers.load_for_generation` callers and by the
    eval backend (``harness.backends.transformers_backend``):

    - an adapter folder loads over ``base`` (default: the adapter's ``base_model_name_or_path``);
      ``merge=True`` folds a LoRA into the base weights (decodes at base-model speed, same outputs);
    - a folder holding only a ``.gguf`` file loads through transformers' GGUF reader;
    - the tokenizer comes from the adapter/model folder when it has one, else from the base;
    - prompt-learning adapters generate with ``use_cache=False`` (see :func:`needs_no_cache`);
      ``model.harness_use_cache`` tells backends that run their own decoding loop;
    - ``resolve=False`` takes ``path_or_record`` literally (no registry or alias lookup).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = _resolve_path(path_or_record, workspace) if resolve else _literal_path(path_or_record)
    adapter = _adapter_config(target) if isinstance(target, Path) else None
    base_name = str(base) if base else (adapter["base_model_name_or_path"] if adapter else str(target))
    base_kwargs: dict[str, Any] = {"dtype": dtype}
    gguf = _gguf_file(base_name)
    if gguf:
        base_kwargs["gguf_file"] = gguf
    try:
        model = AutoModelForCausalLM.from_pretrained(base_name, **base_kwargs)
        if adapter is not None:
            from peft import PeftModel

            with quiet_peft_wrapping():
                model = PeftModel.from_pretrained(model, str(target))
        tokenizer_source = str(target) if _has_tokenizer(target) else base_name
        tokenizer = AutoTokenizer.from_pretrained(
            tokenizer_source, **({"gguf_file": gguf} if gguf and tokenizer_source == base_name else {}))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot load model {str(path_or_record)!r}: {str(exc).splitlines()[0]}",
                           hint="pass a registered model name, a model/adapter folder, an alias or a hub id "
                                "available offline") from None
    no_cache = needs_no_cache(model)
    if merge and adapter is not None and not no_cache:
        model = model.merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if no_cache:
        model.generation_config.use_cache = False
    model.harness_use_cache = not no_cache  # read by backends that run their own decoding loop
    if device:
        model.to(device)
    model.eval()
    return model, tokenizer


def _literal_path(value: Any) -> Path | str:
    text = str(getattr(value, "path", value))
    return Path(text).expanduser() if Path(text).expanduser().exists() else text


def _has_tokenizer(folder: Path | str) -> bool:
    path = Path(str(folder))
    return path.is_dir() and any((path / name).exists()
                                 for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))


def _gguf_file(model: str) -> str | None:
    """The ``.gguf`` file name of a folder that has no ``config.json`` (a GGUF-only model), else None."""
    folder = Path(model)
    if not folder.is_dir() or (folder / "config.json").exists():
        return None
    found = sorted(folder.glob("*.gguf"))
    return found[0].name if found else None


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None) -> Path:
    """Merge the LoRA adapter in ``adapter_dir`` into its full-precision base; returns ``out_dir``.

    Refuses a quantized base (4-bit/8-bit weights cannot hold the merged update exactly) and
    non-LoRA adapters (prompt tuning has nothing to merge).
    """
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from trainers.base_models import resolve_base_model

    adapter_dir = Path(adapter_dir)
    config = _adapter_config(adapter_dir)
    if config is None:
        raise HarnessError(f"{adapter_dir} holds no peft adapter (adapter_config.json)",
                           hint="merge applies to LoRA candidates; full fine-tunes are already full models")
    if config.get("peft_type") != "LORA":
        raise HarnessError(f"{adapter_dir}: a {config.get('peft_type')} adapter cannot be merged into weights",
                           hint="only LoRA adapters merge; use the adapter as it is")
    base_path = resolve_base_model(base) if base else config["base_model_name_or_path"]
    base_config = AutoConfig.from_pretrained(base_path)
    quantization = getattr(base_config, "quantization_config", None)
    if quantization:
        method = quantization.get("quant_method") if isinstance(quantization, dict) else \
            getattr(quantization, "quant_method", "quantized")
        raise HarnessError(
            f"refusing to merge into {base_path}: its weights are quantized ({method}); adding the LoRA "
            "update to rounded low-bit weights loses it (the merged model would not match the adapter)",
            hint="merge into the full-precision base with --base PATH (e.g. the original fp16/fp32 model)")
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype="float32")
    with quiet_peft_wrapping():
        merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.merging")
    merged.save_pretrained(staging)
    AutoTokenizer.from_pretrained(str(adapter_dir) if (adapter_dir / "tokenizer_config.json").exists()
                                  else base_path).save_pretrained(staging)
    import shutil

    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
