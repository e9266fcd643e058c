"""Fixtures for the backend tests (a LoRA adapter of the tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_lora_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter of the tiny model trained for a few steps with peft."""
    from tests.harness.backends._support import make_lora_adapter

    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora") / "adapter")
