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


def write_prompts(run_dir: Path, prompts: dict[str, list[dict[str, str]]]) -> None:
    """Write ``prompts.jsonl``: one ``{"prompt_hash", "messages"}`` line per distinct prompt of the run."""
    write_jsonl(run_dir / PROMPTS_FILE, [{"prompt_hash": key, "messages": messages} for key, messages in prompts.items()])
