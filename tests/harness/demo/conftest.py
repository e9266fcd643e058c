"""Fixtures for the demo stage tests: a small extraction set and a LoRA adapter of the tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def extract_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train (96) / val (16) / test (12) JSONL files of a small synthetic extraction task."""
    from tests.harness.backends._support import extract_example

    rng = random.Random(1)
    folder = tmp_path_factory.mktemp("extract")
    rows = [extract_example(i, rng) for i in range(124)]
    files = {}
    for split, part in (("train", rows[:96]), ("val", rows[96:112]), ("test", rows[112:])):
        files[split] = folder / f"{split}.jsonl"
        files[split].write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    return files


@pytest.fixture(scope="session")
def tiny_lora_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter of the tiny model trained for a few steps with peft."""
    from tests.harness.backends._support import make_lora_adapter

    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora") / "adapter")
