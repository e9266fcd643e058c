"""Full fine-tuning on the tiny model saves full weights that load back for generation."""

from __future__ import annotations

from pathlib import Path

from trainers.api import train


def test_full_fine_tuning_saves_a_loadable_model(make_config, tmp_path):
    from trainers.generation import load_for_generation, needs_no_cache

    record = train(make_config(name="full-tiny", method="full", lr=1e-3, max_steps=8, eval_steps=4),
                   tmp_path, say=lambda _m: None)
    assert record.method == "full" and record.adapter is False and record.adapter_size_bytes is None
    assert record.trainable_params == record.total_params
    folder = Path(record.path)
    assert (folder / "model.safetensors").exists() and not (folder / "adapter_config.json").exists()
    model, tokenizer = load_for_generation(record)
    assert not needs_no_cache(model) and tokenizer.padding_side == "left"
    batch = tokenizer(["Extract name and city as JSON: Ada lives in Rome."], return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == batch["input_ids"].shape[1] + 4 or tokenizer.eos_token_id in out[0].tolist()
