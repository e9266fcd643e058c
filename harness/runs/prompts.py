"""Datasets and prompts: read chat-JSONL eval sets and build each candidate's messages.

An eval line is ``{"id", "messages", "metadata"}``; the last assistant message is the reference
and everything before it is the conversation the model answers. A candidate's prompt recipe
(system prompt, k few-shot examples drawn with a seed from a training split) is applied on top.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError


@dataclass(frozen=True)
class EvalItem:
    """One eval example: the conversation before the answer, the reference and metadata."""

    id: str
    context: tuple[dict[str, str], ...]
    reference: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema carried by extraction examples, if any."""
        value = self.metadata.get("schema")
        return value if isinstance(value, dict) else None

    @property
    def label(self) -> str | None:
        """The class label carried by classification examples, if any."""
        value = self.metadata.get("label")
        return None if value is None else str(value)


def _parse_line(obj: dict[str, Any], path: Path, line: int) -> EvalItem:
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{path}:{line}: 'messages' must be a non-empty list of {{role, content}}",
                        hint="run `harness data validate` on the file for a full report")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) or not isinstance(msg.get("content"), str):
            raise DataError(f"{path}:{line}: messages[{i}] must be an object with string 'role' and 'content'")
    if messages[-1]["role"] != "assistant":
        raise DataError(f"{path}:{line}: the last message must be the assistant's reference answer",
                        hint="eval lines end with the expected assistant message")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DataError(f"{path}:{line}: 'metadata' must be an object")
    ident = obj.get("id")
    ident = str(ident) if ident is not None else f"line-{line}"
    context = tuple({"role": m["role"], "content": m["content"]} for m in messages[:-1])
    return EvalItem(id=ident, context=context, reference=messages[-1]["content"], metadata=metadata)


def load_dataset(path: Path, *, limit: int | None = None) -> list[EvalItem]:
    """The first ``limit`` (all when None) examples of a chat-JSONL file; ids must be unique."""
    from harness.data.reader import read_objects

    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for line, obj in read_objects(path):
        item = _parse_line(obj, path, line)
        if item.id in seen:
            raise DataError(f"{path}:{line}: duplicate id {item.id!r} (first on line {seen[item.id]})",
                            hint="ids must be unique within an eval set")
        seen[item.id] = line
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise DataError(f"{path}: no examples", hint="an eval set needs at least one line")
    return items


def sample_few_shot(path: Path, k: int, seed: int, *, exclude_ids: set[str] | None = None) -> list[EvalItem]:
    """Return k examples drawn with ``seed`` from a training file, in prompt order ([] when k <= 0)."""
    if k <= 0:
        return []
    pool = [item for item in load_dataset(path) if item.id not in (exclude_ids or set())]
    if len(pool) < k:
        raise DataError(f"{path}: few_shot asks for {k} examples but the file has {len(pool)} usable",
                        hint="lower few_shot or point prompt.from at a larger training split")
    return random.Random(seed).sample(pool, k)


def shot_turns(examples: list[EvalItem]) -> list[dict[str, str]]:
    """Return the examples as alternating user/assistant turns (their reference as the assistant turn)."""
    turns: list[dict[str, str]] = []
    for item in examples:
        turns.extend(m for m in item.context if m["role"] != "system")
        turns.append({"role": "assistant", "content": item.reference})
    return turns


def draw_few_shot(path: Path, k: int, seed: int, *, exclude_ids: set[str] | None = None) -> list[dict[str, str]]:
    """k examples drawn with ``seed`` from a training file, as alternating user/assistant turns."""
    return shot_turns(sample_few_shot(path, k, seed, exclude_ids=exclude_ids))


def build_messages(item: EvalItem, *, system: str | None, shots: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages a candidate sees: system prompt (the candidate's replaces the example's),
    then few-shot turns, then the example's conversation."""
    own_system = [m for m in item.context if m["role"] == "system"]
    rest = [m for m in item.context if m["role"] != "system"]
    head = [{"role": "system", "content": system}] if system else own_system
    return [*head, *shots, *rest]


def prompt_hash(messages: list[dict[str, str]]) -> str:
    """Stable hash of a rendered conversation (cache key part)."""
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
