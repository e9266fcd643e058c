"""Full fine-tuning on the tiny model saves full weights that load back for generation."""

from __future__ import annotations

from pathlib import Path

from trainers.api import train


def test_full_fine_tuning_saves_a_loadable_model(make_config, tmp_path):
    from harness.models.loading import load_for_generation, needs_no_cache

    record = train(make_config(name="full-tiny", method="full", lr=1e-3, max_steps=8, eval_steps=4),
                   tmp_path, say=lambda _m: None)
    assert record.method == "full" and record.adapter is False and record.adapter_size_bytes is None
    assert record.trainable_params == record.total_params
    folder = Path(record.path)
    assert (folder / "model.safetensors").exists() and not (folder / "adapter_config.json").exists()
    model, tokenizer = load_for_generation(record.path)
    assert not needs_no_cache(model) and tokenizer.padding_side == "left"
    batch = tokenizer(["Extract name and city as JSON: Ada lives in Rome."], return_tensors="pt")
    import torch
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=4, do_sample=False, eos_token_id=None)
        ids, expected = batch["input_ids"], []
        for _ in range(4):  # the reference: argmax of a full forward pass, one token at a time
            expected.append(int(model(input_ids=ids).logits[0, -1].argmax()))
            ids = torch.cat([ids, torch.tensor([[expected[-1]]])], dim=1)
        base = AutoModelForCausalLM.from_pretrained(record.base_model_path).eval()
        gap = (model(**batch).logits - base(**batch).logits).abs().max().item()
    assert out[0, batch["input_ids"].shape[1]:].tolist() == expected
    assert gap > 1e-3  # the saved weights are the fine-tuned ones, not the base model's
