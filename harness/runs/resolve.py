"""Turn a suite candidate into a concrete backend spec: local paths, aliases, registry names.

``model`` and ``adapter`` mean what :func:`harness.models.names.resolve_model` says (a local path
relative to the suite file or cwd, a model registered in the workspace, an alias such as
``smollm2-135m-instruct`` or ``tiny``, or a hub id); a backend whose capabilities say a server
resolves its own model names (``local_models=False``) gets ``model`` as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BackendSpec, GenerationSettings, backend_capabilities, check_backend_spec
from harness.errors import ConfigError, HarnessError

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
    shot_ids: list[str] = field(default_factory=list)  # the drawn examples' ids, in prompt order

    def describe(self) -> dict[str, Any]:
        """JSON-able description (written into ``suite.json`` as ``resolved``)."""
        return {"backend": self.backend, "model": self.spec.model, "adapter": self.spec.adapter,
                "base_url": self.spec.base_url, "fallback_model": self.spec.fallback_model,
                "few_shot_source": self.few_shot_source, "few_shot_examples": len(self.shots) // 2 or 0}


def resolve_candidate(suite: Suite, cand: CandidateSpec, workspace: Workspace | None,
                      index: int) -> ResolvedCandidate:
    """Resolve one candidate (paths, registry, aliases, few-shot turns)."""
    from harness.models.names import ModelNotFoundError, resolve_adapter, resolve_model
    from harness.runs.prompts import sample_few_shot, shot_turns

    field_prefix = f"candidates[{index}]"
    adapter = None
    if not backend_capabilities(cand.backend).local_models:
        model = cand.model
    else:
        try:
            ref = resolve_model(cand.model, workspace=workspace, base_dir=suite.base_dir)
        except ModelNotFoundError as exc:  # say which candidate of the suite names it
            raise ConfigError(f"{suite.source or suite.name}: {field_prefix}.model: {exc.message}",
                              hint=exc.hint) from None
        model, adapter = ref.model, ref.adapter
    if cand.adapter:
        adapter = resolve_adapter(cand.adapter, workspace=workspace, base_dir=suite.base_dir)
        if adapter is None:
            raise ConfigError(f"{suite.source or suite.name}: {field_prefix}.adapter: {cand.adapter!r} is neither "
                              "a folder nor a registered model", hint="pass an adapter folder or a name from "
                              "`harness models list`")
    shots: list[dict[str, str]] = []
    shot_ids: list[str] = []
    source = None
    if cand.prompt.few_shot:
        source_path = _few_shot_source(suite, cand, field_prefix)
        seed = cand.prompt.seed if cand.prompt.seed is not None else suite.generation.seed
        examples = sample_few_shot(source_path, cand.prompt.few_shot, seed)
        shots, shot_ids = shot_turns(examples), [item.id for item in examples]
        source = str(source_path)
    gen = suite.generation
    settings = GenerationSettings(max_new_tokens=gen.max_new_tokens, temperature=gen.temperature,
                                  top_p=gen.top_p, seed=gen.seed, stop=tuple(gen.stop))
    spec = BackendSpec(model=model, adapter=adapter, base_url=cand.base_url, fallback_model=cand.fallback_model,
                       settings=settings, options=dict(cand.options))
    try:
        check_backend_spec(cand.backend, spec)  # e.g. an API key over plain http: refused before any generation
    except HarnessError as exc:
        raise ConfigError(f"{suite.source or suite.name}: {field_prefix}: {exc.message}", hint=exc.hint) from None
    return ResolvedCandidate(name=cand.name, backend=cand.backend, spec=spec, system=cand.prompt.system,
                             shots=shots, few_shot_source=source, shot_ids=shot_ids)


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
