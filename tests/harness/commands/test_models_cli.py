"""``harness models``: init-tiny loads back like a hub model; show/merge errors; pull of a cached model."""

from __future__ import annotations

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
