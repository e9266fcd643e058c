"""Typed training configuration: YAML in, validated dataclasses out, sorted JSON beside every artifact.

One dataclass per concern (PEFT's shape): :class:`TrainConfig` holds the run, :class:`LoraSettings`,
:class:`PromptTuningSettings` and :class:`MixSettings` its method and data options. Loading is
strict (an unknown key is an error naming it and the closest known key); validation happens in
``__post_init__`` with messages that say what to change. Command-line overrides are dotted
``key=value`` strings (``lora.r=32 lr=1e-4``); ``--sweep lora.r=8,16,32`` expands into one config
per value with the name suffixed.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError

# transformers' SchedulerType values that need no extra arguments
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                 "inverse_sqrt")
OVERLENGTH_POLICIES = ("drop", "truncate", "error")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _fail(field_name: str, message: str, hint: str) -> ConfigError:
    return ConfigError(f"config field `{field_name}`: {message}", hint=hint)


@dataclass
class LoraSettings:
    """LoRA / QLoRA adapter settings (defaults from the article: r=16, alpha=32, dropout 0.05, q/v)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    # Adapt only the last N transformer layers (None: all). Gradients then stop below them, so a
    # step costs the forward pass plus a backward pass through N layers only: on SmolLM2-135M
    # (30 layers) top_layers=10 makes a CPU step ~1.6x faster. peft's `layers_to_transform`.
    top_layers: int | None = None
    # LoRA+ (Hayou et al. 2024, peft's create_loraplus_optimizer): the B matrices learn at
    # `plus_ratio` x lr, the A matrices at lr. None: one lr for both (plain LoRA).
    plus_ratio: float | None = None

    def __post_init__(self) -> None:
        if self.plus_ratio is not None and self.plus_ratio < 1:
            raise _fail("lora.plus_ratio", f"must be >= 1 (the B/A learning-rate ratio), got {self.plus_ratio}",
                        "use e.g. lora.plus_ratio=16, or leave it unset for plain LoRA")
        if self.top_layers is not None and self.top_layers < 1:
            raise _fail("lora.top_layers", f"must be a positive number of layers, got {self.top_layers}",
                        "use e.g. lora.top_layers=10, or leave it unset to adapt every layer")
        if self.r < 1:
            raise _fail("lora.r", f"must be a positive integer, got {self.r}", "use e.g. lora.r=16")
        if self.alpha < 1:
            raise _fail("lora.alpha", f"must be positive, got {self.alpha}", "use e.g. lora.alpha=32 (2 x r)")
        if not 0.0 <= self.dropout < 1.0:
            raise _fail("lora.dropout", f"must be in [0, 1), got {self.dropout}", "use e.g. lora.dropout=0.05")
        if isinstance(self.target_modules, str) and self.target_modules != "all-linear":
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]
        if not self.target_modules:
            raise _fail("lora.target_modules", "is empty",
                        "name the layers, e.g. [q_proj, v_proj], or use \"all-linear\"")


@dataclass
class PromptTuningSettings:
    """Soft-prompt settings: how many virtual tokens, and an optional text to initialise them from."""

    num_virtual_tokens: int = 16
    init_text: str | None = None

    def __post_init__(self) -> None:
        if self.num_virtual_tokens < 1:
            raise _fail("prompt_tuning.num_virtual_tokens", f"must be >= 1, got {self.num_virtual_tokens}",
                        "use e.g. prompt_tuning.num_virtual_tokens=16")


@dataclass
class MixSettings:
    """Mix-in of general examples against catastrophic forgetting (fraction of the final train set)."""

    fraction: float = 0.0
    file: str | None = None  # default: evalsets/general/train.jsonl

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0:
            raise _fail("mix.fraction", f"must be in [0, 1), got {self.fraction}",
                        "use e.g. mix.fraction=0.15 for 15% general examples, or 0 to disable")


@dataclass
class TrainConfig:
    """Everything one training run needs; ``name`` is the registry name of the trained model."""

    name: str
    base_model: str
    train_file: str
    method: str = "lora"  # a registered training method (trainers.methods): full, lora, qlora, prompt_tuning
    val_file: str | None = None
    val_fraction: float = 0.1  # held out from train_file when val_file is not given
    lr: float | None = None  # None: the method's default (2e-5 full, 2e-4 LoRA)
    epochs: float = 3.0
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 4  # per device
    effective_batch_size: int = 16  # reached through gradient accumulation
    warmup_steps: int = 10
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    lr_scheduler: str = "linear"
    eval_steps: int = 50
    save_steps: int | None = None  # default: eval_steps (must be a multiple of it)
    save_total_limit: int = 2
    early_stopping_patience: int | None = 3
    early_stopping_threshold: float = 0.0
    seed: int = 0
    max_length: int = 1024
    overlength: Literal["drop", "truncate", "error"] = "drop"
    # Lines that `harness data validate` rejects (bad JSON, unknown roles, wrong turn order, non-string
    # content...) stop training; true trains on the valid lines and reports what it skipped.
    skip_invalid: bool = False
    max_train_examples: int | None = None
    max_val_examples: int | None = None  # cap evaluation cost on CPU
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool = False
    # Compute a prompt prefix shared by the whole batch (system prompt, template) once per batch;
    # exact (same loss and gradients), single-process LoRA/full runs only. See trainers/loop.py.
    shared_prefix: bool = True
    resume: bool = False  # continue from the newest checkpoint in the model folder
    progress: bool = True
    lora: LoraSettings = field(default_factory=LoraSettings)
    prompt_tuning: PromptTuningSettings = field(default_factory=PromptTuningSettings)
    mix: MixSettings = field(default_factory=MixSettings)
    # Settings of methods registered outside this module, by their settings key (trainers.methods).
    method_settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\ ") or self.name.startswith("."):
            raise _fail("name", f"{self.name!r} cannot be a folder name",
                        "use letters, digits, '-', '_' and '.', e.g. name: lora-extract")
        from trainers.methods import get_method

        method = get_method(self.method)  # unknown names: a ConfigError listing the methods
        key = method.settings_key
        if key and method.settings is not None and not hasattr(self, key) and key not in self.method_settings:
            self.method_settings[key] = method.settings()
        if self.overlength not in OVERLENGTH_POLICIES:
            raise _fail("overlength", f"unknown policy {self.overlength!r}",
                        f"use one of {', '.join(OVERLENGTH_POLICIES)}")
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise _fail("lr_scheduler", f"unknown schedule {self.lr_scheduler!r}",
                        f"use one of {', '.join(LR_SCHEDULERS)} (transformers' names)")
        if self.precision not in PRECISIONS:
            raise _fail("precision", f"unknown precision {self.precision!r}", f"use one of {', '.join(PRECISIONS)}")
        if self.lr is not None and not (0 < self.lr < 1):
            raise _fail("lr", f"must be in (0, 1), got {self.lr}", "use e.g. lr=2e-4 (LoRA) or lr=2e-5 (full)")
        for name in ("batch_size", "effective_batch_size", "eval_steps", "max_length", "save_total_limit"):
            if getattr(self, name) < 1:
                raise _fail(name, f"must be >= 1, got {getattr(self, name)}", f"set {name} to a positive integer")
        if self.effective_batch_size < self.batch_size:
            raise _fail("effective_batch_size", f"{self.effective_batch_size} is below batch_size {self.batch_size}",
                        "make effective_batch_size a multiple of batch_size")
        if self.epochs <= 0 and not self.max_steps:
            raise _fail("epochs", f"must be > 0, got {self.epochs}", "use e.g. epochs=3, or set max_steps")
        if self.max_steps is not None and self.max_steps < 1:
            raise _fail("max_steps", f"must be >= 1, got {self.max_steps}", "remove it to train by epochs")
        if self.warmup_steps < 0:
            raise _fail("warmup_steps", f"must be >= 0, got {self.warmup_steps}", "use e.g. warmup_steps=10")
        if not 0.0 <= self.val_fraction < 1.0:
            raise _fail("val_fraction", f"must be in [0, 1), got {self.val_fraction}", "use e.g. val_fraction=0.1")
        if self.save_steps is not None and self.save_steps % self.eval_steps:
            raise _fail("save_steps", f"{self.save_steps} is not a multiple of eval_steps {self.eval_steps}",
                        "the best checkpoint is chosen at evaluations: make save_steps a multiple of eval_steps")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise _fail("early_stopping_patience", f"must be >= 1, got {self.early_stopping_patience}",
                        "use e.g. early_stopping_patience=3, or null to disable early stopping")

    @property
    def learning_rate(self) -> float:
        """The learning rate to use: ``lr`` when given, else the method's default."""
        from trainers.methods import get_method

        return self.lr if self.lr is not None else get_method(self.method).default_lr

    def settings_for_method(self) -> Any:
        """The settings object of this config's method (e.g. ``self.lora``), or None when it has none."""
        from trainers.methods import get_method

        key = get_method(self.method).settings_key
        if key is None:
            return None
        return getattr(self, key) if hasattr(self, key) else self.method_settings.get(key)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON-able data (``lr`` filled in with the method default)."""
        data = dataclasses.asdict(self)
        data["lr"] = self.learning_rate
        data.update(data.pop("method_settings"))  # a plug-in method's settings under their own key
        return data


# loading ----------------------------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to annotation ``tp`` (YAML/CLI strings included), or raise naming ``where``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in {"null", "none"}):
            if type(None) in options:
                return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else _fail(
            where, f"{value!r} is not one of the accepted types ({_type_name(tp)})", "check the value's type")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise _fail(where, f"{value!r} is not allowed", f"use one of {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise _fail(where, f"expected a list, got {value!r}", "write a YAML list like [a, b]")
        return [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _fail(where, f"expected a mapping, got {value!r}", f"write `{where}:` followed by indented keys")
        return _build(tp, value, prefix=f"{where}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.lower() in {"true", "yes", "1"}
        raise _fail(where, f"expected true or false, got {value!r}", f"write {where}=true or {where}=false")
    if tp is int:
        if isinstance(value, bool):
            raise _fail(where, f"expected an integer, got {value!r}", f"write a whole number, e.g. {where}=16")
        try:
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, float) and number.is_integer():
                return int(number)
            if isinstance(number, int):
                return number
        except (TypeError, ValueError):
            pass
        raise _fail(where, f"expected an integer, got {value!r}", f"write a whole number, e.g. {where}=16")
    if tp is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            result = float(value)
            if math.isfinite(result):
                return result
        except (TypeError, ValueError):
            pass
        raise _fail(where, f"expected a number, got {value!r}", f"write a number, e.g. {where}=0.1 or 2e-4")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise _fail(where, f"expected text, got {value!r}", "quote the value")
    return value


def _build(cls: type, data: dict[str, Any], *, prefix: str = "", strict: bool = True) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    plugin = _plugin_settings(cls, data, prefix)
    for key, value in data.items():
        if key in plugin:
            continue
        if key not in hints:
            if not strict:
                continue
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean `{prefix}{close[0]}`?" if close else f"known keys: {', '.join(names)}"
            raise ConfigError(f"config field `{prefix}{key}`: unknown key", hint=hint)
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"config field `{prefix}{missing[0]}`: required but missing",
                          hint=f"add `{missing[0]}: ...` to the config (required: {', '.join(missing)})")
    if plugin:
        kwargs["method_settings"] = {**kwargs.get("method_settings", {}), **plugin}
    return cls(**kwargs)


def _plugin_settings(cls: type, data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Settings of registered methods whose key is not a field of ``cls`` (``{key: settings object}``)."""
    if cls is not TrainConfig:
        return {}
    from trainers.methods import settings_keys

    fields = {f.name for f in dataclasses.fields(cls)}
    return {key: _coerce(data[key], method.settings, f"{prefix}{key}")
            for key, method in settings_keys().items() if key in data and key not in fields}


def config_from_dict(data: dict[str, Any], *, strict: bool = True) -> TrainConfig:
    """Build and validate a :class:`TrainConfig`; ``strict=False`` ignores unknown keys (reloading)."""
    if not isinstance(data, dict):
        raise ConfigError("a training config must be a mapping of keys to values",
                          hint="see trainers/configs/lora-extract.yaml for an example")
    return _build(TrainConfig, data, strict=strict)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) training config into a dict, with file-named errors."""

    from harness.config_files import parse_yaml, read_config_text

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found", hint="pass the path of a YAML training config")
    text = read_config_text(path, kind="training config")
    data = parse_yaml(text, path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level", hint="write `key: value` lines")
    _check_plain(data, path)
    # Data paths in the file are relative to the file's folder (fallback: the working directory).
    for key in ("train_file", "val_file"):
        if isinstance(data.get(key), str):
            data[key] = _relative_to(path.parent, data[key], key)
    if isinstance(data.get("mix"), dict) and isinstance(data["mix"].get("file"), str):
        data["mix"]["file"] = _relative_to(path.parent, data["mix"]["file"], "mix.file")
    return data


def _check_plain(data: dict[str, Any], path: Path) -> None:
    """Refuse YAML values a config cannot hold: dates, sets, recursive aliases (anything not JSON data)."""
    try:
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: holds a value that is not plain data ({exc})",
                          hint="quote dates, write sets as lists, and do not make an alias refer to itself") from None


def _relative_to(folder: Path, value: str, field: str) -> str:
    try:
        candidate = Path(value).expanduser()
        if candidate.is_absolute():
            return str(candidate)
        beside = folder / candidate
        return str(beside.resolve()) if beside.exists() or not candidate.exists() else str(candidate.resolve())
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"{field}: {value[:80]!r} is not a usable path ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc})", hint=f"give {field} the path of a JSONL file") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read ``path`` (YAML), apply dotted ``key=value`` overrides and return the validated config."""
    data = read_config_file(path)
    try:
        return config_from_dict(apply_overrides(data, overrides or []))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None


def configs_from_file(path: str | Path, overrides: list[str] | None = None,
                      sweep: list[str] | None = None) -> list[TrainConfig]:
    """The validated configs ``harness train PATH [overrides] [--sweep ...]`` trains (one per sweep value).

    Errors name the file: ``PATH: config field `lr`: ...``.
    """
    data = read_config_file(path)
    try:
        return sweep_configs(data, list(overrides or []), list(sweep or []))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None


# overrides and sweeps ---------------------------------------------------------------------------

def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key=value`` into the dotted key and a YAML-parsed value."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key=value",
                          hint="write e.g. lora.r=32 or lr=1e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"override {key.strip()}: the value cannot be read ({str(exc).split(';')[0]})",
                          hint="quote long numbers to make them strings") from None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = raw  # a date, a set: keep the text as written
    return key.strip(), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each dotted override set (unknown keys are errors)."""
    result = json.loads(json.dumps(data))
    for text in overrides:
        key, value = parse_override(text)
        _check_key(key)
        target = result
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                section = ".".join(parts[:depth + 1])
                raise ConfigError(f"override {key}: {section} is {target!r} in the config, not a section",
                                  hint=f"write {section} as a mapping in the config, or override {section} itself")
        target[parts[-1]] = value
    return result


def _check_key(dotted: str) -> None:
    cls: Any = TrainConfig
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        hints = typing.get_type_hints(cls)
        where = ".".join(parts[: index + 1])
        if part not in hints:
            close = difflib.get_close_matches(part, list(hints), n=1)
            prefix = ".".join(parts[:index])
            suggestion = f"{prefix + '.' if prefix else ''}{close[0]}" if close else None
            raise ConfigError(f"override `{dotted}`: unknown key `{where}`",
                              hint=f"did you mean `{suggestion}`?" if suggestion else
                              f"known keys here: {', '.join(hints)}")
        cls = hints[part]
        if index < len(parts) - 1 and not dataclasses.is_dataclass(cls):
            raise ConfigError(f"override `{dotted}`: `{where}` has no sub-keys", hint=f"write {where}=VALUE")


def parse_sweep(specs: list[str]) -> list[tuple[str, list[str]]]:
    """Expand ``["lora.r=8,16,32"]`` into ``[("r8", ["lora.r=8"]), ...]`` (cartesian over several specs)."""
    axes: list[list[tuple[str, str]]] = []
    for spec in specs:
        key, sep, raw = spec.partition("=")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not key.strip() or not values:
            raise ConfigError(f"sweep {spec!r} is not of the form key=v1,v2,...", hint="write e.g. lora.r=8,16,32")
        key = key.strip()
        _check_key(key)
        short = key.split(".")[-1]
        axes.append([(f"{short}{value}", f"{key}={value}") for value in values])
    combos = []
    for combo in itertools.product(*axes):
        combos.append(("-".join(label for label, _ in combo), [override for _, override in combo]))
    return combos


def sweep_configs(data: dict[str, Any], overrides: list[str], sweep: list[str]) -> list[TrainConfig]:
    """One validated config per sweep combination, each named ``<name>-<key><value>``."""
    configs = []
    for suffix, extra in parse_sweep(sweep) if sweep else [("", [])]:
        merged = apply_overrides(data, [*overrides, *extra])
        if suffix:
            merged["name"] = f"{merged.get('name', 'model')}-{suffix}"
        configs.append(config_from_dict(merged))
    return configs
