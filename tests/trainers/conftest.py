"""Fixtures for the trainer tests: a small synthetic extraction set and a config factory on the tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

NAMES = ["Ada", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lea"]
CITIES = ["London", "Paris", "Rome", "Oslo", "Lima", "Cairo", "Seoul", "Quito"]


def extraction_examples(n: int, *, seed: int = 0) -> list[dict]:
    """``n`` chat examples: extract name and city from a sentence as JSON."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        name, city = rng.choice(NAMES), rng.choice(CITIES)
        text = f"{name} lives in {city}."
        answer = json.dumps({"name": name, "city": city})
        rows.append({"id": f"ex-{seed}-{i}", "messages": [
            {"role": "user", "content": f"Extract name and city as JSON: {text}"},
            {"role": "assistant", "content": answer}], "metadata": {}})
    return rows


def has_cuda() -> bool:
    """True on a machine with a CUDA GPU (the `gpu`-marked tests run there)."""
    import torch

    return torch.cuda.is_available()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def extract_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train/val JSONL files of the synthetic extraction task."""
    folder = tmp_path_factory.mktemp("extract")
    return {"train": write_jsonl(folder / "train.jsonl", extraction_examples(96, seed=1)),
            "val": write_jsonl(folder / "val.jsonl", extraction_examples(16, seed=2))}


@pytest.fixture
def make_config(tiny_model_dir: Path, extract_files: dict[str, Path]):
    """Build a validated TrainConfig on the tiny model with small, fast settings (overridable)."""
    from trainers.config import config_from_dict

    def build(**overrides):
        data = {"name": "cand", "base_model": str(tiny_model_dir), "method": "lora",
                "train_file": str(extract_files["train"]), "val_file": str(extract_files["val"]),
                "batch_size": 8, "effective_batch_size": 8, "max_steps": 12, "eval_steps": 4,
                "warmup_steps": 0, "max_length": 128, "progress": False,
                "lora": {"r": 8, "alpha": 16, "target_modules": "all-linear"}}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return config_from_dict(data)

    return build
