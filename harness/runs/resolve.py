"""Turn a suite candidate into a concrete backend spec: local paths, aliases, registry names.

``model`` may be a local path (relative to the suite file or cwd), a registry name from
``harness models`` (``trainers.registry.find_model``), an alias (``trainers.base_models``:
``smollm2-135m-instruct``, ``tiny``) or a hub id. ``adapter`` may be a folder or a registry name.
Those trainer modules are imported lazily: the runner works without them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BackendSpec, GenerationSettings
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.runs.suite import CandidateSpec, Suite
    from harness.workspace import Workspace


@dataclass(frozen=True)
class ResolvedCandidate:
    """A candidate with concrete model/adapter locations and its backend spec."""

    name: str
    backend: str
    spec: BackendSpec
    system: str | None
    shots: list[dict[str, str]] = field(default_factory=list)
    few_shot_source: str | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-able description (written into ``suite.json`` as ``resolved``)."""
        return {"backend": self.backend, "model": self.spec.model, "adapter": self.spec.adapter,
                "base_url": self.spec.base_url, "fallback_model": self.spec.fallback_model,
                "few_shot_source": self.few_shot_source, "few_shot_examples": len(self.shots) // 2 or 0}


def _optional(module: str, attr: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _registry_record(workspace: Workspace | None, name: str) -> Any:
    find_model = _optional("trainers.registry", "find_model")
    if find_model is None or workspace is None:
        return None
    return find_model(workspace, name)


def resolve_model_name(value: str, suite: Suite) -> str:
    """A base model reference as a loadable string: existing path, alias folder, or the id as-is."""
    local = suite.resolve_path(value, "model", must_exist=False)
    if local.exists():
        return str(local)
    resolve_base_model = _optional("trainers.base_models", "resolve_base_model")
    if resolve_base_model is not None:
        return str(resolve_base_model(value))
    if value.strip().lower() == "tiny":  # the one alias we can honour without the trainers package
        from trainers.tiny import cached_tiny_model

        return str(cached_tiny_model())
    return value


def resolve_candidate(suite: Suite, cand: CandidateSpec, workspace: Workspace | None,
                      index: int) -> ResolvedCandidate:
    """Resolve one candidate (paths, registry, aliases, few-shot turns)."""
    from harness.runs.prompts import draw_few_shot

    field_prefix = f"candidates[{index}]"
    adapter = None
    if cand.backend == "openai":
        model = cand.model
    else:
        local = suite.resolve_path(cand.model, f"{field_prefix}.model", must_exist=False)
        record = None if local.exists() else _registry_record(workspace, cand.model)
        if record is not None:
            if getattr(record, "adapter", False):
                base_path = getattr(record, "base_model_path", "") or ""
                model = base_path if base_path and Path(base_path).exists() else resolve_model_name(
                    str(record.base_model), suite)
                adapter = str(record.path)
            else:
                model = str(record.path)
        else:
            model = resolve_model_name(cand.model, suite)
    if cand.adapter:
        local = suite.resolve_path(cand.adapter, f"{field_prefix}.adapter", must_exist=False)
        if local.exists():
            adapter = str(local)
        else:
            record = _registry_record(workspace, cand.adapter)
            if record is None:
                raise ConfigError(f"{suite.source or suite.name}: {field_prefix}.adapter: {cand.adapter!r} is neither "
                                  "a folder nor a registered model", hint="pass an adapter folder or a name from "
                                  "`harness models list`")
            adapter = str(record.path)
    shots: list[dict[str, str]] = []
    source = None
    if cand.prompt.few_shot:
        source_path = _few_shot_source(suite, cand, field_prefix)
        seed = cand.prompt.seed if cand.prompt.seed is not None else suite.generation.seed
        shots = draw_few_shot(source_path, cand.prompt.few_shot, seed)
        source = str(source_path)
    gen = suite.generation
    settings = GenerationSettings(max_new_tokens=gen.max_new_tokens, temperature=gen.temperature,
                                  top_p=gen.top_p, seed=gen.seed, stop=tuple(gen.stop))
    spec = BackendSpec(model=model, adapter=adapter, base_url=cand.base_url, fallback_model=cand.fallback_model,
                       settings=settings, options=dict(cand.options))
    return ResolvedCandidate(name=cand.name, backend=cand.backend, spec=spec, system=cand.prompt.system,
                             shots=shots, few_shot_source=source)


def _few_shot_source(suite: Suite, cand: CandidateSpec, field_prefix: str) -> Path:
    if cand.prompt.from_:
        return suite.resolve_path(cand.prompt.from_, f"{field_prefix}.prompt.from")
    # Default: the train split next to the first dataset (evalsets/<name>/{train,test}.jsonl).
    first = next(iter(suite.dataset_paths().values()))
    guess = first.parent / "train.jsonl"
    if guess.exists():
        return guess
    raise ConfigError(f"{suite.source or suite.name}: {field_prefix}.prompt.from: required when few_shot > 0 "
                      f"(no train.jsonl beside {first})", hint="add prompt: {few_shot: 3, from: train.jsonl}")
