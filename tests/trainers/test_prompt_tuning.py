"""Prompt tuning trains, and generation from the prompt-tuned model matches its forward pass."""

from __future__ import annotations

import pytest

from trainers.api import train


@pytest.fixture(scope="module")
def prompt_tuned(tmp_path_factory, tiny_model_dir, extract_files):
    from trainers.config import config_from_dict

    config = config_from_dict({
        "name": "pt", "base_model": str(tiny_model_dir), "method": "prompt_tuning",
        "train_file": str(extract_files["train"]), "val_file": str(extract_files["val"]),
        "batch_size": 8, "effective_batch_size": 8, "max_steps": 6, "eval_steps": 3, "warmup_steps": 0,
        "max_length": 128, "progress": False, "prompt_tuning": {"num_virtual_tokens": 8}})
    return train(config, tmp_path_factory.mktemp("ws"), say=lambda _m: None)


def test_prompt_tuning_trains_only_the_soft_prompt(prompt_tuned):
    assert prompt_tuned.method == "prompt_tuning" and prompt_tuned.adapter
    assert prompt_tuned.trainable_params == 8 * 128  # 8 virtual tokens x hidden size 128
    import json
    from pathlib import Path

    curve = [json.loads(line) for line in Path(prompt_tuned.curves_path).read_text().splitlines()]
    val = [row["val_loss"] for row in curve if "val_loss" in row]
    assert len(val) == 2 and prompt_tuned.best_val_loss == min(val)  # evaluated at steps 3 and 6


def test_generation_matches_greedy_argmax_of_the_forward_pass(prompt_tuned):
    import torch

    from harness.models.loading import load_for_generation, needs_no_cache

    model, tokenizer = load_for_generation(prompt_tuned.path)
    assert needs_no_cache(model) and model.generation_config.use_cache is False
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Extract name and city as JSON: Eve lives in Oslo."}],
                                           tokenize=False, add_generation_prompt=True)
    batch = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    steps = 12
    with torch.no_grad():
        generated = model.generate(**batch, max_new_tokens=steps, do_sample=False,
                                   eos_token_id=None, pad_token_id=tokenizer.pad_token_id)
        new_tokens = generated[0, batch["input_ids"].shape[1]:].tolist()
        ids = batch["input_ids"]
        expected = []
        for _ in range(steps):  # the reference: argmax of a full forward pass, one token at a time
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            token = int(logits[0, -1].argmax())
            expected.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert new_tokens == expected
