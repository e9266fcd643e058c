"""What a model name means: path, registered model (adapter + base), alias, hub id."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.models.names import resolve_adapter, resolve_model
from harness.store.models import ModelRecord, register_model
from harness.workspace import Workspace


def _adapter_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text('{"peft_type": "LORA", "base_model_name_or_path": "x"}')
    return path


def test_an_existing_path_is_taken_as_it_is_relative_to_base_dir_first(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "suite" / "m").mkdir(parents=True)
    (tmp_path / "cwd" / "m").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    assert resolve_model("m", base_dir=tmp_path / "suite").model == str(tmp_path / "suite" / "m")
    ref = resolve_model("m")
    assert (ref.model, ref.adapter, ref.source) == (str(tmp_path / "cwd" / "m"), None, "path")


def test_a_registered_adapter_resolves_to_its_base_and_folder(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    base = tmp_path / "base"
    base.mkdir()
    adapter = _adapter_folder(tmp_path / "ws" / "models" / "lora-a")
    register_model(ws.engine, ModelRecord(name="lora-a", path=str(adapter), base_model="some/hub-id",
                                          base_model_path=str(base), method="lora", adapter=True))
    register_model(ws.engine, ModelRecord(name="full-a", path=str(base), base_model="some/hub-id",
                                          method="full", adapter=False))
    ref = resolve_model("lora-a", workspace=ws)
    assert (ref.model, ref.adapter, ref.source, ref.record.name) == (str(base), str(adapter), "registry", "lora-a")
    full = resolve_model("full-a", workspace=ws)
    assert (full.model, full.adapter) == (str(base), None)
    assert resolve_adapter("lora-a", workspace=ws) == str(adapter)
    assert resolve_adapter("nope", workspace=ws) is None
    # Without a workspace a registry name is not looked up: it stays a hub id.
    assert resolve_model("lora-a").source == "hub"


def test_a_registered_adapter_whose_base_folder_is_gone_falls_back_to_its_base_name(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    adapter = _adapter_folder(tmp_path / "adapter")
    register_model(ws.engine, ModelRecord(name="lora-b", path=str(adapter), base_model="org/base-model",
                                          base_model_path=str(tmp_path / "deleted"), method="lora", adapter=True))
    ref = resolve_model("lora-b", workspace=ws)
    assert (ref.model, ref.adapter) == ("org/base-model", str(adapter))


def test_alias_and_hub_id(tiny_model_dir: Path) -> None:
    ref = resolve_model("tiny")
    assert (ref.model, ref.source) == (str(tiny_model_dir), "alias")
    hub = resolve_model("HuggingFaceTB/SomeModel")
    assert (hub.model, hub.adapter, hub.source) == ("HuggingFaceTB/SomeModel", None, "hub")


def test_load_model_loads_a_registered_adapter_over_its_base(tmp_path: Path, tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    from harness.models import load_model
    from tests.harness.backends._support import make_lora_adapter

    adapter = make_lora_adapter(tiny_model_dir, tmp_path / "adapter", steps=2)
    ws = Workspace.open(tmp_path / "ws")
    register_model(ws.engine, ModelRecord(name="lora-c", path=str(adapter), base_model="tiny",
                                          base_model_path=str(tiny_model_dir), method="lora", adapter=True))
    model, tokenizer = load_model("lora-c", workspace=ws)
    base, _ = load_model(str(tiny_model_dir))
    ids = tokenizer("hello there", return_tensors="pt")
    with torch.no_grad():
        gap = (model(**ids).logits - base(**ids).logits).abs().max().item()
    assert gap > 1e-4  # the adapter is applied: outputs differ from the plain base
