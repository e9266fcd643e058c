"""Shared data path for every method: chat rendering with an assistant-only loss mask, and collation.

:func:`render_conversation` builds the token ids and the loss mask together (nanochat's shape): the
conversation is rendered with the tokenizer's own chat template, and for each assistant turn the
character span between "prefix + generation prompt" and "prefix + this turn" is the part the model
learns. Token offsets map that span onto tokens, so BPE merges at the boundary cannot shift it. It
asserts the two classic failures: an example without assistant tokens, and an end-of-turn / EOS
token outside the loss mask (a model that never learns to stop).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError

IGNORE_INDEX = -100


@dataclass(frozen=True)
class RenderedExample:
    """Token ids, labels (``-100`` outside assistant turns) and the example id."""

    id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def assistant_tokens(self) -> int:
        """Number of tokens the loss is computed on."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class RenderReport:
    """Counts of the rendering pass: kept, dropped / truncated for length, and token totals."""

    total: int = 0
    kept: int = 0
    dropped_overlength: int = 0
    truncated: int = 0
    dropped_no_assistant_after_truncation: int = 0
    tokens: int = 0
    assistant_tokens: int = 0
    dropped_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-able dict (the ids are capped at 20)."""
        data = dict(self.__dict__)
        data["dropped_ids"] = self.dropped_ids[:20]
        return data


def _render_text(tokenizer, messages: Sequence[dict], *, generation_prompt: bool) -> str:
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)
    if not isinstance(text, str):  # some tokenizers return a list for batched input
        text = text[0]
    return text


def end_of_turn_ids(tokenizer) -> set[int]:
    """Token ids that end an assistant turn: EOS plus ``<|im_end|>`` / ``<|eot_id|>`` / ``<end_of_turn>`` if known."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    vocab = tokenizer.get_vocab()
    for token in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"):
        if token in vocab:
            ids.add(vocab[token])
    return ids


def render_conversation(tokenizer, messages: Sequence[dict], *, example_id: str = "?",
                        stops: set[int] | None = None) -> RenderedExample:
    """Render ``messages`` with the chat template; returns ids and labels masked to assistant tokens.

    ``stops`` is :func:`end_of_turn_ids` of the tokenizer, computed once by a caller that renders many
    examples (reading the vocabulary costs ~70 ms on a 49k-token tokenizer).

    Raises :class:`DataError` when there is no assistant turn, when the template renders a prefix
    differently from the full conversation, or when no end-of-turn/EOS token is in the loss mask.
    """
    if not any(m.get("role") == "assistant" for m in messages):
        raise DataError(f"example {example_id}: no assistant message to learn from",
                        hint="every training example needs at least one assistant turn")
    full = _render_text(tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prefix = _render_text(tokenizer, messages[:index], generation_prompt=True) if index else ""
        through = _render_text(tokenizer, messages[: index + 1], generation_prompt=False)
        if not through.startswith(prefix) or not full.startswith(through):
            raise DataError(
                f"example {example_id}: the chat template renders turn {index} differently in a prefix "
                "than in the whole conversation, so assistant tokens cannot be located",
                hint="use a tokenizer whose chat template renders conversations prefix by prefix (ChatML, Llama)",
            )
        spans.append((len(prefix), len(through)))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoded["input_ids"])
    labels = [IGNORE_INDEX] * len(input_ids)
    for position, (start, end) in enumerate(encoded["offset_mapping"]):
        if end > start and any(lo <= start < hi for lo, hi in spans):
            labels[position] = input_ids[position]
    rendered = RenderedExample(str(example_id), input_ids, labels)
    if rendered.assistant_tokens == 0:
        raise DataError(f"example {example_id}: the assistant turns render to no tokens",
                        hint="check that assistant messages have content")
    stops = end_of_turn_ids(tokenizer) if stops is None else stops
    if not any(label in stops for label in labels if label != IGNORE_INDEX):
        names = ", ".join(sorted(tokenizer.convert_ids_to_tokens(sorted(stops)))) or "(no eos_token set)"
        raise DataError(
            f"example {example_id}: no end-of-turn/EOS token ({names}) is inside the assistant loss mask; "
            "the model would never learn to stop",
            hint="use a chat template that closes each assistant turn with the tokenizer's eos_token",
        )
    return rendered


def render_dataset(tokenizer, examples: Sequence[dict], *, max_length: int,
                   overlength: str = "drop") -> tuple[list[RenderedExample], RenderReport]:
    """Render every example and apply the overlength policy; returns the kept examples and the counts."""
    report = RenderReport(total=len(examples))
    kept: list[RenderedExample] = []
    stops = end_of_turn_ids(tokenizer)
    for number, example in enumerate(examples, start=1):
        example_id = str(example.get("id", number))
        messages = example.get("messages")
        if not isinstance(messages, list):
            raise DataError(f"example {example_id}: `messages` must be a list of {{role, content}} objects")
        rendered = render_conversation(tokenizer, messages, example_id=example_id, stops=stops)
        if len(rendered.input_ids) > max_length:
            if overlength == "error":
                raise DataError(
                    f"example {example_id}: {len(rendered.input_ids)} tokens, over max_length={max_length}",
                    hint="raise max_length, or set overlength=drop or overlength=truncate")
            if overlength == "drop":
                report.dropped_overlength += 1
                report.dropped_ids.append(example_id)
                continue
            rendered = RenderedExample(example_id, rendered.input_ids[:max_length], rendered.labels[:max_length])
            report.truncated += 1
            if rendered.assistant_tokens == 0:
                report.dropped_no_assistant_after_truncation += 1
                report.dropped_ids.append(example_id)
                continue
        kept.append(rendered)
        report.tokens += len(rendered.input_ids)
        report.assistant_tokens += rendered.assistant_tokens
    report.kept = len(kept)
    if not kept:
        raise DataError(f"no training examples left after rendering ({report.to_dict()})",
                        hint="raise max_length or use overlength=truncate")
    return kept, report


@dataclass
class PaddingCollator:
    """Pads a batch on the right: ``input_ids`` with ``pad_id``, ``labels`` with -100, plus the attention mask."""

    pad_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        """Return a dict of ``torch.long`` tensors: input_ids, attention_mask, labels."""
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"], dtype=torch.long)
            labels[row, :n] = torch.tensor(item["labels"], dtype=torch.long)
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def as_features(examples: Sequence[RenderedExample]) -> list[dict[str, list[int]]]:
    """The rendered examples as the dicts the Trainer's dataloader hands to :class:`PaddingCollator`."""
    return [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]


# loading examples -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SkippedLines:
    """The lines of one data file left out by ``skip_invalid``: how many, by problem code, and the first few."""

    file: str
    count: int
    by_code: dict[str, int]
    first: list[dict[str, Any]]  # {"line", "code", "message"} of the first 20

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape stored in the model's lineage (``data.skipped_invalid``)."""
        return {"file": self.file, "count": self.count, "by_code": self.by_code, "first": self.first}


def read_examples(path: str | Path, *, field_name: str = "train_file",
                  skip_invalid: bool = False) -> tuple[list[dict], SkippedLines | None]:
    """The chat examples of a JSONL file, each line checked by the validator of ``harness data validate``.

    Returns ``(rows, skipped)``. A line with an error (unreadable, invalid JSON, unknown role, messages
    out of order, non-string content...) raises :class:`DataError` naming the file and lines, unless
    ``skip_invalid``: then it is left out and counted in ``skipped`` (None when nothing was skipped).
    Exact duplicates are kept (they are errors for ``data validate``, but usable for training).
    """
    from collections import Counter

    from harness.data.reader import iter_lines, parse_line
    from harness.data.validate import check_example

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config field `{field_name}`: {path} does not exist",
                          hint="point it at a chat JSONL file (lines of {\"id\", \"messages\"})")
    if path.is_dir():
        raise ConfigError(f"config field `{field_name}`: {path} is a folder",
                          hint="point it at a chat JSONL file (lines of {\"id\", \"messages\"})")
    rows: list[dict] = []
    problems = []
    for raw in iter_lines(path):
        obj, problem = parse_line(raw)
        found = [problem] if problem is not None else [p for p in check_example(obj, raw.number)
                                                       if p.severity == "error"]
        if found:
            problems.extend(found)
            continue
        obj.setdefault("id", f"{path.stem}-{raw.number}")
        rows.append(obj)
    skipped = None
    if problems:
        first_of_line: dict[int, Any] = {}
        for p in problems:
            first_of_line.setdefault(p.line, p)
        by_code = dict(Counter(p.code for p in first_of_line.values()).most_common())
        first = next(iter(first_of_line.values()))
        if not skip_invalid:
            codes = ", ".join(f"{code} {n}" for code, n in by_code.items())
            raise DataError(f"{path} (`{field_name}`): {len(first_of_line)} of {len(first_of_line) + len(rows)} "
                            f"examples fail validation ({codes}); first, line {first.line}: {first.message}",
                            hint=f"fix them (`harness data validate {path}` lists every problem), or set "
                                 "skip_invalid=true (harness train --skip-invalid) to train on the valid lines only",
                            exit_code=1)
        skipped = SkippedLines(str(path), len(first_of_line), by_code,
                               [p.to_dict() for p in list(first_of_line.values())[:20]])
    if not rows:
        raise DataError(f"{path}: no valid examples" if problems else f"{path}: no examples",
                        hint="the file is empty" if not problems else
                        f"every line fails validation: see `harness data validate {path}`", exit_code=1)
    return rows, skipped


def load_examples(path: str | Path, *, field_name: str = "train_file") -> list[dict]:
    """Read chat examples from a JSONL file; an invalid line is a :class:`DataError` naming the file and line."""
    return read_examples(path, field_name=field_name)[0]


def mix_in(train: list[dict], general: list[dict], fraction: float, *, seed: int) -> tuple[list[dict], int]:
    """Add general examples so they make up ``fraction`` of the result; returns (mixed, number added)."""
    if fraction <= 0 or not general:
        return list(train), 0
    wanted = round(len(train) * fraction / (1.0 - fraction))
    rng = random.Random(seed)
    pool = list(general)
    rng.shuffle(pool)
    added = [pool[i % len(pool)] for i in range(wanted)]
    mixed = list(train) + added
    rng.shuffle(mixed)
    return mixed, len(added)


def default_general_file() -> Path:
    """Return the bundled ``general`` set's ``train.jsonl`` (the default mix-in source)."""
    import evalsets

    return evalsets.split_files("general")["train"]
