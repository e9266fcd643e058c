"""What a run folder keeps so another tool can reproduce each example (like lm-eval's ``--log_samples``).

Every predictions line carries ``prompt_hash`` (the generation cache's key for the rendered chat
messages) and ``few_shot_ids`` (the ids of the drawn few-shot examples, in prompt order); the run's
``prompts.jsonl`` holds each distinct prompt once: ``{"prompt_hash", "messages"}``. The messages are
what a backend receives; a local backend turns them into text with the model's chat template
(``tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)``), whose
files are part of the model fingerprint.
"""

from __future__ import annotations

from pathlib import Path

from harness.io import write_jsonl

PROMPTS_FILE = "prompts.jsonl"


def few_shot_ids(shots: list[dict[str, str]], source: str | None) -> list[str]:
    """The ids of the examples of ``source`` whose turns make up ``shots``, in order.

    ``shots`` is the turn list a candidate's prompt recipe drew (each example's non-system turns, then
    its reference as the assistant turn). Returns [] without shots; an example that matches nothing in
    ``source`` is listed as ``"?"`` (the file changed since the draw).
    """
    if not shots or not source:
        return []
    from harness.runs.prompts import load_dataset

    blocks: dict[tuple[tuple[str, str], ...], str] = {}
    for item in load_dataset(Path(source)):
        turns = [(m["role"], m["content"]) for m in item.context if m["role"] != "system"]
        blocks.setdefault((*turns, ("assistant", item.reference)), item.id)
    lengths = sorted({len(block) for block in blocks}, reverse=True)
    ids: list[str] = []
    position = 0
    flat = [(m["role"], m["content"]) for m in shots]
    while position < len(flat):
        match = next(((length, blocks[key]) for length in lengths
                      if (key := tuple(flat[position:position + length])) in blocks), None)
        if match is None:  # skip to the next assistant turn: the end of this example
            ids.append("?")
            position = next((i + 1 for i in range(position, len(flat)) if flat[i][0] == "assistant"), len(flat))
            continue
        ids.append(match[1])
        position += match[0]
    return ids


def write_prompts(run_dir: Path, prompts: dict[str, list[dict[str, str]]]) -> None:
    """Write ``prompts.jsonl``: one ``{"prompt_hash", "messages"}`` line per distinct prompt of the run."""
    write_jsonl(run_dir / PROMPTS_FILE, [{"prompt_hash": key, "messages": messages} for key, messages in prompts.items()])
