"""``harness models``: init-tiny loads back like a hub model; show/merge errors; pull of a cached model."""

from __future__ import annotations

import json
from pathlib import Path


def test_init_tiny_builds_a_folder_that_loads_with_auto_classes(cli, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = tmp_path / "tiny"
    result = cli("models", "init-tiny", target, "--pretrain-steps", "5")
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()) == target
    model = AutoModelForCausalLM.from_pretrained(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    assert model.config.model_type == "llama" and tokenizer.eos_token == "<|im_end|>"
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"  # ChatML
    again = cli("models", "init-tiny", target)
    assert again.exit_code == 2 and "not empty" in again.stderr


def test_show_and_merge_of_unknown_model_name_the_problem(cli):
    result = cli("models", "show", "ghost")
    assert result.exit_code == 2 and "no model named 'ghost'" in result.stderr
    result = cli("models", "merge", "ghost")
    assert result.exit_code == 2 and "no model named 'ghost'" in result.stderr


def test_pull_of_a_cached_model_prints_its_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_MODEL_CACHE", str(tmp_path))
    (tmp_path / "smollm2-135m-instruct").mkdir()
    (tmp_path / "smollm2-135m-instruct" / "config.json").write_text("{}")
    result = cli("models", "pull", "smollm2-135m-instruct")
    assert result.exit_code == 0 and result.stdout.strip() == str(tmp_path / "smollm2-135m-instruct")
    assert cli("models", "pull", "nonsense").exit_code == 2


def test_merge_refuses_an_output_folder_that_holds_data_or_an_input(cli, tmp_path, workspace_dir):
    from harness.store.models import ModelRecord, register_model
    from harness.workspace import Workspace

    base = tmp_path / "models" / "base"
    adapter = tmp_path / "models" / "lora"
    for folder in (base, adapter):
        folder.mkdir(parents=True)
    (base / "config.json").write_text("{}")
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA",
                                                             "base_model_name_or_path": str(base)}))
    ws = Workspace.open(workspace_dir)
    register_model(ws.engine, ModelRecord(name="fake", path=str(adapter), base_model="b", method="lora",
                                          adapter=True))
    ws.close()
    for out, words in [(adapter, "is the input"), (adapter / "sub", "lies inside the input"),
                       (tmp_path / "models", "holds the input"), (base, "is the input"),
                       (base / "merged", "lies inside the input")]:
        result = cli("models", "merge", "fake", "--out", out, "--force")
        assert result.exit_code == 2 and words in result.stderr, (out, result.stderr)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    result = cli("models", "merge", "fake", "--out", busy)
    assert result.exit_code == 2 and "not empty" in result.stderr and "--force" in result.stderr
    (tmp_path / "a-file").write_text("x")
    result = cli("models", "merge", "fake", "--out", tmp_path / "a-file", "--force")
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr
    assert (busy / "keep.txt").read_text() == "mine" and (adapter / "adapter_config.json").exists()
    assert (base / "config.json").exists() and (tmp_path / "a-file").read_text() == "x"
