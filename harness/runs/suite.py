"""Eval suites: typed objects loaded from YAML (or built in Python) and validated on load.

A suite names the datasets, the candidates (models, adapters, prompted baselines, API models),
the generation settings, the metrics (names, or ``{name: {setting: value}}`` with settings checked
against the metric's factory) and an optional price table. :func:`load_suite` turns a
YAML file into a :class:`Suite` and reports every problem as ``FILE: candidates[2].model: required``.
Relative paths are resolved against the suite file's folder, falling back to the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.config_files import format_validation_error, read_yaml
from harness.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from harness.metrics.base import MetricSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEVICE_RE = re.compile(r"^(cpu|auto|mps|cuda(:[0-9]+)?)$")

#: Options of local backends that change speed, never outputs: left out of the generation cache key
#: and of the hash that decides whether ``--resume`` may continue a run.
RUNTIME_OPTIONS = ("batch_size", "threads", "device")
#: ``--dtype`` values; a suite file may also use vLLM's spellings ``half`` and ``float``.
DTYPES = ("float32", "bfloat16", "float16", "auto")
_DTYPE_ALIASES = {"half": "float16", "float": "float32"}


def _check_batch_size(value: Any, where: str) -> int | str:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {value!r} is not a batch size; use a whole number >= 1 or 'auto' "
                         "(the largest batch that fits memory)")
    return value


def _check_threads(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
        raise ValueError(f"{where}: {value!r} is not a thread count; use a whole number >= 1 "
                         "(e.g. the number of free CPU cores)")
    return value


def _check_device(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DEVICE_RE.match(value):
        raise ValueError(f"{where}: {value!r} is not a device; use cpu, cuda, cuda:N or auto")
    return value


def _check_dtype(value: Any, where: str) -> str:
    if not isinstance(value, str) or _DTYPE_ALIASES.get(value, value) not in DTYPES:
        raise ValueError(f"{where}: {value!r} is not a dtype; use {', '.join(DTYPES)}")
    return _DTYPE_ALIASES.get(value, value)


def output_dtype(options: dict[str, Any]) -> str | None:
    """The dtype a local candidate's ``options`` ask for, as part of the generation cache key.

    Returns None when unset or ``auto`` (the backend's default: float32 on CPU, bfloat16 on CUDA), so
    generations cached before dtype was keyed stay valid; a set dtype is keyed because lower precision
    can change greedy outputs.
    """
    value = options.get("dtype")
    if value is None or value == "auto":
        return None
    return _DTYPE_ALIASES.get(str(value), str(value))


@dataclass(frozen=True)
class RunOverrides:
    """``harness eval --batch-size/--threads/--device/--dtype``: replace those options of every local
    candidate (transformers, vllm) for one run; None leaves the suite's value."""

    batch_size: int | str | None = None
    threads: int | None = None
    device: str | None = None
    dtype: str | None = None

    @classmethod
    def from_flags(cls, *, batch_size: str | None = None, threads: int | None = None, device: str | None = None,
                   dtype: str | None = None) -> RunOverrides:
        """Validated overrides from CLI values; a bad value is a :class:`ConfigError` naming the flag."""
        def check(flag: str, value: Any, checker: Any) -> Any:
            if value is None:
                return None
            try:
                return checker(value, flag)
            except ValueError as exc:
                raise ConfigError(str(exc), hint=f"see `harness eval --help` for {flag}") from None

        size: int | str | None = batch_size
        if isinstance(batch_size, str) and batch_size.strip().lstrip("-").isdigit():
            size = int(batch_size)
        return cls(batch_size=check("--batch-size", size, _check_batch_size),
                   threads=check("--threads", threads, _check_threads),
                   device=check("--device", device, _check_device),
                   dtype=check("--dtype", dtype, _check_dtype))

    def as_options(self) -> dict[str, Any]:
        """The overridden options only, by option key."""
        values = {"batch_size": self.batch_size, "threads": self.threads, "device": self.device, "dtype": self.dtype}
        return {k: v for k, v in values.items() if v is not None}

    def apply(self, options: dict[str, Any]) -> dict[str, Any]:
        """A copy of a local candidate's ``options`` with these overrides; a device or dtype of ``auto``
        (from either) removes the key, leaving the choice to the backend, whose default is automatic."""
        merged = {**options, **self.as_options()}
        return {k: v for k, v in merged.items() if not (k in ("device", "dtype") and v == "auto")}


def _metric_entry(entry: Any) -> str | dict[str, dict[str, Any]]:
    """One ``metrics`` entry checked against the metric registry (name and settings); its suite-file form."""
    from harness.metrics.base import metric_spec

    try:
        spec = metric_spec(entry)
    except HarnessError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None
    return spec.as_entry()


# ``rougeL`` or ``{embedding_similarity: {model: ...}}``: a metric name, or one name with its settings.
MetricEntry = Annotated[str | dict[str, dict[str, Any]], PlainValidator(_metric_entry)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PromptSpec(_Strict):
    """How a candidate's prompt is built: an optional system prompt and k few-shot examples."""

    system: str | None = None
    few_shot: int = Field(default=0, ge=0, le=64)
    from_: str | None = Field(default=None, alias="from")
    seed: int | None = None  # few-shot draw seed; defaults to the suite's generation seed

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain data (``from`` spelled as in YAML)."""
        return {"system": self.system, "few_shot": self.few_shot, "from": self.from_, "seed": self.seed}


class GenerationSpec(_Strict):
    """Decoding settings shared by every candidate of a suite."""

    max_new_tokens: int = Field(default=256, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0
    stop: list[str] = Field(default_factory=list)

    def settings_hash(self, backend: str, dtype: str | None = None) -> str:
        """Hash of everything that changes an output for a fixed model and prompt (the generation cache key
        beside the model fingerprint and prompt hash). ``dtype`` (see :func:`output_dtype`) joins it when
        set; batch size, threads and device never do."""
        payload: dict[str, Any] = {"backend": backend, **self.model_dump()}
        if self.temperature == 0.0:  # greedy: sampling knobs cannot change the output
            payload.pop("seed")
            payload.pop("top_p")
        if dtype is not None:  # absent when unset, so keys cached before dtype was keyed still match
            payload["dtype"] = dtype
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Price(_Strict):
    """Price of one model in currency units per 1,000 tokens."""

    input_per_1k: float = Field(ge=0.0)
    output_per_1k: float = Field(ge=0.0)

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float:
        """Cost of one generation."""
        return (prompt_tokens or 0) / 1000 * self.input_per_1k + (completion_tokens or 0) / 1000 * self.output_per_1k


class CandidateSpec(_Strict):
    """One thing to evaluate: a model (+adapter) behind a backend, with a prompt recipe."""

    name: str
    model: str
    adapter: str | None = None
    backend: str = "transformers"
    base_url: str | None = None
    fallback_model: str | None = None
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    options: dict[str, Any] = Field(default_factory=dict)  # backend settings: batch_size, dtype, timeout_s...

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it names a folder), e.g. 'base-few-shot'")
        return value

    @field_validator("options")
    @classmethod
    def _known_option_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        checks = {"batch_size": _check_batch_size, "threads": _check_threads, "device": _check_device,
                  "dtype": _check_dtype}
        for key, check in checks.items():
            if value.get(key) is not None:
                check(value[key], key)
        return value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from harness.backends.base import available_backends

        if value not in available_backends():
            raise ValueError(f"unknown backend {value!r}; choose from {', '.join(available_backends())}")
        return value

    @model_validator(mode="after")
    def _backend_fields(self) -> CandidateSpec:
        from harness.backends.base import backend_capabilities

        capabilities = backend_capabilities(self.backend)
        if capabilities.needs_base_url and not self.base_url:
            raise ValueError(f"backend {self.backend!r} needs base_url, e.g. base_url: http://127.0.0.1:8000/v1")
        if not capabilities.adapters and self.adapter:
            raise ValueError(f"backend {self.backend!r} cannot load an adapter; serve it and name it in model")
        return self


class Suite(_Strict):
    """A typed eval suite; ``base_dir`` is where relative paths are looked up first."""

    name: str
    datasets: dict[str, str]
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    candidates: list[CandidateSpec] = Field(min_length=1)
    metrics: list[MetricEntry] = Field(default_factory=lambda: ["exact_match"])
    pricing: dict[str, Price] = Field(default_factory=dict)
    base_dir: str | None = Field(default=None, exclude=True)
    source: str | None = Field(default=None, exclude=True)

    def __init__(self, **data: Any) -> None:
        # Python-built suites get the same field-naming errors as YAML ones.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            source = data.get("source") or f"suite {data.get('name', '')}".strip()
            raise ConfigError(format_validation_error(exc, str(source)), hint="fix the named field(s)") from None

    @field_validator("name")
    @classmethod
    def _safe_suite_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it is part of the run id)")
        return value

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("name at least one dataset, e.g. datasets: {test: test.jsonl}")
        for key in value:
            if not _NAME_RE.match(key):
                raise ValueError(f"dataset name {key!r}: use letters, digits, '.', '_' or '-'")
        return value

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, value: list[str | dict[str, dict[str, Any]]]) -> list[str | dict[str, dict[str, Any]]]:
        names = [entry if isinstance(entry, str) else next(iter(entry)) for entry in value]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"metric {name!r} is listed twice (metrics[{names.index(name)}] and metrics[{i}]); "
                                 "list each metric once")
        return value

    @model_validator(mode="after")
    def _unique_candidates(self) -> Suite:
        seen: set[str] = set()
        for cand in self.candidates:
            if cand.name in seen:
                raise ValueError(f"candidate name {cand.name!r} is used twice; names must be unique")
            seen.add(cand.name)
        return self

    # paths -------------------------------------------------------------------------------
    def resolve_path(self, value: str, field: str, *, must_exist: bool = True) -> Path:
        """Absolute path for ``value``: as given, else under ``base_dir``, else under the cwd."""
        path = Path(value).expanduser()
        try:
            if path.is_absolute():
                found = path if path.exists() else None
            else:
                bases = [Path(self.base_dir)] if self.base_dir else []
                bases.append(Path.cwd())
                found = next((base / path for base in bases if (base / path).exists()), None)
        except OSError as exc:  # a name too long for the file system, a loop of links...
            raise ConfigError(f"{self.source or 'suite ' + self.name}: {field}: cannot use {value!r} as a path "
                              f"({exc.strerror})", hint="fix the path; relative paths are read from the suite "
                              "file's folder") from None
        if found is None:
            if not must_exist:
                return path.resolve()
            where = f" (looked under {self.base_dir} and {Path.cwd()})" if self.base_dir else f" (cwd {Path.cwd()})"
            raise ConfigError(f"{self.source or 'suite ' + self.name}: {field}: file not found: {value}{where}",
                              hint="fix the path; relative paths are read from the suite file's folder")
        return found.resolve()

    def dataset_paths(self, names: list[str] | None = None) -> dict[str, Path]:
        """Each dataset's absolute path (errors name the field), in suite order; only ``names`` when given."""
        chosen = self.select_datasets(names)
        return {name: self.resolve_path(self.datasets[name], f"datasets.{name}") for name in chosen}

    def select_datasets(self, names: list[str] | None) -> list[str]:
        """The dataset names to run, in suite order (all when ``names`` is empty); unknown names are an error."""
        if not names:
            return list(self.datasets)
        missing = [n for n in names if n not in self.datasets]
        if missing:
            raise ConfigError(f"unknown dataset(s) {', '.join(missing)} in suite {self.name}",
                              hint=f"--datasets takes names from the suite's datasets: {', '.join(self.datasets)}")
        return [n for n in self.datasets if n in names]

    def select(self, names: list[str] | None) -> list[CandidateSpec]:
        """The candidates named in ``names`` (all when empty); unknown names are an error."""
        if not names:
            return list(self.candidates)
        known = {c.name: c for c in self.candidates}
        missing = [n for n in names if n not in known]
        if missing:
            raise ConfigError(f"unknown candidate(s) {', '.join(missing)} in suite {self.name}",
                              hint=f"choose from: {', '.join(known)}")
        return [known[n] for n in names]

    def metric_specs(self) -> list[MetricSpec]:
        """The suite's metrics with their settings, checked again against the registry (errors name
        the suite file and ``metrics[i]``)."""
        from harness.metrics.base import resolve_metrics

        return resolve_metrics(self.metrics, source=self.source or f"suite {self.name}")

    def price_for(self, candidate: CandidateSpec) -> Price | None:
        """The price entry for a candidate (by candidate name first, then by model)."""
        return self.pricing.get(candidate.name) or self.pricing.get(candidate.model)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict (as written to ``suite.json``)."""
        data = self.model_dump(mode="json", by_alias=True)
        return data


def build_suite(data: dict[str, Any], *, source: str = "suite", base_dir: str | os.PathLike[str] | None = None) -> Suite:
    """Validate ``data`` into a :class:`Suite`; raises :class:`ConfigError` naming each bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with name, datasets, candidates, metrics",
                          hint="see evalsets/*/suite.yaml for an example")
    data = {str(k): v for k, v in data.items() if k not in ("source", "base_dir")}
    return Suite(**data, source=source, base_dir=str(Path(base_dir).resolve()) if base_dir else None)


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Read and validate a suite YAML (or JSON) file; returns the :class:`Suite`."""
    data = read_yaml(path, kind="suite")
    return build_suite(data, source=str(path), base_dir=Path(path).parent)
