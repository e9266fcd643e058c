"""Helpers shared by the eval-runs tests: small eval sets, suites and a real LoRA adapter."""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Ada", "Bob", "Cyd", "Dee", "Eve", "Fay"]
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv"]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
          "required": ["name", "city"]}


def extract_example(i: int, rng: random.Random) -> dict:
    """One extraction line in the bundled-set format (varied prompt lengths)."""
    name, city = rng.choice(NAMES), rng.choice(CITIES)
    filler = " ".join(rng.choice(["today", "again", "please", "thanks", "note"]) for _ in range(rng.randint(0, 24)))
    return {"id": f"ex-{i}", "messages": [
        {"role": "system", "content": "Extract the person as JSON with keys name and city."},
        {"role": "user", "content": f"{name} moved to {city}. {filler}".strip()},
        {"role": "assistant", "content": json.dumps({"name": name, "city": city})}],
        "metadata": {"schema": SCHEMA, "category": city}}


def write_eval_set(folder: Path, *, n_train: int = 20, n_test: int = 12, seed: int = 0) -> Path:
    """Write ``train.jsonl`` and ``test.jsonl`` into ``folder``; returns the folder."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [extract_example(i, rng) for i in range(n_train + n_test)]
    for split, part in (("train", rows[:n_train]), ("test", rows[n_train:])):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    return folder


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    """Write a suite YAML file; returns its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def make_lora_adapter(base_dir: Path, out_dir: Path, *, steps: int = 8, seed: int = 0) -> Path:
    """Train a small LoRA (q/v, r=8) on the tiny model for a few steps and save it with peft."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0, task_type="CAUSAL_LM"))
    rng = random.Random(seed)
    texts = []
    for i in range(32):
        ex = extract_example(i, rng)
        texts.append(tokenizer.apply_chat_template(ex["messages"], tokenize=False))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    tokenizer.padding_side = "right"
    model.train()
    for step in range(steps):
        batch = tokenizer(texts[(step * 8) % 32:(step * 8) % 32 + 8], return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    return out_dir
